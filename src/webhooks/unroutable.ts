import type { Db } from "../db/client";
import { unroutableEvents } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";

/** Nothing a provider hands over is lost: what cannot be applied is kept raw, with why. */
export async function keepUnroutable(
  d: Db,
  event: { orgId: string | null; provider: string; reason: string; payload: unknown; waitingFor?: string | null },
) {
  const now = Date.now();
  const id = uuidv7(now);
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
