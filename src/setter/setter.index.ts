import { createRouter } from "../http/router";
import * as handlers from "./setter.handlers";
import * as routes from "./setter.routes";

export const setterRouter = createRouter()
  .openapi(routes.getSetterConfig, handlers.getConfig)
  .openapi(routes.putSetterConfig, handlers.putConfig)
  .openapi(routes.listTrainingPairs, handlers.listPairs)
  .openapi(routes.createSuggestion, handlers.createSuggestion)
  .openapi(routes.sendSuggestion, handlers.sendSuggestion)
  .openapi(routes.dismissSuggestion, handlers.dismissSuggestion);
