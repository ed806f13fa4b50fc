import { createRouter } from "../http/router";
import * as h from "./sla.handlers";
import * as r from "./sla.routes";

export const slaRouter = createRouter().openapi(r.getSla, h.getSla).openapi(r.putSla, h.putSla).openapi(r.overdueCount, h.overdueCount);
