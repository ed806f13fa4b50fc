import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { Cursor, IdParam, jsonBody, jsonContent, Limit, listOf, readOnly, Timestamp, Uuid } from "../lib/schemas";

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

export const WebhookDeliverySchema = z
  .object({
    id: Uuid.openapi({ description: "The webhook-id header of every attempt (stable across retries)" }),
    event_type: z.enum(WEBHOOK_EVENT_TYPES),
    status: z
      .enum(DELIVERY_STATUSES)
      .openapi({ description: "pending: waiting for an attempt or a retry; succeeded: a 2xx; failed: every attempt failed, or the endpoint was disabled" }),
    attempts: z.number().int().openapi({ description: "Attempts made (at most 8 automatic ones: the first try and 7 retries; a manual retry adds one)" }),
    last_status_code: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The HTTP status of the last attempt; null when it got none (timeout, network error) or none was made" }),
    last_error: z.string().nullable().openapi({ description: "Why the last attempt failed; null after a success" }),
    next_attempt_at: Timestamp.nullable().openapi({ description: "When the next attempt is due (pending only)" }),
    created_at: Timestamp,
  })
  .openapi("WebhookDelivery");

const DeliveryParams = EndpointParam.extend({ delivery_id: Uuid.openapi({ param: { name: "delivery_id", in: "path" } }) });

export const listDeliveries = apiRoute("admin", {
  method: "get",
  path: "/webhook-endpoints/{endpoint_id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  summary: "The endpoint's deliveries, newest first",
  description:
    "A succeeded or failed delivery is kept 30 days after its last change (an attempt, or a retry asked for); a pending one is kept until it settles. " +
    "Older ones are deleted, with the events no delivery refers to any more.",
  request: {
    params: EndpointParam,
    query: z.object({
      status: z.enum(DELIVERY_STATUSES).optional().openapi({ description: "Only deliveries in this status" }),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: { 200: jsonContent(listOf(WebhookDeliverySchema, "WebhookDeliveryList"), "A page of deliveries") },
});

export const retryDelivery = apiRoute("admin", {
  method: "post",
  path: "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
  operationId: "retryWebhookDelivery",
  tags,
  summary: "Attempt a delivery again now (a failed one, or a succeeded one: it is sent again with the same webhook-id)",
  description:
    "The delivery becomes pending, due now, and an attempt is queued. A failed delivery that has used its 8 attempts gets this one more; " +
    "a pending one is attempted now instead of at its next_attempt_at. 409 conflict when the endpoint is disabled (enable it first) " +
    "or an attempt of the delivery is in flight.",
  request: { params: DeliveryParams },
  responses: { 202: jsonContent(WebhookDeliverySchema, "The delivery, pending"), ...pickErrors(409) },
});
