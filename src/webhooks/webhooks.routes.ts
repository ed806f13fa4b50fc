import { z } from "@hono/zod-openapi";
import { apiRoute, publicRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { Cursor, jsonContent, Limit, listOf, Timestamp, Uuid } from "../lib/schemas";

// Provider bodies are documented with plain OpenAPI schemas, not zod: a zod body here would
// be validated before authentication, and a malformed one answered 400 and lost, where
// SPEC 9 wants it authenticated first and kept. The webhook pipeline (pipeline.ts) parses
// them with zod after authentication and keeps what fails as invalid_payload.
// Twilio adds parameters without notice: the documented ones are listed, any other passes.
const form = (schema: object) => ({ content: { "application/x-www-form-urlencoded": { schema } } });
const twilioParams = (fields: string[]) => ({
  type: "object" as const,
  additionalProperties: { type: "string" as const },
  properties: Object.fromEntries(fields.map((f) => [f, { type: "string" as const }])),
});
// Authentication is documented as the operations' security schemes (src/app.ts):
// X-Twilio-Signature for Twilio, HTTP Basic for Postmark. The handlers check it.
const twilioSignature = [{ twilioSignature: [] }];
const postmarkBasic = [{ postmarkBasic: [] }];

export const twilioInbound = publicRoute(
  {
    method: "post",
    path: "/webhooks/twilio/messages",
    operationId: "receiveTwilioMessage",
    tags: ["Webhooks"],
    summary: "Twilio inbound SMS/MMS (X-Twilio-Signature)",
    request: {
      body: form(
        twilioParams(["MessageSid", "AccountSid", "MessagingServiceSid", "From", "To", "Body", "NumMedia", "NumSegments", "MediaUrl0", "MediaContentType0"]),
      ),
    },
    responses: {
      200: { description: "Empty TwiML", content: { "text/xml": { schema: z.string() } } },
      ...pickErrors(403, 413, 503),
    },
  },
  twilioSignature,
);

export const twilioStatus = publicRoute(
  {
    method: "post",
    path: "/webhooks/twilio/status",
    operationId: "receiveTwilioStatus",
    tags: ["Webhooks"],
    summary: "Twilio delivery status of our outbound messages (forward-only)",
    request: {
      body: form(twilioParams(["MessageSid", "MessageStatus", "AccountSid", "From", "To", "ErrorCode", "ErrorMessage"])),
    },
    responses: {
      200: { description: "Applied, or kept as unroutable: empty TwiML", content: { "text/xml": { schema: z.string() } } },
      ...pickErrors(403, 413, 503),
    },
  },
  twilioSignature,
);

const postmarkBody = (description: string) => ({
  content: { "application/json": { schema: { type: "object" as const, additionalProperties: true, description } } },
});

export const twilioCalls = publicRoute(
  {
    method: "post",
    path: "/webhooks/twilio/calls",
    operationId: "receiveTwilioCall",
    tags: ["Webhooks"],
    summary: "Twilio call status, recording and transcription callbacks, one call activity per CallSid",
    description:
      "Only final call statuses (completed, no-answer, busy, failed, canceled) create the call; a recording or transcription that arrives first waits for it.",
    request: {
      body: form(
        twilioParams([
          "CallSid",
          "AccountSid",
          "From",
          "To",
          "Direction",
          "CallStatus",
          "CallDuration",
          "RecordingUrl",
          "RecordingSid",
          "RecordingDuration",
          "TranscriptionText",
          "TranscriptionStatus",
        ]),
      ),
    },
    responses: {
      200: { description: "Applied, waiting for its call, or kept as unroutable: empty TwiML", content: { "text/xml": { schema: z.string() } } },
      ...pickErrors(403, 413, 503),
    },
  },
  twilioSignature,
);

export const postmarkInbound = publicRoute(
  {
    method: "post",
    path: "/webhooks/postmark/inbound",
    operationId: "receivePostmarkInbound",
    tags: ["Webhooks"],
    summary: "Postmark inbound email (HTTP Basic); attachments into R2",
    request: { body: postmarkBody("Postmark's inbound webhook JSON") },
    responses: { 200: { description: "Stored, or kept as unroutable" }, ...pickErrors(401, 413, 503) },
  },
  postmarkBasic,
);

export const postmarkEvents = publicRoute(
  {
    method: "post",
    path: "/webhooks/postmark/events",
    operationId: "receivePostmarkEvent",
    tags: ["Webhooks"],
    summary: "Postmark Delivery, Bounce and SpamComplaint for our outbound email (HTTP Basic)",
    request: { body: postmarkBody("A Postmark Delivery, Bounce or SpamComplaint webhook") },
    responses: { 200: { description: "Applied, or kept as unroutable" }, ...pickErrors(401, 413, 503) },
  },
  postmarkBasic,
);

export const UnroutableSchema = z
  .object({ id: Uuid, provider: z.string(), reason: z.string(), received_at: Timestamp, payload: z.any() })
  .openapi("UnroutableEvent");

export const listUnroutable = apiRoute("admin", {
  method: "get",
  path: "/webhooks/unroutable",
  operationId: "listUnroutableEvents",
  tags: ["Webhooks"],
  summary: "The org's provider events that could not be applied, newest first",
  request: { query: z.object({ limit: Limit, cursor: Cursor }) },
  responses: { 200: jsonContent(listOf(UnroutableSchema, "UnroutableList"), "A page of events") },
});
