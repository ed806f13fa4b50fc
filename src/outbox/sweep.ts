import { and, isNull, lt, or, sql } from "drizzle-orm";
import { webhookDeliveries, webhookEvents } from "../db/schema";
import { eachShard } from "../db/shards";
import type { Bindings } from "../env";
import { enqueueWebhookJobs, type WebhookJob } from "../jobs";
import { log } from "../lib/log";

// Every minute (wrangler.toml [triggers]): what the queue should have carried and did not.
// An outbox row written by a turn whose dispatch job was never queued (the Worker died
// between the write and the enqueue, or the enqueue failed) is dispatched; a pending
// delivery whose attempt is overdue and not in flight (its job was lost) is queued again.
// Both are safe to repeat: dispatch inserts a delivery once per (endpoint, event), and an
// attempt starts only by taking the delivery's lease.

/** An outbox row this old with no dispatch is the sweep's (younger ones have their job on the way). */
export const UNDISPATCHED_AFTER_MS = 30_000;
/** A delivery this far past its next attempt has lost its job. */
export const OVERDUE_AFTER_MS = 60_000;
/** Orgs, and deliveries, a sweep queues per shard. */
export const SWEEP_LIMIT = 500;

export async function sweepWebhooks(env: Bindings, now = Date.now()) {
  const jobs: WebhookJob[] = [];
  for (const { name, db } of eachShard(env)) {
    try {
      const [orgs, overdue] = await db.batch([
        db
          .selectDistinct({ orgId: webhookEvents.orgId })
          .from(webhookEvents)
          .where(and(isNull(webhookEvents.dispatchedAt), lt(webhookEvents.createdAt, now - UNDISPATCHED_AFTER_MS)))
          .limit(SWEEP_LIMIT),
        db
          .select({ id: webhookDeliveries.id, orgId: webhookDeliveries.orgId })
          .from(webhookDeliveries)
          .where(
            and(
              sql`${webhookDeliveries.status} = 'pending'`,
              lt(webhookDeliveries.nextAttemptAt, now - OVERDUE_AFTER_MS),
              or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, now)),
            ),
          )
          .orderBy(webhookDeliveries.nextAttemptAt)
          .limit(SWEEP_LIMIT),
      ]);
      jobs.push(...orgs.map((o) => ({ kind: "dispatch" as const, orgId: o.orgId })));
      jobs.push(...overdue.map((d) => ({ kind: "deliver" as const, orgId: d.orgId, deliveryId: d.id })));
    } catch (e) {
      // One shard's trouble does not stop the others'.
      log("error", "webhook_sweep_failed", { shard: name, error: String(e) });
    }
  }
  for (let i = 0; i < jobs.length; i += 100) await enqueueWebhookJobs(env, jobs.slice(i, i + 100));
  const counts = { dispatch: jobs.filter((j) => j.kind === "dispatch").length, deliver: jobs.filter((j) => j.kind === "deliver").length };
  if (jobs.length) log("info", "webhook_sweep", counts);
  return counts;
}
