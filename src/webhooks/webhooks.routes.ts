import { createRoute, z } from "@hono/zod-openapi";
import { pickErrors } from "../lib/errors";
import { apiRoute } from "../lib/route";
import { Cursor, Limit, Timestamp, Uuid, jsonContent, listOf } from "../lib/schemas";

// Twilio adds parameters without notice: the documented ones are listed, any other passes.
const form = (schema: z.ZodType) => ({ content: { "application/x-www-form-urlencoded": { schema } } });
const twilioParams = (fields: string[]) => z.looseObject(Object.fromEntries(fields.map((f) => [f, z.string().optional()])));
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
    ...pickErrors(403, 413),
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
  responses: { 204: { description: "Applied, or kept as unroutable" }, ...pickErrors(403, 413) },
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
