import { createRouter } from "../http/router";
import * as handlers from "./activities.handlers";
import * as routes from "./activities.routes";

// The static /activities/batch before anything that could take its segment.
export const activitiesRouter = createRouter()
  .openapi(routes.ingestBatch, handlers.ingestBatch)
  .openapi(routes.ingestActivity, handlers.ingestActivity)
  .openapi(routes.listChanges, handlers.listChanges);
