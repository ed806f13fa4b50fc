import { createRouter } from "../http/router";
import * as h from "./media.handlers";
import * as r from "./media.routes";

export const mediaRouter = createRouter()
  .openapi(r.uploadMedia, h.uploadMedia)
  .openapi(r.getMemberMedia, h.getMemberMedia)
  .openapi(r.getSignedMedia, h.getSignedMedia);
