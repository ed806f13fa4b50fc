import { createRouter } from "../http/router";
import * as handlers from "./templates.handlers";
import * as routes from "./templates.routes";

export const templatesRouter = createRouter()
  .openapi(routes.listTemplates, handlers.listTemplates)
  .openapi(routes.createTemplate, handlers.createTemplate)
  .openapi(routes.getTemplate, handlers.getTemplate)
  .openapi(routes.updateTemplate, handlers.updateTemplate)
  .openapi(routes.deleteTemplate, handlers.deleteTemplate)
  .openapi(routes.previewTemplate, handlers.previewTemplate);
