import { app } from "./app";
import type { Bindings } from "./env";

export { OrgInbox } from "./org-inbox/org-inbox";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;
