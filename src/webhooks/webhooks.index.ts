import { and, desc, eq, isNull, lt, or } from "drizzle-orm";
import { unroutableEvents } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { createRouter } from "../http/router";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { iso } from "../lib/time";
import { webhook } from "./pipeline";
import { postmarkEvents, postmarkInbound } from "./postmark";
import { twilioMessages, twilioStatus } from "./twilio";
import { twilioCalls } from "./twilio-calls";
import * as routes from "./webhooks.routes";

const listUnroutable: AppRouteHandler<typeof routes.listUnroutable> = async (c) => {
  const { limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, timeIdCursor);
  const u = unroutableEvents;
  const rows = await c.var.db
    .select()
    .from(u)
    .where(
      and(
        eq(u.orgId, c.get("orgId")),
        isNull(u.resolvedAt),
        after ? or(lt(u.receivedAt, after[0]), and(eq(u.receivedAt, after[0]), lt(u.id, after[1]))) : undefined,
      ),
    )
    .orderBy(desc(u.receivedAt), desc(u.id))
    .limit(limit + 1);
  const { data, next_cursor } = page(rows, limit, (last) => [last.receivedAt, last.id]);
  return c.json(
    { data: data.map((e) => ({ id: e.id, provider: e.provider, reason: e.reason, received_at: iso(e.receivedAt), payload: e.payload })), next_cursor },
    200,
  );
};

export const webhooksRouter = createRouter()
  .openapi(routes.twilioInbound, webhook(twilioMessages))
  .openapi(routes.twilioStatus, webhook(twilioStatus))
  .openapi(routes.twilioCalls, webhook(twilioCalls))
  .openapi(routes.postmarkInbound, webhook(postmarkInbound))
  .openapi(routes.postmarkEvents, webhook(postmarkEvents))
  .openapi(routes.listUnroutable, listUnroutable);
