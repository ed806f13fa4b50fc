import { createRouter } from "../http/router";
import * as handlers from "./webhook-endpoints.handlers";
import * as routes from "./webhook-endpoints.routes";

export const webhookEndpointsRouter = createRouter()
  .openapi(routes.listEndpoints, handlers.listEndpoints)
  .openapi(routes.createEndpoint, handlers.createEndpoint)
  .openapi(routes.getEndpoint, handlers.getEndpoint)
  .openapi(routes.updateEndpoint, handlers.updateEndpoint)
  .openapi(routes.deleteEndpoint, handlers.deleteEndpoint)
  .openapi(routes.rotateSecret, handlers.rotateSecret)
  .openapi(routes.listDeliveries, handlers.listDeliveries)
  .openapi(routes.retryDelivery, handlers.retryDelivery);
