import { createRouter } from "../http/router";
import * as h from "./system.handlers";
import * as r from "./system.routes";

export const systemRouter = createRouter().openapi(r.health, h.health);
