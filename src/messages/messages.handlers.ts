import { toMessage } from "../conversations/present";
import type { AppRouteHandler } from "../env";
import { inbox } from "../org-inbox/client";
import { renderForSend } from "../templates/use";
import type * as routes from "./messages.routes";
import { SEND_LIMITS } from "./messages.routes";

export const sendMessage: AppRouteHandler<typeof routes.sendMessage> = async (c) => {
  const orgId = c.get("orgId");
  const body = c.req.valid("json");
  const conversationId = c.req.valid("param").conversation_id.toLowerCase();
  // A template is rendered here (a read), before OrgInbox's turn: OrgInbox stores the
  // rendered text exactly as it would a typed body.
  let text = body.body ?? "";
  let subject = body.subject;
  if (body.template_id !== undefined) {
    const rendered = await renderForSend(
      c.env,
      c.var.db,
      orgId,
      { userId: c.get("userId"), claims: c.get("claims") },
      { templateId: body.template_id, type: body.type, conversationId, limits: SEND_LIMITS },
    );
    text = rendered.body;
    subject ??= rendered.subject ?? undefined;
  }
  const { activity, media } = await inbox(c.env, orgId).sendMessage({
    conversationId,
    type: body.type,
    body: text,
    subject,
    html: body.html,
    mediaIds: (body.media_ids ?? []).map((id) => id.toLowerCase()),
    authorId: c.get("userId"),
    sendAt: body.send_at === undefined || body.send_at === "next_business_open" ? body.send_at : Date.parse(body.send_at),
  });
  const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
  return c.json(message, body.type === "note" ? 201 : 202);
};

export const cancelMessage: AppRouteHandler<typeof routes.cancelMessage> = async (c) => {
  const { conversation_id, message_id } = c.req.valid("param");
  const { activity, media } = await inbox(c.env, c.get("orgId")).cancelMessage(conversation_id.toLowerCase(), message_id.toLowerCase());
  return c.json(await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m]))), 200);
};
