// The app: middleware, error handling (src/http/errors.ts), the feature routers in
// match order, and the OpenAPI document (src/http/openapi.ts).
import { activitiesRouter } from "./activities/activities.index";
import { contactsRouter } from "./contacts/contacts.index";
import { conversationsRouter } from "./conversations/conversations.index";
import { eventsRouter } from "./events/events.index";
import { onError, onNotFound } from "./http/errors";
import { serveOpenApiDocument } from "./http/openapi";
import { createRouter } from "./http/router";
import { labelsRouter } from "./labels/labels.index";
import { mediaRouter } from "./media/media.index";
import { messagesRouter } from "./messages/messages.index";
import { bodyLimits } from "./middleware/limits";
import { requestContext } from "./middleware/request";
import { operatorRouter } from "./operator/operator.index";
import { setterRouter } from "./setter/setter.index";
import { setupRouter } from "./setup/setup.index";
import { slaRouter } from "./sla/sla.index";
import { benchCeilingRouter } from "./system/bench-ceiling";
import { docsRouter } from "./system/docs";
import { systemRouter } from "./system/system.index";
import { templatesRouter } from "./templates/templates.index";
import { viewsRouter } from "./views/views.index";
import { webhookEndpointsRouter } from "./webhook-endpoints/webhook-endpoints.index";
import { webhooksRouter } from "./webhooks/webhooks.index";

export function createApp() {
  const app = createRouter();
  app.use("*", requestContext);
  app.use("*", bodyLimits);

  app.onError(onError);
  app.notFound(onNotFound);

  app.route("/", systemRouter);
  app.route("/", setupRouter);
  app.route("/", contactsRouter);
  app.route("/", activitiesRouter);
  // Static /conversations/… paths before /conversations/{conversation_id}.
  app.route("/", mediaRouter);
  app.route("/", slaRouter);
  app.route("/", viewsRouter);
  app.route("/", conversationsRouter);
  app.route("/", messagesRouter);
  app.route("/", setterRouter);
  app.route("/", eventsRouter);
  app.route("/", webhooksRouter);
  app.route("/", webhookEndpointsRouter);
  app.route("/", templatesRouter);
  app.route("/", labelsRouter);
  app.route("/", operatorRouter);
  app.route("/", docsRouter);
  app.route("/", benchCeilingRouter);

  serveOpenApiDocument(app);
  return app;
}

export const app = createApp();
export type AppType = typeof app;
