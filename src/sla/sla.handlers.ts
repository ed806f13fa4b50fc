import { eq } from "drizzle-orm";
import { slaConfigs } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { isoOrNull } from "../lib/time";
import { inbox } from "../org-inbox/client";
import { DEFAULT_SLA, type SlaSettings } from "./due";
import { overdueCountQuery } from "./queries";
import type * as routes from "./sla.routes";

const toSla = (s: SlaSettings & { updatedAt?: number | null }) => ({
  enabled: s.enabled,
  first_response_minutes: s.firstResponseMinutes,
  business_hours: s.businessHours,
  updated_at: isoOrNull(s.updatedAt),
});

export const getSla: AppRouteHandler<typeof routes.getSla> = async (c) => {
  const row = await c.var.db
    .select()
    .from(slaConfigs)
    .where(eq(slaConfigs.orgId, c.get("orgId")))
    .get();
  return c.json(toSla(row ?? DEFAULT_SLA), 200);
};

export const putSla: AppRouteHandler<typeof routes.putSla> = async (c) => {
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const row = await inbox(c.env, orgId).replaceSla({
    enabled: body.enabled,
    firstResponseMinutes: body.first_response_minutes,
    businessHours: body.business_hours,
  });
  return c.json(toSla(row), 200);
};

export const overdueCount: AppRouteHandler<typeof routes.overdueCount> = async (c) => {
  const assignee = c.req.valid("query").scope === "mine" ? c.get("userId") : null;
  const [row] = await overdueCountQuery(c.var.db, c.get("orgId"), assignee, Date.now());
  return c.json({ count: row?.n ?? 0 }, 200);
};
