import { and, asc, eq, isNotNull, lte, min, sql } from "drizzle-orm";
import { contactColumns, selectConversation } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Conversation, contacts, conversations } from "../db/schema";
import { notFound } from "../lib/errors";
import type { Outbox } from "./outbox";
import { bucketOf, tallyMove, tallyMoves } from "./tallies";

// Snooze (SPEC 17). A snoozed conversation is archived with snoozed_until; it wakes
// (unarchived, unread, snoozed_until cleared) at that time (OrgInbox's alarm, wakeDue), on
// an inbound message (ingest's conversationChanges), or on DELETE …/snooze (unsnooze).
// Invariant: snoozed_until IS NOT NULL implies archived (every unarchive clears it).

/** Conversations woken by one batch at most; more due ones are woken by the next run, at once. */
export const WAKE_MAX = 200;

/** What waking sets on a conversation (unread_count aside: at least 1). */
const woken = (c: Conversation, now: number): Partial<Conversation> => ({
  archived: false,
  snoozedUntil: null,
  unreadCount: Math.max(1, c.unreadCount),
  updatedAt: now,
});

/** One conversation's change, its tallies and its event, in one batch. */
async function apply(
  db: Db,
  orgId: string,
  before: NonNullable<Awaited<ReturnType<ReturnType<typeof selectConversation>["get"]>>>,
  set: Partial<Conversation>,
  out: Outbox,
) {
  const conversationId = before.conversation.id;
  const conversation = { ...before.conversation, ...set };
  await db.batch([
    db
      .update(conversations)
      .set(set)
      .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId))),
    ...tallyMove(db, orgId, bucketOf(before.conversation), bucketOf(conversation)),
    ...out.add({ type: "conversation.updated", conversationId, objectId: conversationId, known: { conversation, contact: before.contact } }),
  ]);
  return { conversation, contact: before.contact };
}

/** POST /conversations/{id}/snooze: archived until `until` (a snoozed one's time moves). A repeat of the same time changes nothing. */
export async function snooze(db: Db, orgId: string, conversationId: string, until: number, out: Outbox, now = Date.now()) {
  const before = await selectConversation(db, orgId, conversationId).get();
  if (!before) throw notFound("Conversation");
  if (before.conversation.archived && before.conversation.snoozedUntil === until) return before;
  return apply(db, orgId, before, { archived: true, snoozedUntil: until, updatedAt: now }, out);
}

/** DELETE /conversations/{id}/snooze: wakes it now; one not snoozed is answered as it is (idempotent, like the other state routes). */
export async function unsnooze(db: Db, orgId: string, conversationId: string, out: Outbox, now = Date.now()) {
  const before = await selectConversation(db, orgId, conversationId).get();
  if (!before) throw notFound("Conversation");
  if (before.conversation.snoozedUntil === null) return before;
  return apply(db, orgId, before, woken(before.conversation, now), out);
}

/**
 * The alarm: every conversation of the org due by `by` (up to WAKE_MAX) woken in one
 * batch, with its tallies' net moves and one conversation.updated each. Answers how many.
 */
export async function wakeDue(db: Db, orgId: string, out: Outbox, by = Date.now(), now = Date.now()) {
  const due = await dueQuery(db, orgId, by).all();
  if (!due.length) return 0;
  const d1 = db.$client;
  const ids = JSON.stringify(due.map((r) => r.conversation.id));
  const { sql: text, params } = db
    .update(conversations)
    .set({ archived: false, snoozedUntil: null, unreadCount: sql`MAX(${conversations.unreadCount}, 1)`, updatedAt: now })
    .where(and(eq(conversations.orgId, orgId), sql`${conversations.id} IN (SELECT value FROM json_each(${ids}))`, isNotNull(conversations.snoozedUntil)))
    .toSQL();
  const after = due.map((r) => ({ conversation: { ...r.conversation, ...woken(r.conversation, now) }, contact: r.contact }));
  await d1.batch([
    d1.prepare(text).bind(...params),
    ...tallyMoves(
      d1,
      orgId,
      due.map((r, i) => ({ from: bucketOf(r.conversation), to: bucketOf(after[i].conversation) })),
    ),
    ...out.addRaw(
      d1,
      after.map((row) => ({ type: "conversation.updated" as const, conversationId: row.conversation.id, objectId: row.conversation.id, known: row })),
    ),
  ]);
  return due.length;
}

/** The org's earliest wake-up (null: nothing snoozed): one step down conversations_snooze_due_idx. */
export async function nextWake(db: Db, orgId: string): Promise<number | null> {
  const row = await nextWakeQuery(db, orgId).get();
  return row?.at ?? null;
}

export const nextWakeQuery = (db: Db, orgId: string) =>
  db
    .select({ at: min(conversations.snoozedUntil) })
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), isNotNull(conversations.snoozedUntil)));

/** The org's conversations due by `by`, earliest first (the alarm's read). */
export const dueQuery = (db: Db, orgId: string, by: number) =>
  db
    .select({ conversation: conversations, contact: contactColumns })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.orgId, orgId), isNotNull(conversations.snoozedUntil), lte(conversations.snoozedUntil, by)))
    .orderBy(asc(conversations.snoozedUntil))
    .limit(WAKE_MAX);
