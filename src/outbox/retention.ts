import { isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { orgMoves, webhookDeliveries, webhookEvents } from "../db/schema";
import { controlDb, eachShard } from "../db/shards";
import type { Bindings } from "../env";
import { log } from "../lib/log";

// How long the webhook outbox keeps what it has finished with (docs/decisions.md,
// Webhook retention). SPEC 18 says nothing; without a limit both tables grow with every
// change of every org. Stripe keeps events 30 days, and so do we:
// - a delivery that succeeded or failed goes 30 days after its last change (an attempt,
//   or a retry asked for: POST …/retry makes it pending, and a pending one is never pruned);
// - an event goes 30 days after it was written, once it was dispatched and no delivery
//   refers to it any more (a retried delivery still needs its event's body).
// Every minute (the webhook sweep's Cron), at most PRUNE_LIMIT rows of each table per shard,
// oldest first, each an index range (migration 0018), so a backlog drains over a few runs
// and a run costs little. An org with an open move (org_moves in the control database,
// until its old rows are gone) is left alone in every shard: its rows are being copied
// and then compared, source with target (a row pruned from the copy would fail the move),
// and the source's fence refuses the delete anyway.

export const WEBHOOK_RETENTION_DAYS = 30;
export const WEBHOOK_RETENTION_MS = WEBHOOK_RETENTION_DAYS * 86_400_000;
/** Rows of each table a run deletes per shard, at most. */
export const PRUNE_LIMIT = 500;

export type Pruned = { deliveries: number; events: number };

/** Orgs a prune leaves alone: fenced in this shard, or moving (their ids, one JSON parameter). */
const leftAlone = (orgId: SQL, moving: string[]) =>
  sql`${orgId} NOT IN (SELECT org_id FROM org_fences) AND ${orgId} NOT IN (SELECT value FROM json_each(${JSON.stringify(moving)}))`;

/** Open moves a run reads, at most; with more (never seen: moves are an operator's, one at a time an org), the run prunes nothing. */
export const MOVES_MAX = 1000;

/** Settled deliveries last changed before `cutoff`, oldest first, at most `limit` (webhook_deliveries_settled_idx). */
export const pruneDeliveriesQuery = (db: Db, cutoff: number, limit: number, moving: string[] = []) =>
  db.delete(webhookDeliveries).where(sql`rowid IN (
    SELECT rowid FROM webhook_deliveries
    WHERE status <> 'pending' AND updated_at < ${cutoff} AND ${leftAlone(sql`org_id`, moving)}
    ORDER BY updated_at LIMIT ${limit})`);

/**
 * Events dispatched before `cutoff` that no delivery refers to, oldest first, at most
 * `limit` (webhook_events_dispatched_idx; the reference by webhook_deliveries_event_idx).
 * After pruneDeliveriesQuery in one batch, so it sees the deliveries that just went.
 */
export const pruneEventsQuery = (db: Db, cutoff: number, limit: number, moving: string[] = []) =>
  db.delete(webhookEvents).where(sql`rowid IN (
    SELECT e.rowid FROM webhook_events AS e
    WHERE e.dispatched_at IS NOT NULL AND e.created_at < ${cutoff}
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS d WHERE d.event_id = e.id)
      AND ${leftAlone(sql`e.org_id`, moving)}
    ORDER BY e.created_at LIMIT ${limit})`);

/** One run over every shard: settled deliveries and unreferenced events older than the retention. */
export async function pruneWebhooks(env: Bindings, now = Date.now(), limit = PRUNE_LIMIT): Promise<Pruned> {
  const cutoff = now - WEBHOOK_RETENTION_MS;
  const pruned: Pruned = { deliveries: 0, events: 0 };
  const moving = (await controlDb(env).select({ orgId: orgMoves.orgId }).from(orgMoves).where(isNull(orgMoves.finishedAt)).limit(MOVES_MAX).all()).map(
    (m) => m.orgId,
  );
  if (moving.length >= MOVES_MAX) {
    log("error", "webhook_prune_skipped", { reason: "too many open moves", open_moves: moving.length });
    return pruned;
  }
  for (const { name, db } of eachShard(env)) {
    try {
      // Deliveries first, so the events they held can go in the same batch.
      const [deliveries, events] = await db.batch([pruneDeliveriesQuery(db, cutoff, limit, moving), pruneEventsQuery(db, cutoff, limit, moving)]);
      pruned.deliveries += deliveries.meta.changes;
      pruned.events += events.meta.changes;
    } catch (e) {
      // One shard's trouble does not stop the others'; the next run tries again.
      log("error", "webhook_prune_failed", { shard: name, error: String(e) });
    }
  }
  if (pruned.deliveries || pruned.events) log("info", "webhook_pruned", pruned);
  return pruned;
}
