import { createRouter } from "../http/router";
import * as h from "./conversations.handlers";
import * as r from "./conversations.routes";

// Static paths under /conversations/ (views, sla, media, overdue) must be mounted
// before this router: /conversations/{conversation_id} would otherwise claim them.
export const conversationsRouter = createRouter()
  .openapi(r.listConversations, h.listConversations)
  .openapi(r.getConversation, h.getConversation)
  .openapi(r.listMessages, h.listMessages)
  .openapi(r.openConversation, h.openConversation)
  .openapi(r.star, h.star)
  .openapi(r.unstar, h.unstar)
  .openapi(r.markRead, h.markRead)
  .openapi(r.markUnread, h.markUnread)
  .openapi(r.archive, h.archive)
  .openapi(r.assign, h.assign);
