import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Activity, activities, unroutableEvents } from "../db/schema";
import { enqueueSend, type JobQueues } from "../jobs";
import { log } from "../lib/log";
import type { Outbox } from "./outbox";
import { isTwilioMessageStatus, movesForwardTo, type PostmarkChange } from "./status-rules";

// The delivery state of outbound messages: the send consumer's claim and outcome, the
// providers' status callbacks, the send sweep's findings. Only OrgInbox runs these (one
// turn of its chain each); every change of a message is announced as message.updated, its
// event row in the batch of the change (Outbox.changed; one event a turn, built after it). Provider
// HTTP calls never happen here: callers ask the provider first and hand over the answer.

/**
 * The send consumer's claim, queued → sending: a conditional update, so a redelivered
 * job, or one for a message no longer queued (or another org's), gets null and sends nothing.
 */
export async function claimSend(db: Db, orgId: string, messageId: string, now = Date.now()): Promise<Activity | null> {
  const [claimed] = await db
    .update(activities)
    .set({ status: "sending", sendAttempts: sql`${activities.sendAttempts} + 1`, updatedAt: now })
    .where(and(eq(activities.id, messageId), eq(activities.orgId, orgId), eq(activities.status, "queued")))
    .returning();
  return claimed ?? null;
}

/** What the provider made of a claimed message: sent (its id), or failed / queued again for a retry, with its error. */
export type SendResult =
  | { status: "sent"; provider: string; providerMessageId: string }
  | { status: "failed" | "queued"; errorCode: string; errorMessage: string };

/** The send consumer's outcome, applied only while the message is still `sending`. */
export async function settleSend(db: Db, orgId: string, messageId: string, result: SendResult, out: Outbox, now = Date.now()) {
  const sending = and(eq(activities.id, messageId), eq(activities.orgId, orgId), eq(activities.status, "sending"));
  const event = messageUpdated(messageId);
  if (result.status === "sent") {
    await out.changed(
      db
        .update(activities)
        .set({ status: "sent", providerMessageId: result.providerMessageId, errorCode: null, errorMessage: null, updatedAt: now })
        .where(sending)
        .returning({ id: activities.id }),
      event,
    );
    // Callbacks that came before the sid was stored are applied now; the event carries the final state.
    if (result.provider === "twilio") await applyWaitingStatuses(db, orgId, result.providerMessageId, out);
    return;
  }
  await out.changed(
    db
      .update(activities)
      .set({ status: result.status, errorCode: result.errorCode, errorMessage: result.errorMessage, updatedAt: now })
      .where(sending)
      .returning({ id: activities.id }),
    event,
  );
}

const messageUpdated = (id: string) => ({ type: "message.updated" as const, conversationId: null, objectId: id });

/**
 * A consumer that died after the provider accepted leaves its message `sending` with no
 * provider id; the provider's callback names our id (Twilio: the callback URL, Postmark:
 * Metadata), so the id it carries is adopted. Only for a message still waiting for one.
 */
async function adoptProviderId(db: Db, orgId: string, messageId: string, provider: "twilio" | "postmark", providerMessageId: string, out: Outbox) {
  const [adopted] = await out.changed(
    db
      .update(activities)
      .set({ providerMessageId, updatedAt: Date.now() })
      .where(
        and(
          eq(activities.id, messageId),
          eq(activities.orgId, orgId),
          eq(activities.provider, provider),
          eq(activities.direction, "outbound"),
          eq(activities.status, "sending"),
          isNull(activities.providerMessageId),
        ),
      )
      .returning({ id: activities.id }),
    messageUpdated(messageId),
  );
  return Boolean(adopted);
}

/** A Twilio MessageStatus for our outbound message: "applied" (with the message's id), "stale" (older news) or "unknown". */
async function applyTwilioStatus(db: Db, orgId: string, sid: string, status: string, errorCode: string | null, errorMessage: string | null, out: Outbox) {
  const match = and(eq(activities.orgId, orgId), eq(activities.provider, "twilio"), eq(activities.providerMessageId, sid));
  const set = { status, updatedAt: Date.now(), ...(errorCode ? { errorCode, errorMessage: errorMessage ?? `Twilio error ${errorCode}` } : {}) };
  if (!out.writes("message.updated")) {
    // No outbox row to write: the update finds the message by its sid, as it did before
    // webhooks (no read first on this hot path); the socket event names what it changed.
    const [updated] = await db
      .update(activities)
      .set(set)
      .where(and(match, movesForwardTo(status)))
      .returning({ id: activities.id });
    if (updated) {
      out.settle(true, messageUpdated(updated.id));
      return { outcome: "applied" as const, id: updated.id };
    }
    return { outcome: (await db.select({ id: activities.id }).from(activities).where(match).get()) ? ("stale" as const) : ("unknown" as const), id: null };
  }
  // The outbox row names the message, so its id is read first (the sid is unique in the org).
  const found = await db.select({ id: activities.id }).from(activities).where(match).get();
  if (!found) return { outcome: "unknown" as const, id: null };
  const [updated] = await out.changed(
    db
      .update(activities)
      .set(set)
      .where(and(eq(activities.id, found.id), match, movesForwardTo(status)))
      .returning({ id: activities.id }),
    messageUpdated(found.id),
  );
  return updated ? { outcome: "applied" as const, id: updated.id } : { outcome: "stale" as const, id: null };
}

