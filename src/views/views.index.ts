import { db } from "../db/client";
import type { AppRouteHandler } from "../env";
import { createRouter } from "../lib/router";
import { countPlan, runCountPlans } from "./counts";
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

/** Per view, total and unread, all in one D1 round trip (see countPlan for how). */
const viewCounts: AppRouteHandler<typeof r.viewCounts> = async (c) => {
  const d = db(c.env);
  const orgId = c.get("orgId");
  const userId = c.get("userId");
  const rows = await memberViews(d, orgId, userId);
  const now = Date.now();
  const counts = await runCountPlans(d, rows.map((v) => countPlan(d, orgId, userId, v.filters as ViewFilters, now)));
  const data = rows.map((v, i) => ({ view_id: v.id, key: v.key, total: counts[i][0], unread: counts[i][1] }));
  return c.json({ data }, 200);
};

export const viewsRouter = createRouter()
  .openapi(r.viewCounts, viewCounts)
  .openapi(r.listViews, listViews)
  .openapi(r.putViews, putViews);
