import { and, eq, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversations, slaConfigs } from "../db/schema";
import { type SlaSettings, slaDueAt } from "../sla/due";

const CHUNK = 200;

/**
 * Stores the org's SLA and moves sla_due_at of every waiting conversation to it.
 * Around the clock (or off) is one UPDATE; business hours are computed per
 * conversation and written in batches of CHUNK statements.
 */
export async function replaceSla(db: Db, orgId: string, sla: SlaSettings, now = Date.now()) {
  const row = { orgId, enabled: sla.enabled, firstResponseMinutes: sla.firstResponseMinutes, businessHours: sla.businessHours, updatedAt: now };
  await db.insert(slaConfigs).values(row).onConflictDoUpdate({ target: slaConfigs.orgId, set: row });
  const waiting = and(eq(conversations.orgId, orgId), isNotNull(conversations.awaitingReplySince));
  if (!sla.enabled || !sla.businessHours) {
    await db
      .update(conversations)
      .set({ slaDueAt: sla.enabled ? sql`${conversations.awaitingReplySince} + ${sla.firstResponseMinutes * 60_000}` : null })
      .where(waiting);
    return row;
  }
  const rows = await db.select({ id: conversations.id, since: conversations.awaitingReplySince }).from(conversations).where(waiting).all();
  for (let i = 0; i < rows.length; i += CHUNK) {
    const updates = rows.slice(i, i + CHUNK).map((r) =>
      db
        .update(conversations)
        .set({ slaDueAt: slaDueAt(r.since, sla) })
        .where(eq(conversations.id, r.id)),
    );
    await db.batch(updates as [(typeof updates)[number], ...typeof updates]);
  }
  return row;
}
