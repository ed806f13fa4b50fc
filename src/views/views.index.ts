import { and, count, gt } from "drizzle-orm";
import { conversationWhere } from "../conversations/queries";
import { db } from "../db/client";
import { conversations } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { createRouter } from "../lib/router";
import { memberViews, replaceViews, toView } from "./queries";
import type { ViewFilters } from "./system-views";
import * as r from "./views.routes";

const listViews: AppRouteHandler<typeof r.listViews> = async (c) => {
  const rows = await memberViews(db(c.env), c.get("orgId"), c.get("userId"));
  return c.json({ data: rows.map(toView) }, 200);
};

const putViews: AppRouteHandler<typeof r.putViews> = async (c) => {
  const rows = await replaceViews(db(c.env), c.get("orgId"), c.get("userId"), c.req.valid("json").views);
  return c.json({ data: rows.map(toView) }, 200);
};

/**
 * Two index-backed COUNTs per view, all in one D1 round trip, using the very WHERE
 * the list builds for that view, so a badge always equals the list's length.
 */
const viewCounts: AppRouteHandler<typeof r.viewCounts> = async (c) => {
  const d = db(c.env);
  const orgId = c.get("orgId");
  const userId = c.get("userId");
  const rows = await memberViews(d, orgId, userId);
  const now = Date.now();
  const statements = rows.flatMap((v) => {
    const where = conversationWhere(orgId, userId, v.filters as ViewFilters, now);
    return [
      d.select({ n: count() }).from(conversations).where(where),
      d.select({ n: count() }).from(conversations).where(and(where, gt(conversations.unreadCount, 0))),
    ];
  });
  const results = (await d.batch(statements as [(typeof statements)[number], ...typeof statements])) as { n: number }[][];
  const data = rows.map((v, i) => ({ view_id: v.id, key: v.key, total: results[2 * i][0]?.n ?? 0, unread: results[2 * i + 1][0]?.n ?? 0 }));
  return c.json({ data }, 200);
};

export const viewsRouter = createRouter()
  .openapi(r.viewCounts, viewCounts)
  .openapi(r.listViews, listViews)
  .openapi(r.putViews, putViews);
