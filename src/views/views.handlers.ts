import type { View } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { remember } from "../lib/remember";
import { inbox, inOrgShard } from "../org-inbox/client";
import { countPlan, countsQuery } from "./counts";
import { memberViews, memberViewsQuery, toView } from "./queries";
import type { ViewFilters } from "./system-views";
import type * as routes from "./views.routes";

export const listViews: AppRouteHandler<typeof routes.listViews> = async (c) => {
  const orgId = c.get("orgId");
  const rows = await inOrgShard(c.env, orgId, c.var.db, (db) => memberViews(db, orgId, c.get("userId")));
  return c.json({ data: rows.map(toView) }, 200);
};

export const putViews: AppRouteHandler<typeof routes.putViews> = async (c) => {
  const orgId = c.get("orgId");
  // Through the org's OrgInbox: one save at a time, so concurrent saves cannot mix their replaces.
  // (The RPC type of a JSON column is unknown; the rows are the View rows replaceViews answers.)
  const rows = await inbox(c.env, orgId).replaceViews(c.get("userId"), c.req.valid("json").views);
  return c.json({ data: rows.map(toView) }, 200);
};

// The member's views, remembered per isolate so that a badge refresh is one D1
// round trip: the views are read again in the same batch as the counts, and the
// counts are only used when that read matches what they were planned from.
const knownViews = new Map<string, View[]>();
const KNOWN_VIEWS_MAX = 5_000;
const sameViews = (a: View[], b: View[]) =>
  a.length === b.length && a.every((v, i) => v.id === b[i].id && v.updatedAt === b[i].updatedAt && JSON.stringify(v.filters) === JSON.stringify(b[i].filters));

/** Per view, total and unread (see countPlan for how each stays cheap at any size). */
export const viewCounts: AppRouteHandler<typeof routes.viewCounts> = async (c) => {
  const db = c.var.db;
  const orgId = c.get("orgId");
  const userId = c.get("userId");
  const key = `${orgId}:${userId}`;
  const now = Date.now();
  const plan = (rows: View[]) =>
    countsQuery(
      db,
      orgId,
      rows.map((v) => countPlan(db, orgId, userId, v.filters as ViewFilters, now)),
      // The statements' cut depends on the filters only: remembered under them.
      JSON.stringify(rows.map((v) => v.filters)),
    );
  let rows = knownViews.get(key);
  let counts: [number, number][] | undefined;
  if (rows) {
    const q = plan(rows);
    const [current, ...results] = await db.batch([memberViewsQuery(db, orgId, userId), ...q.statements]);
    if (sameViews(current, rows)) counts = q.read(results as unknown[][]);
    else rows = undefined;
  }
  if (!rows || !counts) {
    rows = await inOrgShard(c.env, orgId, db, (shard) => memberViews(shard, orgId, userId));
    const q = plan(rows);
    counts = q.read((await db.batch(q.statements)) as unknown[][]);
    remember(knownViews, key, rows, KNOWN_VIEWS_MAX);
  }
  const data = rows.map((v, i) => ({ view_id: v.id, key: v.key, total: counts[i][0], unread: counts[i][1] }));
  return c.json({ data }, 200);
};
