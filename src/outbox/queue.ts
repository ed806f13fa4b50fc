import type { Bindings } from "../env";
import type { WebhookJob } from "../jobs";
import { log } from "../lib/log";
import { attemptDelivery } from "./deliver";
import { dispatchOrg } from "./dispatch";

/**
 * WEBHOOK_QUEUE's consumer. Dispatch jobs of one org in a batch run once (each run takes
 * every undispatched row). A job that throws (D1 or the queue in trouble) is retried by the
 * runtime; a receiver's failure is the delivery's business, never a throw.
 */
export async function handleWebhookBatch(batch: MessageBatch<WebhookJob>, env: Bindings) {
  const dispatched = new Set<string>();
  for (const message of batch.messages) {
    const job = message.body;
    try {
      if (job.kind === "dispatch") {
        if (!dispatched.has(job.orgId)) await dispatchOrg(env, job.orgId);
        dispatched.add(job.orgId);
      } else {
        await attemptDelivery(env, job);
      }
      message.ack();
    } catch (e) {
      log("error", "webhook_job_failed", { job, attempts: message.attempts, error: String(e) });
      message.retry({ delaySeconds: 5 * message.attempts });
    }
  }
}
