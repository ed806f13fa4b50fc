import { z } from "@hono/zod-openapi";
import { WEBHOOK_EVENT_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, readOnly, Timestamp, Uuid } from "../lib/schemas";

// SPEC 18: where the org's events go. Owner/admin. The secret is answered by the create
// and by rotate-secret only.

/** Endpoints an org may have. */
export const MAX_ENDPOINTS = 20;

const EventType = z.enum(["*", ...WEBHOOK_EVENT_TYPES]);
const Events = z
  .array(EventType)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length + 1)
  .refine((e) => !e.includes("*") || e.length === 1, { message: '"*" stands alone' })
  .refine((e) => new Set(e).size === e.length, { message: "each type once" })
  .openapi({ description: `["*"] (every type), or some of: ${WEBHOOK_EVENT_TYPES.join(", ")}; at most ${WEBHOOK_EVENT_TYPES.length + 1}` });
const Url = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .openapi({ example: "https://crm.example.com/hooks/inbox", description: "https://; not localhost or a private, loopback or link-local IP" });
const Description = z.string().trim().max(500).nullable();

export const WebhookEndpointSchema = z
  .object({
    id: Uuid,
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(EventType),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().openapi({ description: "Why it was disabled (by a 410 Gone, or 5 days of failures); null when enabled" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("WebhookEndpoint");

const WithSecret = WebhookEndpointSchema.extend({
  secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", description: "Shown once: signs every delivery (Standard Webhooks)" }),
}).openapi("WebhookEndpointWithSecret");

const EndpointParam = IdParam("endpoint_id");
const tags = ["Webhooks"];

export const listEndpoints = apiRoute("admin", {
  method: "get",
  path: "/webhook-endpoints",
  operationId: "listWebhookEndpoints",
  tags,
  summary: "The org's webhook endpoints, oldest first",
  responses: { 200: jsonContent(z.object({ data: z.array(WebhookEndpointSchema) }), `At most ${MAX_ENDPOINTS}`) },
});

export const createEndpoint = apiRoute(
  "admin",
  {
    method: "post",
    path: "/webhook-endpoints",
    operationId: "createWebhookEndpoint",
    tags,
    summary: "Subscribe a URL to the org's events",
    request: {
      body: jsonBody(
        z.strictObject({
          url: Url,
          description: Description.optional(),
          events: Events.optional().openapi({ description: 'Default ["*"]' }),
          enabled: z.boolean().optional(),
        }),
      ),
    },
    responses: { 201: jsonContent(WithSecret, "The endpoint and its secret (shown once)"), ...pickErrors(409) },
  },
  { idempotent: true },
);

export const getEndpoint = apiRoute("admin", {
  method: "get",
  path: "/webhook-endpoints/{endpoint_id}",
  operationId: "getWebhookEndpoint",
  tags,
  summary: "A webhook endpoint",
  request: { params: EndpointParam },
  responses: { 200: jsonContent(WebhookEndpointSchema, "The endpoint") },
});

export const updateEndpoint = apiRoute("admin", {
  method: "patch",
  path: "/webhook-endpoints/{endpoint_id}",
  operationId: "updateWebhookEndpoint",
  tags,
  summary: "Change a webhook endpoint (enabling it clears disabled_reason)",
  request: {
    params: EndpointParam,
    body: jsonBody(
      z.strictObject({
        url: Url.optional(),
        description: Description.optional(),
        events: Events.optional(),
        enabled: z.boolean().optional(),
        id: readOnly(Uuid),
        disabled_reason: readOnly(z.string().nullable()),
        created_at: readOnly(Timestamp),
        updated_at: readOnly(Timestamp),
      }),
    ),
  },
  responses: { 200: jsonContent(WebhookEndpointSchema, "The endpoint, as it is now") },
});

export const deleteEndpoint = apiRoute("admin", {
  method: "delete",
  path: "/webhook-endpoints/{endpoint_id}",
  operationId: "deleteWebhookEndpoint",
  tags,
  summary: "Remove a webhook endpoint",
  request: { params: EndpointParam },
  responses: { 204: { description: "Removed" } },
});

export const rotateSecret = apiRoute("admin", {
  method: "post",
  path: "/webhook-endpoints/{endpoint_id}/rotate-secret",
  operationId: "rotateWebhookEndpointSecret",
  tags,
  summary: "A new signing secret; the old one keeps signing alongside it for 24 h",
  request: { params: EndpointParam },
  responses: { 200: jsonContent(WithSecret, "The endpoint and its new secret (shown once)") },
});
