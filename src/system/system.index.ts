import { createRouter } from "../http/router";
import * as handlers from "./system.handlers";
import * as routes from "./system.routes";

export const systemRouter = createRouter().openapi(routes.health, handlers.health);
