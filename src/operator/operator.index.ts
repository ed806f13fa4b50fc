import { createRouter } from "../http/router";
import * as handlers from "./operator.handlers";
import * as routes from "./operator.routes";

export const operatorRouter = createRouter().openapi(routes.moveOrg, handlers.moveOrg).openapi(routes.getMove, handlers.getMove);
