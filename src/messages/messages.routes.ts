import { z } from "@hono/zod-openapi";
import { ConversationParam } from "../conversations/conversations.routes";
import { MessageSchema } from "../conversations/schemas";
import { SEND_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, Uuid } from "../lib/schemas";

/** An sms body's limit, and any other message's (SPEC 5); an email subject's (RFC 5322's line). */
export const SEND_LIMITS = { sms: 1600, body: 100_000, subject: 998 } as const;

/** The latest time a scheduled send (SPEC 20) may name: a calendar year from `now` (UTC; 29 Feb → 1 Mar). */
export const scheduleLimit = (now: number) => {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.getTime();
};

export const SendBody = z
  .strictObject({
    type: z.enum(SEND_TYPES),
    body: z
      .string()
      .min(1)
      .max(SEND_LIMITS.body)
      .optional()
      .openapi({ description: "The text; required unless template_id is given (exactly one of the two)" }),
    template_id: Uuid.optional().openapi({
      description:
        "Send a template instead of `body`: rendered for this conversation's contact, the sender and the org (GET /templates/{template_id}/render previews it). " +
        "An email takes the template's subject when `subject` is not given. A template not in the org, for another channel, or rendering a body the message cannot carry → 422 template_invalid.",
    }),
    subject: z.string().trim().min(1).max(SEND_LIMITS.subject).optional(),
    html: z.string().max(500_000).optional(),
    media_ids: z.array(Uuid).max(10).optional().openapi({ description: "At most 10, for every type" }),
    send_at: z
      .union([z.iso.datetime({ offset: true }), z.literal("next_business_open")])
      .optional()
      .openapi({
        description:
          "Schedule an sms or email (SPEC 20): a future time at most a year ahead, or `next_business_open` (the first instant from now inside the org's SLA business hours: now when they are open or the org keeps none). " +
          "Answered 202 with status `scheduled`; at that time it is checked again (the contact's address, consent, a channel) and queued, or failed with the refusal's code. Cancel with DELETE …/messages/{message_id}.",
      }),
  })
  .superRefine((b, ctx) => {
    if (b.send_at !== undefined && b.type === "note") ctx.addIssue({ code: "custom", path: ["send_at"], message: "only an sms or email can be scheduled" });
    if (b.send_at !== undefined && b.send_at !== "next_business_open") {
      const at = Date.parse(b.send_at);
      const now = Date.now();
      if (at <= now) ctx.addIssue({ code: "custom", path: ["send_at"], message: "send_at must be in the future" });
      else if (at > scheduleLimit(now)) ctx.addIssue({ code: "custom", path: ["send_at"], message: "send_at is at most a year ahead" });
    }
    if (b.body === undefined && b.template_id === undefined) ctx.addIssue({ code: "custom", path: ["body"], message: "body or template_id is required" });
    if (b.body !== undefined && b.template_id !== undefined)
      ctx.addIssue({ code: "custom", path: ["template_id"], message: "give body or template_id, not both" });
    if (b.template_id !== undefined && b.html !== undefined)
      ctx.addIssue({ code: "custom", path: ["html"], message: "a template renders the text body: send html without template_id" });
    if (b.type === "sms" && b.body !== undefined && b.body.length > SEND_LIMITS.sms)
      ctx.addIssue({ code: "custom", path: ["body"], message: `an sms body is 1–${SEND_LIMITS.sms} characters` });
    if (b.type !== "email" && b.subject !== undefined) ctx.addIssue({ code: "custom", path: ["subject"], message: "only an email has a subject" });
    if (b.type !== "email" && b.html !== undefined) ctx.addIssue({ code: "custom", path: ["html"], message: "only an email has html" });
  })
  .openapi("SendMessage");

export const sendMessage = apiRoute(
  "member",
  {
    method: "post",
    path: "/conversations/{conversation_id}/messages",
    operationId: "sendMessage",
    tags: ["Conversations"],
    summary: "Send an sms or email from the thread (202, queued, or scheduled with send_at), or log a note (201)",
    description:
      "An email without `subject` answers the thread's last email (`Re: …`); with no earlier email it needs one. Sending resets unread_count and clears the reply wait. " +
      "A scheduled message (`send_at`, SPEC 20) changes nothing on the conversation until it is released at its time: then it takes the thread's last activity and clears the reply wait (unread is left as it is then).",
    request: { params: ConversationParam, body: jsonBody(SendBody) },
    responses: {
      201: jsonContent(MessageSchema, "A note, stored"),
      202: jsonContent(MessageSchema, "Queued for delivery, or `scheduled` (send_at); follow its status on the message"),
      ...pickErrors(422),
    },
  },
  { idempotent: true },
);

export const cancelMessage = apiRoute("member", {
  method: "delete",
  path: "/conversations/{conversation_id}/messages/{message_id}",
  operationId: "cancelScheduledMessage",
  tags: ["Conversations"],
  summary: "Cancel a scheduled message (SPEC 20)",
  description:
    "A message still `scheduled` becomes `canceled` (message.updated) and is never sent. Any other message of the conversation (already queued or sent, canceled, a note) → 409 not_scheduled; a message not in this conversation of the org → 404.",
  request: { params: ConversationParam.extend(IdParam("message_id").shape) },
  responses: {
    200: jsonContent(MessageSchema, "The message, canceled"),
    ...pickErrors(404, 409),
  },
});
