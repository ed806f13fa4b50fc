import { createRouter } from "../http/router";
import * as h from "./setup.handlers";
import * as r from "./setup.routes";

export const setupRouter = createRouter()
  .openapi(r.createOrg, h.createOrg)
  .openapi(r.listMembers, h.listMembers)
  .openapi(r.putMember, h.putMember)
  .openapi(r.deleteMember, h.deleteMember)
  .openapi(r.listChannels, h.listChannels)
  .openapi(r.createChannel, h.createChannel)
  .openapi(r.deleteChannel, h.deleteChannel);
