import { and, count, eq, isNotNull, lte } from "drizzle-orm";
import { db } from "../db/client";
import { conversations, slaConfigs } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { createRouter } from "../lib/router";
import { isoOrNull } from "../lib/time";
import { orgInbox, unwrap } from "../org-inbox/org-inbox";
import { DEFAULT_SLA, type SlaSettings } from "./due";
import * as r from "./sla.routes";

const toSla = (s: SlaSettings & { updatedAt?: number | null }) => ({
  enabled: s.enabled,
  first_response_minutes: s.firstResponseMinutes,
  business_hours: s.businessHours,
  updated_at: isoOrNull(s.updatedAt),
});

const getSla: AppRouteHandler<typeof r.getSla> = async (c) => {
  const row = await db(c.env).select().from(slaConfigs).where(eq(slaConfigs.orgId, c.get("orgId"))).get();
  return c.json(toSla(row ?? DEFAULT_SLA), 200);
};

const putSla: AppRouteHandler<typeof r.putSla> = async (c) => {
  const b = c.req.valid("json");
  const orgId = c.get("orgId");
  const row = unwrap(
    await orgInbox(c.env, orgId).replaceSla(orgId, { enabled: b.enabled, firstResponseMinutes: b.first_response_minutes, businessHours: b.business_hours }),
  );
  return c.json(toSla(row), 200);
};

// Index-backed: a range on conversations_sla_idx / conversations_sla_assignee_idx.
const overdueCount: AppRouteHandler<typeof r.overdueCount> = async (c) => {
  const mine = c.req.valid("query").scope === "mine";
  const cv = conversations;
  const [row] = await db(c.env)
    .select({ n: count() })
    .from(cv)
    .where(
      and(
        eq(cv.orgId, c.get("orgId")),
        mine ? eq(cv.assignedTo, c.get("userId")) : undefined,
        eq(cv.archived, false),
        isNotNull(cv.slaDueAt),
        lte(cv.slaDueAt, Date.now()),
      ),
    );
  return c.json({ count: row?.n ?? 0 }, 200);
};

export const slaRouter = createRouter().openapi(r.getSla, getSla).openapi(r.putSla, putSla).openapi(r.overdueCount, overdueCount);
