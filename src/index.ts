import { app } from "./app";
import type { Bindings } from "./env";
import { handleSendBatch, type SendJob } from "./sending/queue";
import { handleAiBatch, type AiJob } from "./setter/jobs";

export { OrgInbox } from "./org-inbox/org-inbox";

export default {
  fetch: app.fetch,
  queue: (batch, env) =>
    batch.queue.startsWith("inbox-ai") ? handleAiBatch(batch as MessageBatch<AiJob>, env) : handleSendBatch(batch as MessageBatch<SendJob>, env),
} satisfies ExportedHandler<Bindings, SendJob | AiJob>;
