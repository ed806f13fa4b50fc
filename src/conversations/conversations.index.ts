import { createRouter } from "../http/router";
import * as handlers from "./conversations.handlers";
import * as routes from "./conversations.routes";

// Static paths under /conversations/ (views, sla, media, overdue) must be mounted
// before this router: /conversations/{conversation_id} would otherwise claim them.
// /conversations/export comes first here for the same reason.
export const conversationsRouter = createRouter()
  .openapi(routes.exportConversations, handlers.exportConversations)
  .openapi(routes.bulk, handlers.bulk)
  .openapi(routes.listConversations, handlers.listConversations)
  .openapi(routes.getConversation, handlers.getConversation)
  .openapi(routes.listMessages, handlers.listMessages)
  .openapi(routes.openConversation, handlers.openConversation)
  .openapi(routes.star, handlers.star)
  .openapi(routes.unstar, handlers.unstar)
  .openapi(routes.markRead, handlers.markRead)
  .openapi(routes.markUnread, handlers.markUnread)
  .openapi(routes.archive, handlers.archive)
  .openapi(routes.assign, handlers.assign)
  .openapi(routes.snooze, handlers.snooze)
  .openapi(routes.unsnooze, handlers.unsnooze);
