import { createRouter } from "../http/router";
import * as h from "./setter.handlers";
import * as r from "./setter.routes";

export const setterRouter = createRouter()
  .openapi(r.getSetterConfig, h.getConfig)
  .openapi(r.putSetterConfig, h.putConfig)
  .openapi(r.listTrainingPairs, h.listPairs)
  .openapi(r.createSuggestion, h.createSuggestion)
  .openapi(r.sendSuggestion, h.sendSuggestion)
  .openapi(r.dismissSuggestion, h.dismissSuggestion);
