import { app } from "./app";
import type { Bindings } from "./env";
import { consumeQueue, runCron } from "./triggers";

export { OrgInbox } from "./org-inbox/org-inbox";

export default {
  fetch: app.fetch,
  queue: (batch, env) => consumeQueue(batch, env),
  scheduled: (controller, env) => runCron(controller, env),
} satisfies ExportedHandler<Bindings>;
