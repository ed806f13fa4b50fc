import type { AppRouteHandler } from "../env";
import { ApiError } from "../lib/errors";
import { isWebSocketUpgrade } from "../middleware/auth";
import { orgInbox } from "../org-inbox/client";
import type * as routes from "./events.routes";

/** Checked here (token, membership), accepted by the org's OrgInbox with the hibernation API. */
export const events: AppRouteHandler<typeof routes.events> = async (c) => {
  if (!isWebSocketUpgrade(c)) throw new ApiError("upgrade_required", "GET /events is a WebSocket: send Upgrade: websocket.");
  const since = c.req.valid("query").since;
  const headers = new Headers({ upgrade: "websocket", "x-inbox-user": c.get("userId"), "x-inbox-role": c.get("role") });
  if (since !== undefined) headers.set("x-inbox-since", String(since));
  const res = await orgInbox(c.env, c.get("orgId")).fetch(new Request("https://org-inbox/events", { headers }));
  if (res.status === 429) throw new ApiError("rate_limited", "This org has too many open event sockets.");
  // A fresh Response: the object's has immutable headers, and the request middleware adds X-Request-Id.
  return new Response(null, { status: res.status, webSocket: res.webSocket }) as never;
};
