import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Channel, channelRoutes, channels } from "../db/schema";
import { controlDb, forgetRoute, shardDb } from "../db/shards";
import type { Bindings } from "../env";
import { log } from "../lib/log";
import { inOrgShard } from "../org-inbox/client";

// A channel lives in two databases: its address route in the control database (unique
// across orgs; webhooks find the org there) and its row in the org's shard. They cannot
// be one batch, so a new channel claims its address first, then writes its row, and
// gives the claim back when the row cannot be written. Removing one goes the other way.

/** A claim younger than this may be a create still in flight: never taken for an orphan. */
export const CLAIM_GRACE_MS = 60_000;

const claim = (control: Db, row: Channel) =>
  control
    .insert(channelRoutes)
    .values({ kind: row.kind, address: row.address, orgId: row.orgId, channelId: row.id, createdAt: row.createdAt })
    .onConflictDoNothing()
    .returning({ channelId: channelRoutes.channelId });

const routeOfChannel = (row: Pick<Channel, "kind" | "address" | "id">) =>
  and(eq(channelRoutes.kind, row.kind), eq(channelRoutes.address, row.address), eq(channelRoutes.channelId, row.id));

/**
 * A route whose channel row is not in its org's shard, older than CLAIM_GRACE_MS, is what
 * a create that died between its two writes (or an undo that failed) leaves behind: it
 * is released so the address can be claimed again. Anything unclear keeps the route.
 */
async function releaseOrphan(env: Bindings, control: Db, kind: Channel["kind"], address: string, now: number) {
  try {
    const route = await control
      .select()
      .from(channelRoutes)
      .where(and(eq(channelRoutes.kind, kind), eq(channelRoutes.address, address), lt(channelRoutes.createdAt, now - CLAIM_GRACE_MS)))
      .get();
    if (!route) return false;
    const shard = await shardDb(env, route.orgId);
    const row = await shard
      .select({ id: channels.id })
      .from(channels)
      .where(and(eq(channels.orgId, route.orgId), eq(channels.id, route.channelId)))
      .get();
    if (row) return false;
    const released = await control
      .delete(channelRoutes)
      .where(routeOfChannel({ kind, address, id: route.channelId }))
      .returning({ channelId: channelRoutes.channelId });
    if (released.length) log("warn", "channel_route_orphan_released", { kind, address, org_id: route.orgId, channel_id: route.channelId });
    return released.length > 0;
  } catch (e) {
    log("warn", "channel_route_orphan_check_failed", { kind, address, error: String(e) });
    return false;
  }
}

/**
 * POST /channels: the address is claimed in the control database, then the row is
 * written into the org's shard `d`; if that write fails the claim is deleted (tried
 * twice, logged loudly if it cannot be) and the write's error is thrown. Null when
 * another channel holds the address.
 */
export async function addChannel(env: Bindings, db: Db, row: Channel): Promise<Channel | null> {
  const control = controlDb(env);
  let claimed = await claim(control, row);
  if (!claimed.length && (await releaseOrphan(env, control, row.kind, row.address, row.createdAt))) claimed = await claim(control, row);
  if (!claimed.length) return null;
  try {
    await inOrgShard(env, row.orgId, db, (shard) => shard.insert(channels).values(row));
  } catch (e) {
    log("warn", "channel_write_failed", { org_id: row.orgId, kind: row.kind, address: row.address, error: String(e) });
    await undoClaim(control, row);
    throw e;
  } finally {
    forgetRoute(row.kind, row.address);
  }
  return row;
}

async function undoClaim(control: Db, row: Channel) {
  for (let attempt = 1; ; attempt++) {
    try {
      await control.delete(channelRoutes).where(routeOfChannel(row));
      return;
    } catch (e) {
      if (attempt >= 2) {
        // The route stays with no channel behind it: released by the next claim of this
        // address once it is CLAIM_GRACE_MS old.
        log("error", "channel_claim_undo_failed", { org_id: row.orgId, kind: row.kind, address: row.address, channel_id: row.id, error: String(e) });
        return;
      }
    }
  }
}

/**
 * DELETE /channels/{id}: the row from the shard first, then its route. False when neither
 * was there. A route left by a failed earlier DELETE (its row gone) is removed by a repeat.
 */
export async function removeChannel(env: Bindings, db: Db, orgId: string, channelId: string): Promise<boolean> {
  const rows = await inOrgShard(env, orgId, db, (shard) =>
    shard
      .delete(channels)
      .where(and(eq(channels.id, channelId), eq(channels.orgId, orgId)))
      .returning({ kind: channels.kind, address: channels.address }),
  );
  const routes = await controlDb(env)
    .delete(channelRoutes)
    .where(and(eq(channelRoutes.orgId, orgId), eq(channelRoutes.channelId, channelId)))
    .returning({ kind: channelRoutes.kind, address: channelRoutes.address });
  for (const r of [...rows, ...routes]) forgetRoute(r.kind, r.address);
  return rows.length > 0 || routes.length > 0;
}
