import type { Db } from "../db/client";
import { unroutableEvents } from "../db/schema";
import { controlDb, shardDb } from "../db/shards";
import type { Bindings } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";

/**
 * Nothing a provider hands over is lost: what cannot be applied is kept raw, with why.
 * An event of a known org goes to that org's shard (GET /webhooks/unroutable lists it);
 * one of no known org to the control database, for the operator. If the org's shard
 * cannot be reached, the control database keeps it (with its org) rather than lose it.
 */
export async function keepUnroutable(
  env: Bindings,
  event: { orgId: string | null; provider: string; reason: string; payload: unknown; waitingFor?: string | null },
) {
  const now = Date.now();
  const id = uuidv7(now);
  let d: Db = controlDb(env);
  if (event.orgId) {
    try {
      d = await shardDb(env, event.orgId);
    } catch (e) {
      log("error", "unroutable_shard_unreachable", { org_id: event.orgId, error: String(e) });
    }
  }
  await d.insert(unroutableEvents).values({
    id,
    orgId: event.orgId,
    provider: event.provider,
    reason: event.reason,
    waitingFor: event.waitingFor ?? null,
    payload: event.payload,
    receivedAt: now,
  });
  log("warn", "unroutable_event", { id, org_id: event.orgId, provider: event.provider, reason: event.reason });
  return id;
}
