import { log } from "./lib/log";

// The queues' messages and the only code that puts them on a queue. A leaf: it imports
// no feature, so the writers (OrgInbox, webhooks, the sweep) and the consumers
// (src/sending/queue.ts, src/setter/jobs.ts, dispatched by src/triggers.ts) can all
// depend on it without depending on each other. src/env.ts types the bindings with these.

/** SEND_QUEUE: deliver one queued outbound message (src/sending/queue.ts). */
export type SendJob = { orgId: string; messageId: string };

/** A provider-hosted file to copy into R2 (src/webhooks/inbound-media.ts). */
export type InboundMedia = {
  id: string;
  url: string;
  contentType: string;
  /** The message that shows it: its updated_at moves once the copy is ready (GET /activities?updated_since). */
  activityId?: string;
};

/** AI_QUEUE: a setter draft, a call summary, or another try at copying inbound media (src/setter/jobs.ts). */
export type AiJob =
  | { kind: "draft"; orgId: string; conversationId: string; triggerId: string }
  | { kind: "summary"; orgId: string; activityId: string }
  | { kind: "media_copy"; orgId: string; item: InboundMedia; attempt: number };

/**
 * WEBHOOK_QUEUE (src/outbox/queue.ts): fan the org's undispatched outbox rows out into
 * deliveries, or make one attempt of one delivery.
 */
export type WebhookJob = { kind: "dispatch"; orgId: string } | { kind: "deliver"; orgId: string; deliveryId: string };

/** The queue bindings with their message types (wrangler's generated Env types them `Queue<unknown>`). */
export type JobQueues = { SEND_QUEUE: Queue<SendJob>; AI_QUEUE: Queue<AiJob>; WEBHOOK_QUEUE: Queue<WebhookJob> };

/** Hands one message to the send queue; a refusal throws (the caller decides what the message becomes). */
export function enqueueSend(env: Pick<JobQueues, "SEND_QUEUE">, job: SendJob) {
  return env.SEND_QUEUE.send(job);
}

/** Hands one job to the AI queue; a refusal throws. */
export function enqueueAiJob(env: Pick<JobQueues, "AI_QUEUE">, job: AiJob, options?: QueueSendOptions) {
  return env.AI_QUEUE.send(job, options);
}

/** Hands jobs to the AI queue; a failure is logged, never the caller's failure (the write it follows is done). */
export async function enqueueAiJobs(env: Pick<JobQueues, "AI_QUEUE">, jobs: AiJob[] | undefined) {
  if (!jobs?.length) return;
  try {
    await env.AI_QUEUE.sendBatch(jobs.map((body) => ({ body })));
  } catch (e) {
    log("error", "ai_enqueue_failed", { jobs, error: String(e) });
  }
}

/** Hands webhook jobs to WEBHOOK_QUEUE (`delaySeconds`: a retry's wait, at most 12 h); a refusal throws. */
export function enqueueWebhookJobs(env: Pick<JobQueues, "WEBHOOK_QUEUE">, jobs: WebhookJob[], delaySeconds?: number) {
  if (!jobs.length) return Promise.resolve();
  return env.WEBHOOK_QUEUE.sendBatch(jobs.map((body) => ({ body, ...(delaySeconds ? { delaySeconds } : {}) })));
}