/** Status callbacks that beat the send consumer to storing the sid: applied now, in arrival order. */
async function applyWaitingStatuses(db: Db, orgId: string, sid: string, out: Outbox) {
  const waiting = await db
    .select()
    .from(unroutableEvents)
    .where(
      and(
        eq(unroutableEvents.provider, "twilio"),
        eq(unroutableEvents.waitingFor, sid),
        eq(unroutableEvents.orgId, orgId),
        isNull(unroutableEvents.resolvedAt),
      ),
    )
    .orderBy(unroutableEvents.receivedAt)
    .all();
  for (const event of waiting) {
    const p = event.payload as Record<string, string>;
    const status = (p.MessageStatus ?? p.SmsStatus ?? "").toLowerCase();
    if (isTwilioMessageStatus(status)) await applyTwilioStatus(db, orgId, sid, status, p.ErrorCode ?? null, p.ErrorMessage ?? null, out);
    await db.update(unroutableEvents).set({ resolvedAt: Date.now() }).where(eq(unroutableEvents.id, event.id));
  }
}

/** A Twilio status for message `sid`; `messageId` (our id, from the callback URL) adopts the sid for a message that has none. */
export type TwilioStatus = { sid: string; status: string; errorCode: string | null; errorMessage: string | null; messageId?: string | null };

/** The status webhook: forward-only; "unknown" when no message of the org has this sid (yet). */
export async function twilioStatus(db: Db, orgId: string, s: TwilioStatus, out: Outbox) {
  let applied = await applyTwilioStatus(db, orgId, s.sid, s.status, s.errorCode, s.errorMessage, out);
  if (applied.outcome === "unknown" && s.messageId && (await adoptProviderId(db, orgId, s.messageId, "twilio", s.sid, out))) {
    applied = await applyTwilioStatus(db, orgId, s.sid, s.status, s.errorCode, s.errorMessage, out);
  }
  return applied;
}

/** Applies a Postmark change to one message; a status only moves forward. True when the row changed. */
async function applyPostmarkChange(db: Db, orgId: string, activityId: string, change: PostmarkChange, out: Outbox) {
  const at = and(eq(activities.id, activityId), eq(activities.orgId, orgId));
  const [changed] = await out.changed(
    db
      .update(activities)
      .set({
        ...(change.status ? { status: change.status } : {}),
        ...(change.errorCode !== undefined ? { errorCode: change.errorCode, errorMessage: change.errorMessage ?? null } : {}),
        updatedAt: Date.now(),
      })
      .where(change.status ? and(at, movesForwardTo(change.status)) : at)
      .returning({ id: activities.id }),
    messageUpdated(activityId),
  );
  return Boolean(changed);
}

/**
 * The events webhook: an event for our email `messageId` about Postmark's `pmid`. The id is
 * adopted when the email has none yet; an event for another Postmark id is "unknown_message";
 * a record type we do not apply (change null) is "unhandled".
 */
export async function postmarkEvent(db: Db, orgId: string, messageId: string, pmid: string, change: PostmarkChange | null, out: Outbox) {
  const row = await db
    .select({ pmid: activities.providerMessageId })
    .from(activities)
    .where(and(eq(activities.id, messageId), eq(activities.orgId, orgId)))
    .get();
  if (!row) return "unknown_message" as const;
  const adopted = row.pmid === null && (await adoptProviderId(db, orgId, messageId, "postmark", pmid, out));
  if ((adopted ? pmid : row.pmid) !== pmid) return "unknown_message" as const;
  if (!change) return "unhandled" as const;
  await applyPostmarkChange(db, orgId, messageId, change, out);
  return "applied" as const;
}

