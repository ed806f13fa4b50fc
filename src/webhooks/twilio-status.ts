import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { activities, unroutableEvents } from "../db/schema";
import { FINAL_STATUSES, movesForwardTo, STATUS_RANK } from "./status-rules";

// Twilio's MessageStatus values we apply are our own statuses (forward-only, see status-rules).
export const isTwilioMessageStatus = (s: string) => s in STATUS_RANK || FINAL_STATUSES.includes(s);

/**
 * Applies a Twilio MessageStatus to our outbound message: "applied" (with the message's id), "stale" (older news) or "unknown".
 * The status webhook and the send sweep (which reads it from Twilio's API) both come through here.
 */
export async function applyTwilioStatus(d: Db, orgId: string, sid: string, status: string, errorCode: string | null, errorMessage: string | null) {
  const match = and(eq(activities.orgId, orgId), eq(activities.provider, "twilio"), eq(activities.providerMessageId, sid));
  const [updated] = await d
    .update(activities)
    .set({ status, updatedAt: Date.now(), ...(errorCode ? { errorCode, errorMessage: errorMessage ?? `Twilio error ${errorCode}` } : {}) })
    .where(and(match, movesForwardTo(status)))
    .returning({ id: activities.id });
  if (updated) return { outcome: "applied" as const, id: updated.id };
  return { outcome: (await d.select({ id: activities.id }).from(activities).where(match).get()) ? ("stale" as const) : ("unknown" as const), id: null };
}

/** Status callbacks that beat the send consumer to storing the sid: applied now, in arrival order. */
export async function applyWaitingStatuses(d: Db, orgId: string, sid: string) {
  const waiting = await d
    .select()
    .from(unroutableEvents)
    .where(and(eq(unroutableEvents.provider, "twilio"), eq(unroutableEvents.waitingFor, sid), eq(unroutableEvents.orgId, orgId), isNull(unroutableEvents.resolvedAt)))
    .orderBy(unroutableEvents.receivedAt)
    .all();
  for (const event of waiting) {
    const p = event.payload as Record<string, string>;
    const status = (p.MessageStatus ?? p.SmsStatus ?? "").toLowerCase();
    if (isTwilioMessageStatus(status)) await applyTwilioStatus(d, orgId, sid, status, p.ErrorCode ?? null, p.ErrorMessage ?? null);
    await d.update(unroutableEvents).set({ resolvedAt: Date.now() }).where(eq(unroutableEvents.id, event.id));
  }
}
