import { and, asc, eq, gte, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { activities } from "../db/schema";

/**
 * Where a walk of the org's changes starts: at a time (`updated_since`, inclusive), or
 * just after the row a cursor names (its updated_at and id).
 */
export type ChangesFrom = { since: number } | { after: [updatedAt: number, id: string] };

/**
 * GET /activities?updated_since= (SPEC 20): the org's messages (never setter drafts) in
 * (updated_at, id) order, oldest change first. A range of activities_updated_idx
 * (org_id, updated_at, id): the keyset is a row-value comparison, which SQLite turns into
 * the index range itself, so a page costs what the page costs at any depth.
 */
export function changedMessages(db: Db, orgId: string, from: ChangesFrom, limit: number) {
  const a = activities;
  const start = "since" in from ? gte(a.updatedAt, from.since) : sql`(${a.updatedAt}, ${a.id}) > (${from.after[0]}, ${from.after[1]})`;
  return db
    .select()
    .from(a)
    .where(and(eq(a.orgId, orgId), start, ne(a.type, "suggestion")))
    .orderBy(asc(a.updatedAt), asc(a.id))
    .limit(limit + 1);
}
