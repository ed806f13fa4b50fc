import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { neverSent, SMS_MAX, selectConversation, threadLines } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Activity, activities, conversations, trainingPairs } from "../db/schema";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { labelPair } from "../setter/similarity";
import { newActivity } from "./activity";
import type { Outbox } from "./outbox";

export type SuggestionInput = {
  conversationId: string;
  body: string;
  channel?: "sms" | "email";
  subject?: string | null;
  authorId: string | null;
  /** A setter draft answers this inbound message; it is dropped when the thread has moved on. */
  triggerId?: string;
};

/** The thread's newest sms or email (either direction) that is not a send that never went out, by occurred_at. */
const latestMessage = (db: Db, conversationId: string) =>
  db
    .select({ id: activities.id, type: activities.type, direction: activities.direction })
    .from(activities)
    .where(and(eq(activities.conversationId, conversationId), inArray(activities.type, ["sms", "email"]), sql`NOT ${neverSent()}`))
    .orderBy(desc(activities.occurredAt), desc(activities.id))
    .limit(1);

/**
 * POST /conversations/{id}/suggestions and the setter's drafts: stores a pending
 * draft and supersedes the one pending before it, in one batch, so a conversation
 * never has two. A setter draft whose trigger is no longer the thread's newest
 * message (a reply went out, or the contact wrote again) is not stored: null.
 */
export async function createSuggestion(db: Db, orgId: string, input: SuggestionInput, out: Outbox, now = Date.now()): Promise<Activity | null> {
  // Both reads at once (a joined select does not survive a D1 batch); a foreign id's
  // messages are never used, since its conversation row is not found in this org.
  const [row, latest] = await Promise.all([selectConversation(db, orgId, input.conversationId).get(), latestMessage(db, input.conversationId).get()]);
  if (!row) throw notFound("Conversation");
  const { conversation, contact } = row;
  if (input.triggerId && (latest?.id !== input.triggerId || latest.direction !== "inbound")) return null;
  // Unless told, a draft answers on the channel the thread last used, else on what the contact has.
  const channel = input.channel ?? (latest?.type === "email" ? "email" : latest?.type === "sms" ? "sms" : contact.phone ? "sms" : "email");
  if (channel === "sms" && input.body.length > SMS_MAX) throw invalid("body", "an sms draft is 1–1600 characters");
  if (channel !== "email" && input.subject != null) throw invalid("subject", "only an email draft has a subject");
  const draft = newActivity(
    {
      orgId,
      conversationId: conversation.id,
      contactId: contact.id,
      type: "suggestion",
      direction: null,
      status: "pending",
      body: input.body,
      subject: channel === "email" ? (input.subject ?? null) : null,
      suggestionChannel: channel,
      authorId: input.authorId,
      occurredAt: now,
    },
    now,
  );
  await db.batch([
    db
      .update(activities)
      .set({ status: "superseded", resolvedAt: now, updatedAt: now })
      .where(
        and(eq(activities.orgId, orgId), eq(activities.conversationId, conversation.id), eq(activities.type, "suggestion"), eq(activities.status, "pending")),
      ),
    db.insert(activities).values(draft),
    db.update(conversations).set({ pendingSuggestionId: draft.id, updatedAt: now }).where(eq(conversations.id, conversation.id)),
    ...out.add({ type: "suggestion.created", conversationId: conversation.id, objectId: draft.id, known: { activity: draft, media: [] } }),
  ]);
  return draft;
}

/** The suggestion `id` of this conversation (404 otherwise, another org's included), pending or 409. */
export async function pendingSuggestion(db: Db, orgId: string, conversationId: string, id: string): Promise<Activity> {
  const s = await db
    .select()
    .from(activities)
    .where(and(eq(activities.orgId, orgId), eq(activities.id, id), eq(activities.conversationId, conversationId), eq(activities.type, "suggestion")))
    .get();
  if (!s) throw notFound("Suggestion");
  if (s.status !== "pending") throw new ApiError("suggestion_not_pending", `This suggestion is ${s.status}, not pending.`);
  return s;
}

export async function dismissSuggestion(db: Db, orgId: string, conversationId: string, id: string, userId: string, now = Date.now()) {
  const s = await pendingSuggestion(db, orgId, conversationId, id);
  const resolved = { status: "dismissed", resolvedBy: userId, resolvedAt: now, updatedAt: now };
  await db.batch([
    db
      .update(activities)
      .set(resolved)
      .where(and(eq(activities.id, s.id), eq(activities.status, "pending"))),
    db
      .update(conversations)
      .set({ pendingSuggestionId: null, updatedAt: now })
      .where(and(eq(conversations.id, conversationId), eq(conversations.pendingSuggestionId, s.id))),
  ]);
  return { ...s, ...resolved };
}

export type PairContext = { role: "contact" | "agent"; body: string; occurred_at: string }[];

/** The 10 sms/email/call messages before the draft, oldest first (SPEC 8); a call reads as its summary, else its transcript. */
export async function pairContext(db: Db, draft: Activity): Promise<PairContext> {
  const rows = await threadLines(db, draft.conversationId, draft.occurredAt, { inclusive: false, limit: 10 });
  return rows.map((r) => ({
    role: r.direction === "inbound" ? "contact" : "agent",
    body: (r.type === "call" ? (r.summary ?? r.transcript) : (r.body ?? r.subject)) ?? "",
    occurred_at: new Date(r.occurredAt).toISOString(),
  }));
}

/**
 * What sending `sent` does to the pending draft: it becomes `sent` (one-click send)
 * or `superseded` (a member wrote their own), and the pair is kept. The statements
 * ride in the send's own batch, conditional on the draft still being pending.
 */
export async function resolveDraftBySend(
  db: Db,
  draft: Activity,
  sent: Activity,
  how: "sent" | "superseded",
  userId: string,
  now: number,
): Promise<BatchItem<"sqlite">[]> {
  const { label, similarity } = labelPair(draft.body ?? "", sent.body ?? "");
  const stillPending = and(eq(activities.id, draft.id), eq(activities.status, "pending"));
  return [
    db
      .insert(trainingPairs)
      .values({
        id: uuidv7(now),
        orgId: draft.orgId,
        conversationId: draft.conversationId,
        suggestionId: draft.id,
        sentMessageId: sent.id,
        draft: draft.body ?? "",
        sent: sent.body ?? "",
        label,
        similarity,
        context: await pairContext(db, draft),
        sentBy: userId,
        createdAt: now,
      })
      .onConflictDoNothing(),
    db
      .update(activities)
      .set({ status: how, sentMessageId: how === "sent" ? sent.id : null, resolvedBy: userId, resolvedAt: now, updatedAt: now })
      .where(stillPending),
  ];
}
