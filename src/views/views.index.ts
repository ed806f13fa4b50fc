import { and, count, eq, gt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { conversationWhere } from "../conversations/queries";
import { db } from "../db/client";
import { conversationTallies, conversations } from "../db/schema";
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

/** The tallies matching a view's time-independent filters (the same meaning as conversationWhere). */
function tallyWhere(orgId: string, userId: string, f: ViewFilters) {
  const t = conversationTallies;
  return and(
    eq(t.orgId, orgId),
    f.archived === undefined ? undefined : eq(t.archived, f.archived),
    f.starred === undefined ? undefined : eq(t.starred, f.starred),
    f.unread === undefined ? undefined : eq(t.unread, f.unread),
    f.scope === "mine" ? eq(t.assignee, userId) : undefined,
    f.assigned_to === undefined ? undefined : eq(t.assignee, f.assigned_to === "unassigned" ? "" : f.assigned_to.toLowerCase()),
  );
}

/**
 * Per view, total and unread, all in one D1 round trip. Views without a time filter
 * add up OrgInbox's tallies (a few rows whatever the org's size); views with
 * `overdue` or `active_within_days` count the list's own WHERE on an index range.
 */
const viewCounts: AppRouteHandler<typeof r.viewCounts> = async (c) => {
  const d = db(c.env);
  const orgId = c.get("orgId");
  const userId = c.get("userId");
  const rows = await memberViews(d, orgId, userId);
  const now = Date.now();
  const t = conversationTallies;
  const statements = rows.flatMap((v): BatchItem<"sqlite">[] => {
    const f = v.filters as ViewFilters;
    if (f.overdue === undefined && f.active_within_days === undefined) {
      const where = tallyWhere(orgId, userId, f);
      return [
        d.select({ n: sql<number>`COALESCE(SUM(${t.n}), 0)` }).from(t).where(where),
        d.select({ n: sql<number>`COALESCE(SUM(${t.n}), 0)` }).from(t).where(and(where, eq(t.unread, true))),
      ];
    }
    const where = conversationWhere(orgId, userId, f, now);
    return [
      d.select({ n: count() }).from(conversations).where(where),
      d.select({ n: count() }).from(conversations).where(and(where, gt(conversations.unreadCount, 0))),
    ];
  });
  const results = (await d.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])) as { n: number }[][];
  const data = rows.map((v, i) => ({ view_id: v.id, key: v.key, total: Number(results[2 * i][0]?.n ?? 0), unread: Number(results[2 * i + 1][0]?.n ?? 0) }));
  return c.json({ data }, 200);
};

export const viewsRouter = createRouter()
  .openapi(r.viewCounts, viewCounts)
  .openapi(r.listViews, listViews)
  .openapi(r.putViews, putViews);
