import { and, asc, desc, eq, gt, inArray, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { activities } from "../db/schema";

// SPEC 7: a conversation waits from its earliest inbound sms/email or missed
// inbound call not yet followed (by occurred_at) by an outbound sms/email/call.

export const MISSED_CALL_STATUSES = ["no-answer", "busy", "failed", "canceled"] as const;

type Touch = { type: string; direction: string | null; status: string; occurredAt: number };

export const startsWait = (a: Touch) =>
  a.direction === "inbound" &&
  (a.type === "sms" || a.type === "email" || (a.type === "call" && (MISSED_CALL_STATUSES as readonly string[]).includes(a.status)));

export const isReply = (a: Touch) => a.direction === "outbound" && (a.type === "sms" || a.type === "email" || a.type === "call");

/**
 * The conversation's awaiting_reply_since once `event` (not yet stored) is added.
 * Order-independent: a late-delivered old message lands where its time puts it.
 */
export async function replyWaitWith(d: Db, conversationId: string, event: Touch, isNewConversation: boolean): Promise<number | null> {
  const stored = isNewConversation
    ? { lastReply: null, firstWaiting: null }
    : await storedWait(d, conversationId, isReply(event) ? event.occurredAt : null);
  const lastReply = Math.max(stored.lastReply ?? -Infinity, isReply(event) ? event.occurredAt : -Infinity);
  let since = stored.firstWaiting;
  if (startsWait(event) && event.occurredAt > lastReply) since = since == null ? event.occurredAt : Math.min(since, event.occurredAt);
  return since;
}

async function storedWait(d: Db, conversationId: string, replyAt: number | null) {
  const last = await d
    .select({ at: activities.occurredAt })
    .from(activities)
    .where(and(eq(activities.conversationId, conversationId), eq(activities.direction, "outbound"), inArray(activities.type, ["sms", "email", "call"])))
    .orderBy(desc(activities.occurredAt))
    .limit(1)
    .get();
  const lastReply = Math.max(last?.at ?? -Infinity, replyAt ?? -Infinity);
  const first = await d
    .select({ at: activities.occurredAt })
    .from(activities)
    .where(
      and(
        eq(activities.conversationId, conversationId),
        eq(activities.direction, "inbound"),
        Number.isFinite(lastReply) ? gt(activities.occurredAt, lastReply) : undefined,
        or(
          inArray(activities.type, ["sms", "email"]),
          and(eq(activities.type, "call"), inArray(activities.status, [...MISSED_CALL_STATUSES])),
        ),
      ),
    )
    .orderBy(asc(activities.occurredAt))
    .limit(1)
    .get();
  return { lastReply: Number.isFinite(lastReply) ? lastReply : null, firstWaiting: first?.at ?? null };
}

