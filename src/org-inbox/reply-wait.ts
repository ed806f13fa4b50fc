import { type Placeholder, type SQL, sql } from "drizzle-orm";
import { type Db, oneRow } from "../db/client";
import { memo } from "../db/memo";

// SPEC 7: a conversation waits from its earliest inbound sms/email or missed
// inbound call not yet followed (by occurred_at) by an outbound sms/email/call. An
// sms/email that never went out is no reply: scheduled (until released), canceled, or
// failed before any attempt (SPEC 20; neverSent in src/conversations/queries.ts).

export const MISSED_CALL_STATUSES = ["no-answer", "busy", "failed", "canceled"] as const;

type Touch = { type: string; direction: string | null; status: string; occurredAt: number };

export const startsWait = (a: Touch) =>
  a.direction === "inbound" &&
  (a.type === "sms" || a.type === "email" || (a.type === "call" && (MISSED_CALL_STATUSES as readonly string[]).includes(a.status)));

export const isReply = (a: Touch) =>
  a.direction === "outbound" && (a.type === "call" || ((a.type === "sms" || a.type === "email") && a.status !== "scheduled" && a.status !== "canceled"));

export type StoredWait = { last_reply: number | null; first_waiting: number | null };

/**
 * The wait once `event` (not yet stored) is added to what `stored` found.
 * Order-independent: a late-delivered old message lands where its time puts it.
 */
export function replyWaitWith(stored: StoredWait | undefined, event: Touch): number | null {
  const lastReply = Math.max(stored?.last_reply ?? -Infinity, isReply(event) ? event.occurredAt : -Infinity);
  let since = stored?.first_waiting ?? null;
  if (startsWait(event) && event.occurredAt > lastReply) since = since == null ? event.occurredAt : Math.min(since, event.occurredAt);
  return since;
}

/**
 * One statement, batchable with the ingest's other reads: the newest stored reply,
 * and the earliest stored wait-starting inbound after max(that reply, `replyAt`),
 * for the conversation `conversationId` names (an id, or a subquery yielding one).
 * Both walk activities_direction_idx.
 */
export function storedWaitQuery(db: Db, conversationId: SQL, replyAt: number | null | Placeholder) {
  // From one row: a builder (not raw SQL) is what a D1 batch accepts.
  return db.select(waitColumns(conversationId, sql`${replyAt ?? -1}`)).from(oneRow());
}

/** The two columns of a stored wait, for the conversation `conversationId` names and a reply at `replyAt` (-1: none). */
function waitColumns(conversationId: SQL, replyAt: SQL) {
  const missed = sql.join(
    MISSED_CALL_STATUSES.map((s) => sql`${s}`),
    sql`, `,
  );
  const lastReply = sql`(SELECT occurred_at FROM activities
    WHERE conversation_id = ${conversationId} AND direction = 'outbound' AND type IN ('sms', 'email', 'call')
      AND NOT (type IN ('sms', 'email') AND (status IN ('scheduled', 'canceled') OR (status = 'failed' AND send_attempts = 0)))
    ORDER BY occurred_at DESC LIMIT 1)`;
  return {
    last_reply: sql<number | null>`${lastReply}`,
    first_waiting: sql<number | null>`(SELECT occurred_at FROM activities
        WHERE conversation_id = ${conversationId} AND direction = 'inbound'
          AND occurred_at > MAX(COALESCE(${lastReply}, -1), ${replyAt})
          AND (type IN ('sms', 'email') OR (type = 'call' AND status IN (${missed})))
        ORDER BY occurred_at ASC LIMIT 1)`,
  };
}

/** A stored-wait question of a group commit: the thread, and the reply its item counts from (-1: none). */
export type WaitAsk = { conversation: string; replyAt: number };

/**
 * Many stored waits in one statement (a group commit's, one row per ask, `i` its index in
 * `asks`): the asks travel as one JSON parameter, so a group of 500 items asks in one
 * statement, not 500 (each of which D1 prepared, ran and answered on its own). Built once
 * (src/db/memo.ts); each row's two subqueries are storedWaitQuery's.
 */
export const storedWaitsQuery = (db: Db, asks: WaitAsk[]) =>
  memo(
    db,
    "reply-wait.many",
    () =>
      db
        .select({ i: sql<number>`ask.key`.as("i"), ...waitColumns(sql`json_extract(ask.value, '$.conversation')`, sql`json_extract(ask.value, '$.replyAt')`) })
        .from(sql`json_each(${sql.placeholder("asks")}) AS ask`),
    { asks: JSON.stringify(asks) },
  );
