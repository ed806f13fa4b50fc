import { createRouter } from "../http/router";
import * as handlers from "./setup.handlers";
import * as routes from "./setup.routes";

export const setupRouter = createRouter()
  .openapi(routes.createOrg, handlers.createOrg)
  .openapi(routes.listMembers, handlers.listMembers)
  .openapi(routes.putMember, handlers.putMember)
  .openapi(routes.deleteMember, handlers.deleteMember)
  .openapi(routes.listChannels, handlers.listChannels)
  .openapi(routes.createChannel, handlers.createChannel)
  .openapi(routes.deleteChannel, handlers.deleteChannel);
