import { createRouter } from "../http/router";
import * as h from "./events.handlers";
import * as r from "./events.routes";

export const eventsRouter = createRouter().openapi(r.events, h.events);
