import { createRouter } from "../http/router";
import * as handlers from "./activities.handlers";
import * as routes from "./activities.routes";

export const activitiesRouter = createRouter().openapi(routes.ingestActivity, handlers.ingestActivity);
