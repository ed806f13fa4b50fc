import { app } from "./app";
import type { Bindings } from "./env";
import { handleSendBatch, type SendJob } from "./sending/queue";

export { OrgInbox } from "./org-inbox/org-inbox";

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleSendBatch(batch, env),
} satisfies ExportedHandler<Bindings, SendJob>;
