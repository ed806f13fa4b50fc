import { toMessage } from "../conversations/present";
import type { AppRouteHandler } from "../env";
import { inbox } from "../org-inbox/client";
import type * as R from "./messages.routes";

export const sendMessage: AppRouteHandler<typeof R.sendMessage> = async (c) => {
  const orgId = c.get("orgId");
  const b = c.req.valid("json");
  const { activity, media } = await inbox(c.env, orgId).sendMessage({
    conversationId: c.req.valid("param").conversation_id.toLowerCase(),
    type: b.type,
    body: b.body,
    subject: b.subject,
    html: b.html,
    mediaIds: (b.media_ids ?? []).map((id) => id.toLowerCase()),
    authorId: c.get("userId"),
  });
  const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
  return c.json(message, b.type === "note" ? 201 : 202);
};
