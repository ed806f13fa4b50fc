import { createRouter } from "../http/router";
import * as handlers from "./labels.handlers";
import * as routes from "./labels.routes";

export const labelsRouter = createRouter()
  .openapi(routes.listLabels, handlers.listLabels)
  .openapi(routes.createLabel, handlers.createLabel)
  .openapi(routes.getLabel, handlers.getLabel)
  .openapi(routes.updateLabel, handlers.updateLabel)
  .openapi(routes.deleteLabel, handlers.deleteLabel)
  .openapi(routes.setConversationLabels, handlers.setConversationLabels);
