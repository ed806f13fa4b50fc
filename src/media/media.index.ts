import { createRouter } from "../http/router";
import * as handlers from "./media.handlers";
import * as routes from "./media.routes";

export const mediaRouter = createRouter()
  .openapi(routes.uploadMedia, handlers.uploadMedia)
  .openapi(routes.getMemberMedia, handlers.getMemberMedia)
  .openapi(routes.getSignedMedia, handlers.getSignedMedia);
