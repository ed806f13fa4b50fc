import { createRouter } from "../http/router";
import * as h from "./activities.handlers";
import * as r from "./activities.routes";

export const activitiesRouter = createRouter().openapi(r.ingestActivity, h.ingestActivity);
