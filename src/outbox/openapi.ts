import { z } from "@hono/zod-openapi";
import { ContactSchema } from "../contacts/contacts.routes";
import { ConversationSchema, MessageSchema, SuggestionSchema } from "../conversations/schemas";
import { WEBHOOK_EVENT_TYPES } from "../db/enums";
import type { App } from "../env";
import { Timestamp, Uuid } from "../lib/schemas";
import type { WebhookEventType } from "./build";

// SPEC 18's events in /openapi.json, as OpenAPI 3.1 `webhooks`: one POST per event type
// that an endpoint receives, its body built from the same schemas as the REST answers.

const objectOf: Record<WebhookEventType, z.ZodType> = {
  "message.created": MessageSchema,
  "message.updated": MessageSchema,
  "conversation.updated": ConversationSchema,
  "suggestion.created": SuggestionSchema,
  "contact.created": ContactSchema,
  "contact.updated": ContactSchema,
  "contact.opted_out": ContactSchema,
  "contact.opted_in": ContactSchema,
};

const name = (type: string) =>
  `WebhookEvent${type
    .split(/[._]/)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("")}`;

const signedHeaders = z.object({
  "webhook-id": z.string().openapi({ description: "The delivery's id: the same on every retry (dedup by it)" }),
  "webhook-timestamp": z.string().openapi({ description: "Unix seconds of this attempt" }),
  "webhook-signature": z.string().openapi({
    description: "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, keyed by the endpoint's secret; two, space-separated, for 24 h after a rotation",
  }),
});

export function registerWebhookEvents(app: App) {
  // What a receiver checks (with the standardwebhooks library and the endpoint's secret).
  app.openAPIRegistry.registerComponent("securitySchemes", "standardWebhooks", {
    type: "apiKey",
    in: "header",
    name: "webhook-signature",
    description: "Standard Webhooks: verify webhook-id, webhook-timestamp and webhook-signature with the endpoint's secret (whsec_…)",
  });
  for (const type of WEBHOOK_EVENT_TYPES) {
    const body = z
      .object({
        type: z.literal(type),
        timestamp: Timestamp.openapi({ description: "When it happened" }),
        data: z.object({
          org_id: Uuid,
          seq: z.number().int().openapi({ description: "Orders the org's events (every type; not the /events seq); gaps are possible" }),
          conversation_id: Uuid.optional().openapi({ description: "Absent for a contact with no conversation" }),
          object: objectOf[type],
        }),
      })
      .openapi(name(type));
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      operationId: `webhook${name(type).slice("WebhookEvent".length)}`,
      summary: `${type}: sent to every enabled endpoint subscribed to it (or to "*")`,
      description:
        "Signed per the Standard Webhooks specification. A 2xx within 15 s is success; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; a 410 disables the endpoint.",
      security: [{ standardWebhooks: [] }],
      request: { headers: signedHeaders, body: { content: { "application/json": { schema: body } }, required: true } },
      responses: { 200: { description: "Received (any 2xx)" } },
    });
  }
}
