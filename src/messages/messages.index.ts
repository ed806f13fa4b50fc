import { createRouter } from "../http/router";
import * as h from "./messages.handlers";
import * as r from "./messages.routes";

export const messagesRouter = createRouter().openapi(r.sendMessage, h.sendMessage);
