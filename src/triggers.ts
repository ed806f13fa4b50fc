import type { Bindings } from "./env";
import type { AiJob, SendJob, WebhookJob } from "./jobs";
import { log } from "./lib/log";
import { handleWebhookBatch } from "./outbox/queue";
import { pruneWebhooks } from "./outbox/retention";
import { sweepWebhooks } from "./outbox/sweep";
import { handleSendBatch } from "./sending/queue";
import { requeueLostSends, sweepStuckSends } from "./sending/sweep";
import { handleAiBatch } from "./setter/jobs";

// Everything that reaches the Worker besides HTTP, dispatched by exact name. The names are
// wrangler.toml's ([[queues.consumers]] queue, [triggers] crons); test/triggers.test.ts
// reads that file and fails when the two disagree, so they cannot drift apart silently.

/** One consumer per queue this Worker consumes. */
export const QUEUE_CONSUMERS: Record<string, (batch: MessageBatch<unknown>, env: Bindings) => Promise<void>> = {
  "inbox-send": (batch, env) => handleSendBatch(batch as MessageBatch<SendJob>, env),
  "inbox-ai": (batch, env) => handleAiBatch(batch as MessageBatch<AiJob>, env),
  "inbox-webhooks": (batch, env) => handleWebhookBatch(batch as MessageBatch<WebhookJob>, env),
};

/** One job per Cron Trigger schedule. */
export const CRON_JOBS: Record<string, (env: Bindings) => Promise<unknown>> = {
  "*/5 * * * *": async (env) => ({ sending: await sweepStuckSends(env), lost: await requeueLostSends(env) }),
  "* * * * *": (env) => both(sweepWebhooks(env), pruneWebhooks(env)),
};

/** The webhook sweep and the prune, each whatever the other does; a failure of either still fails the run (logged by the runtime). */
async function both(sweep: Promise<object>, prune: Promise<object>) {
  const [swept, pruned] = await Promise.allSettled([sweep, prune]);
  if (swept.status === "rejected") throw swept.reason;
  if (pruned.status === "rejected") throw pruned.reason;
  return { ...swept.value, pruned: pruned.value };
}

const lookup = <T>(table: Record<string, T>, name: string) => (Object.hasOwn(table, name) ? table[name] : undefined);

/**
 * A batch from a queue we do not know throws: the runtime retries it and, after
 * max_retries, moves it to that queue's dead-letter queue, where it can be inspected.
 * Another consumer would have acked (lost) or misread its jobs.
 */
export function consumeQueue(batch: MessageBatch<unknown>, env: Bindings) {
  const consumer = lookup(QUEUE_CONSUMERS, batch.queue);
  if (!consumer) {
    log("error", "queue_unknown", { queue: batch.queue, messages: batch.messages.length });
    throw new Error(`No consumer for queue "${batch.queue}"`);
  }
  return consumer(batch, env);
}

export async function runCron(controller: ScheduledController, env: Bindings) {
  const job = lookup(CRON_JOBS, controller.cron);
  if (!job) {
    log("error", "cron_unknown", { cron: controller.cron });
    throw new Error(`No job for cron "${controller.cron}"`);
  }
  await job(env);
}
