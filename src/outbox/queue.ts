import type { Bindings } from "../env";
import type { WebhookJob } from "../jobs";
import { log } from "../lib/log";
import { attemptDelivery } from "./deliver";
import { dispatchOrg } from "./dispatch";

/** Deliveries of one batch attempted at once (each waits on its receiver, up to WEBHOOK_TIMEOUT_MS). */
export const DELIVERIES_AT_ONCE = 25;

/**
 * WEBHOOK_QUEUE's consumer. Dispatch jobs run first, once per org (each run takes every
 * undispatched row of the org); then the batch's deliveries, DELIVERIES_AT_ONCE at a time,
 * since one slow receiver must not hold up the others (an attempt's lease keeps any one
 * delivery to one attempt at a time). A job that throws (D1 or the queue in trouble) is
 * retried by the runtime; a receiver's failure is the delivery's business, never a throw.
 */
export async function handleWebhookBatch(batch: MessageBatch<WebhookJob>, env: Bindings) {
  const run = async (message: Message<WebhookJob>, work: () => Promise<unknown>) => {
    try {
      await work();
      message.ack();
    } catch (e) {
      log("error", "webhook_job_failed", { job: message.body, attempts: message.attempts, error: String(e) });
      message.retry({ delaySeconds: 5 * message.attempts });
    }
  };
  const dispatched = new Set<string>();
  const deliveries: Message<WebhookJob>[] = [];
  for (const message of batch.messages) {
    const job = message.body;
    if (job.kind === "deliver") {
      deliveries.push(message);
      continue;
    }
    if (dispatched.has(job.orgId)) {
      message.ack();
      continue;
    }
    dispatched.add(job.orgId);
    await run(message, () => dispatchOrg(env, job.orgId));
  }
  for (let i = 0; i < deliveries.length; i += DELIVERIES_AT_ONCE) {
    await Promise.all(
      deliveries.slice(i, i + DELIVERIES_AT_ONCE).map((message) => {
        const job = message.body as Extract<WebhookJob, { kind: "deliver" }>;
        return run(message, () => attemptDelivery(env, job));
      }),
    );
  }
}