/** What the send sweep learned from the provider about a message stuck in `sending`. */
export type StuckFinding =
  /** Twilio knows the message and reports one of our statuses. */
  | ({ kind: "twilio" } & Omit<TwilioStatus, "messageId">)
  /** Postmark: its id for the message when found by our Metadata (to adopt), and what its details say. */
  | { kind: "postmark"; adopt: string | null; details: { kind: "found"; change: PostmarkChange | null } | { kind: "absent" } | { kind: "unreachable" } }
  /** No provider has it; the provider has it and nothing is new; the provider could not be asked. */
  | { kind: "absent" | "unchanged" | "unreachable" };

export type SweepOutcome = "updated" | "requeued" | "failed" | "unchanged" | "unreachable";
export type Stuck = { id: string; sweepRequeues: number };

const stillSending = (orgId: string, id: string) => and(eq(activities.id, id), eq(activities.orgId, orgId), sql`${activities.status} = 'sending'`);

async function verdictOf(db: Db, orgId: string, id: string, f: StuckFinding, out: Outbox): Promise<"changed" | "absent" | "unchanged" | "unreachable"> {
  if (f.kind === "twilio") {
    const applied = await applyTwilioStatus(db, orgId, f.sid, f.status, f.errorCode, f.errorMessage, out);
    return applied.outcome === "applied" ? "changed" : "unchanged";
  }
  if (f.kind !== "postmark") return f.kind;
  const adopted = f.adopt !== null && (await adoptProviderId(db, orgId, id, "postmark", f.adopt, out));
  if (f.details.kind !== "found") return adopted ? "changed" : f.details.kind;
  const changed = f.details.change ? await applyPostmarkChange(db, orgId, id, f.details.change, out) : false;
  return changed || adopted ? "changed" : "unchanged";
}

/** No provider has it: back to `queued` once (it was never sent), `failed` the second time. */
async function settleAbsent(db: Db, queues: Pick<JobQueues, "SEND_QUEUE">, orgId: string, m: Stuck, now: number, out: Outbox): Promise<SweepOutcome> {
  if (m.sweepRequeues >= 1) {
    const [failed] = await out.changed(
      db
        .update(activities)
        .set({
          status: "failed",
          errorCode: "delivery_unknown",
          errorMessage: "The provider never received this message, also after it was queued again; it was not sent.",
          updatedAt: now,
        })
        .where(stillSending(orgId, m.id))
        .returning({ id: activities.id }),
      messageUpdated(m.id),
    );
    return failed ? "failed" : "unchanged";
  }
  const [requeued] = await out.changed(
    db
      .update(activities)
      .set({ status: "queued", sweepRequeues: sql`${activities.sweepRequeues} + 1`, updatedAt: now })
      .where(and(stillSending(orgId, m.id), eq(activities.sweepRequeues, 0)))
      .returning({ id: activities.id }),
    messageUpdated(m.id),
  );
  if (!requeued) return "unchanged";
  try {
    await enqueueSend(queues, { orgId, messageId: m.id });
  } catch (e) {
    // Queued with no job would wait forever: say so on the message, as a send does.
    log("error", "enqueue_failed", { message_id: m.id, source: "send_sweep", error: String(e) });
    await markEnqueueFailed(db, orgId, m.id, Date.now(), out);
    return "failed";
  }
  return "requeued";
}

export const ENQUEUE_FAILED = { errorCode: "enqueue_failed", errorMessage: "The message could not be queued for sending." };

/** A message stored `queued` whose job could not be handed to SEND_QUEUE: failed, so no retry of the request sends twice. */
export async function markEnqueueFailed(db: Db, orgId: string, messageId: string, updatedAt: number, out: Outbox) {
  await out.changed(
    db
      .update(activities)
      .set({ status: "failed", ...ENQUEUE_FAILED, updatedAt })
      .where(and(eq(activities.id, messageId), eq(activities.orgId, orgId), eq(activities.status, "queued")))
      .returning({ id: activities.id }),
    messageUpdated(messageId),
  );
}

/**
 * The sweep's finding applied: a status the provider knows (webhook rules), a requeue or
 * failure for a message no provider has, or, when nothing changed, only when to look again
 * (sweep_checked_at, not updated_at: nothing about the message changed).
 */
export async function settleStuckSend(
  db: Db,
  queues: Pick<JobQueues, "SEND_QUEUE">,
  orgId: string,
  m: Stuck,
  finding: StuckFinding,
  now: number,
  out: Outbox,
): Promise<SweepOutcome> {
  const verdict = await verdictOf(db, orgId, m.id, finding, out);
  const outcome = verdict === "changed" ? "updated" : verdict === "absent" ? await settleAbsent(db, queues, orgId, m, now, out) : verdict;
  if (outcome === "unchanged" || outcome === "unreachable") await db.update(activities).set({ sweepCheckedAt: now }).where(stillSending(orgId, m.id));
  return outcome;
}
