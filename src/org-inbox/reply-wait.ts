import { sql } from "drizzle-orm";
import type { Db } from "../db/client";

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

/**
 * One statement: the newest stored reply, and the earliest stored wait-starting
 * inbound after max(that reply, `replyAt`). Both walk activities_direction_idx.
 */
async function storedWait(d: Db, conversationId: string, replyAt: number | null) {
  const missed = sql.join(MISSED_CALL_STATUSES.map((s) => sql`${s}`), sql`, `);
  const row = await d.get<{ last_reply: number | null; first_waiting: number | null }>(sql`
    WITH r AS (
      SELECT (SELECT occurred_at FROM activities
              WHERE conversation_id = ${conversationId} AND direction = 'outbound' AND type IN ('sms', 'email', 'call')
              ORDER BY occurred_at DESC LIMIT 1) AS t
    )
    SELECT r.t AS last_reply,
      (SELECT occurred_at FROM activities
       WHERE conversation_id = ${conversationId} AND direction = 'inbound'
         AND occurred_at > MAX(COALESCE(r.t, -1), ${replyAt ?? -1})
         AND (type IN ('sms', 'email') OR (type = 'call' AND status IN (${missed})))
       ORDER BY occurred_at ASC LIMIT 1) AS first_waiting
    FROM r`);
  return { lastReply: row?.last_reply ?? null, firstWaiting: row?.first_waiting ?? null };
}
