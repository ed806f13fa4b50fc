import { settings } from "../config/settings";
import type { App } from "../env";
import { registerWebhookEvents } from "../outbox/openapi";

/** GET /openapi.json: the document generated from the same zod schemas that validate requests, with its security schemes. */
export function serveOpenApiDocument(app: App) {
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
  // The operator routes (SPEC 14: moving an org between shards).
  app.openAPIRegistry.registerComponent("securitySchemes", "operatorToken", {
    type: "http",
    scheme: "bearer",
    description: "OPERATOR_TOKEN (a secret of 32+ bytes); without it set, the operator routes answer 404",
  });
  registerWebhookEvents(app);
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
}
