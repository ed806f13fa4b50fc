import { z } from "@hono/zod-openapi";
import { ConversationParam } from "../conversations/conversations.routes";
import { MessageSchema } from "../conversations/schemas";
import { SEND_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { jsonBody, jsonContent, Uuid } from "../lib/schemas";

export const SendBody = z
  .strictObject({
    type: z.enum(SEND_TYPES),
    body: z.string().min(1).max(100_000),
    subject: z.string().trim().min(1).max(998).optional(),
    html: z.string().max(500_000).optional(),
    media_ids: z.array(Uuid).max(10).optional().openapi({ description: "At most 10, for every type" }),
  })
  .superRefine((b, ctx) => {
    if (b.type === "sms" && b.body.length > 1600) ctx.addIssue({ code: "custom", path: ["body"], message: "an sms body is 1–1600 characters" });
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
