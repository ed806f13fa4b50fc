import { toMessage } from "../conversations/present";
import type { AppRouteHandler } from "../env";
import { inbox } from "../org-inbox/client";
import type * as routes from "./messages.routes";

export const sendMessage: AppRouteHandler<typeof routes.sendMessage> = async (c) => {
  const orgId = c.get("orgId");
  const body = c.req.valid("json");
  const { activity, media } = await inbox(c.env, orgId).sendMessage({
    conversationId: c.req.valid("param").conversation_id.toLowerCase(),
    type: body.type,
    body: body.body,
    subject: body.subject,
    html: body.html,
    mediaIds: (body.media_ids ?? []).map((id) => id.toLowerCase()),
    authorId: c.get("userId"),
  });
  const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
  return c.json(message, body.type === "note" ? 201 : 202);
};
