import { createRouter } from "../http/router";
import * as h from "./views.handlers";
import * as r from "./views.routes";

export const viewsRouter = createRouter().openapi(r.viewCounts, h.viewCounts).openapi(r.listViews, h.listViews).openapi(r.putViews, h.putViews);
