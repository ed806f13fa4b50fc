import { and, eq, isNull } from "drizzle-orm";
import { contactColumns, selectConversation } from "../conversations/queries";
import type { Db } from "../db/client";
import { activities, type Conversation, contacts, conversations, members } from "../db/schema";
import { ApiError, notFound } from "../lib/errors";
import { activityPreview, newConversation } from "./ingest";
import { type Outbox, silentOutbox } from "./outbox";
import { bucketOf, tallyMove } from "./tallies";

/** Inbox state actions (SPEC 6); each is idempotent and answers the new state. */
export type StateChange =
  | { kind: "star"; starred: boolean }
  | { kind: "read" }
  | { kind: "unread" }
  | { kind: "assign"; assignedTo: string | null }
  | { kind: "archive"; archived: boolean };

/**
 * What `change` sets on the conversation, or null when it is already so (a repeat
 * writes nothing and keeps updated_at). OrgInbox is the conversation's only writer,
 * so the row it read is the row it changes.
 */
function changeSet(c: Conversation, change: StateChange, now: number): Partial<Conversation> | null {
  switch (change.kind) {
    case "star":
      return c.starred === change.starred ? null : { starred: change.starred };
    case "archive":
      // Every unarchive ends a snooze (a snoozed conversation is always archived).
      return c.archived === change.archived ? null : change.archived ? { archived: true } : { archived: false, snoozedUntil: null };
    case "assign":
      return c.assignedTo === change.assignedTo ? null : { assignedTo: change.assignedTo };
    case "read":
      return { unreadCount: 0, lastReadAt: now };
    case "unread":
      return c.unreadCount > 0 ? null : { unreadCount: 1 };
  }
}

/** An assignee must be a member of the org (422 assignee_not_member); `control` is where the members are. */
export async function assertAssignable(control: Db, orgId: string, userId: string) {
  const member = await control
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
    .get();
  if (!member) {
    throw new ApiError("assignee_not_member", "assigned_to is not a member of this org.", [{ path: "assigned_to", message: "not a member of this org" }]);
  }
}

/**
 * `control` is the control database, where the members are (null: the assignee was
 * checked already, as bulk does once for all its ids); `db` the org's shard.
 */
export async function applyState(
  db: Db,
  control: Db | null,
  orgId: string,
  conversationId: string,
  change: StateChange,
  out: Outbox = silentOutbox(db, orgId),
  now = Date.now(),
) {
  if (control && change.kind === "assign" && change.assignedTo) await assertAssignable(control, orgId, change.assignedTo);
  const before = await selectConversation(db, orgId, conversationId).get();
  if (!before) throw notFound("Conversation");
  const set = changeSet(before.conversation, change, now);
  if (!set) return before;
  const conversation = { ...before.conversation, ...set, updatedAt: now };
  // One batch: the conversation, its bucket and its event.
  await db.batch([
    db
      .update(conversations)
      .set({ ...set, updatedAt: now })
      .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId))),
    ...tallyMove(db, orgId, bucketOf(before.conversation), bucketOf(conversation)),
    ...out.add({ type: "conversation.updated", conversationId, objectId: conversationId, known: { conversation, contact: before.contact } }),
  ]);
  return { conversation, contact: before.contact };
}

/** POST /contacts/{id}/conversations: the contact's one conversation, created when missing. */
export async function openConversation(db: Db, orgId: string, contactId: string, out: Outbox, now = Date.now()) {
  const contact = await db
    .select(contactColumns)
    .from(contacts)
    .where(and(eq(contacts.orgId, orgId), eq(contacts.id, contactId)))
    .get();
  if (!contact) throw notFound("Contact");
  const existing = await db
    .select()
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), eq(conversations.contactId, contactId)))
    .get();
  if (existing) return { conversation: existing, contact, created: false };
  const conversation = newConversation(orgId, contactId, now);
  await db.batch([
    db.insert(conversations).values(conversation),
    ...tallyMove(db, orgId, null, bucketOf(conversation)),
    ...out.add({ type: "conversation.updated", conversationId: conversation.id, objectId: conversation.id, known: { conversation, contact } }),
  ]);
  return { conversation, contact, created: true };
}

/** The summarizer's result on a call still pending; the thread's preview follows when the call is its last activity. */
export async function setCallSummary(db: Db, orgId: string, activityId: string, summary: string | null, out: Outbox, now = Date.now()) {
  const [updated] = await out.changed(
    db
      .update(activities)
      .set({ callSummary: summary, callSummaryStatus: summary ? "ready" : "failed", updatedAt: now })
      .where(and(eq(activities.orgId, orgId), eq(activities.id, activityId), eq(activities.callSummaryStatus, "pending"), isNull(activities.callSummary)))
      .returning(),
    { type: "message.updated", conversationId: null, objectId: activityId },
  );
  if (updated && summary) {
    await db
      .update(conversations)
      .set({ lastActivityPreview: activityPreview(updated) })
      .where(and(eq(conversations.id, updated.conversationId), eq(conversations.lastActivityId, updated.id)));
  }
  return updated ?? null;
}
