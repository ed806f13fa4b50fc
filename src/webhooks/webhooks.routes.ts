import { createRoute, z } from "@hono/zod-openapi";
import { pickErrors } from "../lib/errors";
import { apiRoute } from "../lib/route";
import { Cursor, Limit, Timestamp, Uuid, jsonContent, listOf } from "../lib/schemas";

// Provider bodies are documented with plain OpenAPI schemas, not zod: a zod body would
// be validated before authentication, and a malformed one answered 400 and lost,
// where SPEC 9 wants it authenticated first and kept.
// Twilio adds parameters without notice: the documented ones are listed, any other passes.
const form = (schema: object) => ({ content: { "application/x-www-form-urlencoded": { schema } } });
const twilioParams = (fields: string[]) => ({
  type: "object" as const,
  additionalProperties: { type: "string" as const },
  properties: Object.fromEntries(fields.map((f) => [f, { type: "string" as const }])),
});
const signature = z.object({
  "x-twilio-signature": z.string().optional().openapi({ param: { name: "x-twilio-signature", in: "header" }, description: "base64 HMAC-SHA1 (SPEC 9)" }),
});

export const twilioInbound = createRoute({
  method: "post",
  path: "/webhooks/twilio/messages",
  tags: ["Webhooks"],
  summary: "Twilio inbound SMS/MMS (X-Twilio-Signature)",
  request: {
    headers: signature,
    body: form(twilioParams(["MessageSid", "AccountSid", "MessagingServiceSid", "From", "To", "Body", "NumMedia", "NumSegments", "MediaUrl0", "MediaContentType0"])),
  },
  responses: {
    200: { description: "Empty TwiML", content: { "text/xml": { schema: z.string() } } },
    ...pickErrors(403, 413, 503),
  },
});

export const twilioStatus = createRoute({
  method: "post",
  path: "/webhooks/twilio/status",
  tags: ["Webhooks"],
  summary: "Twilio delivery status of our outbound messages (forward-only)",
  request: {
    headers: signature,
    body: form(twilioParams(["MessageSid", "MessageStatus", "AccountSid", "From", "To", "ErrorCode", "ErrorMessage"])),
  },
  responses: { 200: { description: "Applied, or kept as unroutable: empty TwiML", content: { "text/xml": { schema: z.string() } } }, ...pickErrors(403, 413, 503) },
});

const postmarkBody = (description: string) => ({
  content: { "application/json": { schema: { type: "object" as const, additionalProperties: true, description } } },
});
const basic = z.object({
  authorization: z.string().optional().openapi({ param: { name: "authorization", in: "header" }, description: "HTTP Basic: POSTMARK_WEBHOOK_USER / POSTMARK_WEBHOOK_PASSWORD" }),
});

export const twilioCalls = createRoute({
  method: "post",
  path: "/webhooks/twilio/calls",
  tags: ["Webhooks"],
  summary: "Twilio call status, recording and transcription callbacks, one call activity per CallSid",
  description: "Only final call statuses (completed, no-answer, busy, failed, canceled) create the call; a recording or transcription that arrives first waits for it.",
  request: {
    headers: signature,
    body: form(
      twilioParams(["CallSid", "AccountSid", "From", "To", "Direction", "CallStatus", "CallDuration", "RecordingUrl", "RecordingSid", "RecordingDuration", "TranscriptionText", "TranscriptionStatus"]),
    ),
  },
  responses: { 200: { description: "Applied, waiting for its call, or kept as unroutable: empty TwiML", content: { "text/xml": { schema: z.string() } } }, ...pickErrors(403, 413, 503) },
});

export const postmarkInbound = createRoute({
  method: "post",
  path: "/webhooks/postmark/inbound",
  tags: ["Webhooks"],
  summary: "Postmark inbound email (HTTP Basic); attachments into R2",
  request: { headers: basic, body: postmarkBody("Postmark's inbound webhook JSON") },
  responses: { 200: { description: "Stored, or kept as unroutable" }, ...pickErrors(401, 413, 503) },
});

export const postmarkEvents = createRoute({
  method: "post",
  path: "/webhooks/postmark/events",
  tags: ["Webhooks"],
  summary: "Postmark Delivery, Bounce and SpamComplaint for our outbound email (HTTP Basic)",
  request: { headers: basic, body: postmarkBody("A Postmark Delivery, Bounce or SpamComplaint webhook") },
  responses: { 200: { description: "Applied, or kept as unroutable" }, ...pickErrors(401, 413, 503) },
});

export const UnroutableSchema = z
  .object({ id: Uuid, provider: z.string(), reason: z.string(), received_at: Timestamp, payload: z.any() })
  .openapi("UnroutableEvent");

export const listUnroutable = apiRoute("admin", {
  method: "get",
  path: "/webhooks/unroutable",
  tags: ["Webhooks"],
  summary: "The org's provider events that could not be applied, newest first",
  request: { query: z.object({ limit: Limit, cursor: Cursor }) },
  responses: { 200: jsonContent(listOf(UnroutableSchema, "UnroutableList"), "A page of events") },
});
