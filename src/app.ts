import { HTTPException } from "hono/http-exception";
import { activitiesRouter } from "./activities/activities.index";
import { contactsRouter } from "./contacts/contacts.index";
import { conversationsRouter } from "./conversations/conversations.index";
import { eventsRouter } from "./events/events.index";
import { settings } from "./config/settings";
import { ApiError, problemResponse } from "./lib/errors";
import { createRouter } from "./http/router";
import { log } from "./lib/log";
import { mediaRouter } from "./media/media.index";
import { messagesRouter } from "./messages/messages.index";
import { bodyLimits } from "./middleware/limits";
import { requestContext } from "./middleware/request";
import { setterRouter } from "./setter/setter.index";
import { setupRouter } from "./setup/setup.index";
import { slaRouter } from "./sla/sla.index";
import { viewsRouter } from "./views/views.index";
import { docsRouter } from "./system/docs";
import { systemRouter } from "./system/system.index";
import { webhooksRouter } from "./webhooks/webhooks.index";

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    switch (err.status) {
      case 400:
        return new ApiError("validation_failed", err.message, [{ path: "body", message: err.message }]);
      case 413:
        return new ApiError("payload_too_large", "The request body is too large.");
      case 415:
        return new ApiError("unsupported_media_type", "This route takes application/json.");
      case 401:
        return new ApiError("unauthenticated", err.message || "Unauthenticated.");
      case 404:
        return new ApiError("not_found", "Not found.");
    }
  }
  return new ApiError("internal", "Something went wrong on our side; the request id identifies it in our logs.");
}

export function createApp() {
  const app = createRouter();
  app.use("*", requestContext);
  app.use("*", bodyLimits);

  app.onError((err, c) => {
    const problem = toApiError(err);
    // A not_configured refusal is logged once per isolate where it is detected (src/config/secrets.ts).
    if (problem.code === "internal") {
      log("error", "unhandled", {
        request_id: c.get("requestId"),
        error: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      });
    }
    return problemResponse(problem, c.get("requestId"));
  });
  app.notFound((c) => problemResponse(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}.`), c.get("requestId")));

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
  app.route("/", docsRouter);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  // The provider webhooks' own authentication (SPEC 9), named by their operations.
  app.openAPIRegistry.registerComponent("securitySchemes", "twilioSignature", {
    type: "apiKey",
    in: "header",
    name: "X-Twilio-Signature",
    description:
      "base64 HMAC-SHA1, keyed by TWILIO_AUTH_TOKEN, of PUBLIC_BASE_URL + path + query followed by every POST parameter sorted by name (name then value); bad or missing → 403",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "postmarkBasic", {
    type: "http",
    scheme: "basic",
    description: "POSTMARK_WEBHOOK_USER / POSTMARK_WEBHOOK_PASSWORD; bad or missing → 401",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Inbox API",
      version: "0.1.0",
      description:
        "A unified inbox over one timeline per contact: SMS, email, calls and notes, worked as conversations. Errors are RFC 9457 problem+json with a `code`.",
    },
    servers: [{ url: settings(c.env).publicBaseUrl ?? new URL(c.req.url).origin }],
  }));
  return app;
}

export const app = createApp();
export type AppType = typeof app;
