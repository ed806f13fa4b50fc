import { z } from "@hono/zod-openapi";
import { ConversationParam } from "../conversations/conversations.routes";
import { MessageSchema } from "../conversations/schemas";
import { SEND_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { jsonBody, jsonContent, Uuid } from "../lib/schemas";

/** An sms body's limit, and any other message's (SPEC 5); an email subject's (RFC 5322's line). */
export const SEND_LIMITS = { sms: 1600, body: 100_000, subject: 998 } as const;

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
  })
  .superRefine((b, ctx) => {
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
    summary: "Send an sms or email from the thread (202, queued), or log a note (201)",
    description:
      "An email without `subject` answers the thread's last email (`Re: …`); with no earlier email it needs one. Sending resets unread_count and clears the reply wait.",
    request: { params: ConversationParam, body: jsonBody(SendBody) },
    responses: {
      201: jsonContent(MessageSchema, "A note, stored"),
      202: jsonContent(MessageSchema, "Queued for delivery; follow its status on the message"),
      ...pickErrors(422),
    },
  },
  { idempotent: true },
);
