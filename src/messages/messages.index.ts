import { createRouter } from "../http/router";
import * as handlers from "./messages.handlers";
import * as routes from "./messages.routes";

export const messagesRouter = createRouter().openapi(routes.sendMessage, handlers.sendMessage).openapi(routes.cancelMessage, handlers.cancelMessage);
