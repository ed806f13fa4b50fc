import { createRouter } from "../http/router";
import * as handlers from "./views.handlers";
import * as routes from "./views.routes";

export const viewsRouter = createRouter()
  .openapi(routes.viewCounts, handlers.viewCounts)
  .openapi(routes.listViews, handlers.listViews)
  .openapi(routes.putViews, handlers.putViews);
