import { createRouter } from "../http/router";
import * as handlers from "./sla.handlers";
import * as routes from "./sla.routes";

export const slaRouter = createRouter()
  .openapi(routes.getSla, handlers.getSla)
  .openapi(routes.putSla, handlers.putSla)
  .openapi(routes.overdueCount, handlers.overdueCount);
