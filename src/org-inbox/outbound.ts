import { and, desc, eq, sql } from "drizzle-orm";
import { contactColumns, neverSent } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Activity, activities, type Channel, contacts, conversations } from "../db/schema";
import { ApiError, invalid, notFound } from "../lib/errors";
import { newActivity, requireMedia } from "./activity";
import { contactOptedOut, isOptedOut } from "./consent";
import { lastActivityOf } from "./ingest";
import { type Outbox, silentOutbox } from "./outbox";
import { pickChannel } from "./pick-channel";
import { resolveSendAt } from "./scheduled";
import { resolveDraftBySend } from "./suggestions";
import { bucketOf, DAY_MS, tallyMove } from "./tallies";

export type OutboundInput = {
  conversationId: string;
  type: "sms" | "email" | "note";
  body: string;
  subject?: string | null;
  html?: string | null;
  mediaIds: string[];
  authorId: string;
  /** A one-click send of this pending draft (already checked by the caller, in the same chain). */
  fromSuggestion?: Activity;
  /** Scheduled send (SPEC 20): stored `scheduled` until then (src/org-inbox/scheduled.ts); an sms or email only. */
  sendAt?: number | "next_business_open";
};

/** `Re: <subject of the thread's last email>`, without doubling an existing Re: (SPEC 13). */
export const replySubject = (subject: string) => (/^re:/i.test(subject.trim()) ? subject.trim() : `Re: ${subject.trim()}`);

/**
 * A member's message from the thread: a note is stored; an sms or email is stored
 * `queued` for the send queue. Either way one batch writes the activity and the
 * conversation (a send resets unread and clears the reply wait). A scheduled one
 * (`sendAt`) is stored `scheduled` and leaves the conversation as it is until it is
 * released (src/org-inbox/scheduled.ts); a pending draft is resolved by it all the same.
 */
export async function createOutbound(db: Db, orgId: string, input: OutboundInput, out: Outbox = silentOutbox(db, orgId), now = Date.now()) {
  const row = await db
    .select({ conversation: conversations, contact: { ...contactColumns, smsOptOut: contacts.smsOptOut, emailOptOut: contacts.emailOptOut } })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.orgId, orgId), eq(conversations.id, input.conversationId)))
    .get();
  if (!row) throw notFound("Conversation");
  const { conversation, contact } = row;
  const media = await requireMedia(db, orgId, input.mediaIds);

  let channel: Channel | null = null;
  let to: string | null = null;
  let subject = input.subject ?? null;
  if (input.type !== "note") {
    to = input.type === "sms" ? contact.phone : contact.email;
    if (!to) throw new ApiError("contact_unreachable", `The contact has no ${input.type === "sms" ? "phone" : "email"}.`);
    // Checked inside OrgInbox's turn: a STOP that committed before this send refuses it (SPEC 19).
    if (isOptedOut(contact, input.type)) throw contactOptedOut(input.type);
    channel = await pickChannel(db, orgId, input.type, conversation);
    if (input.type === "email" && !subject) {
      const lastEmail = await db
        .select({ subject: activities.subject })
        .from(activities)
        .where(and(eq(activities.conversationId, conversation.id), eq(activities.type, "email"), sql`NOT ${neverSent()}`))
        .orderBy(desc(activities.occurredAt))
        .limit(1)
        .get();
      if (!lastEmail) throw invalid("subject", "The thread has no earlier email: give this one a subject.");
      subject = replySubject(lastEmail.subject ?? "");
    }
  }

  const sendAt = input.sendAt === undefined || input.type === "note" ? null : await resolveSendAt(db, orgId, input.sendAt, now);
  const activity = newActivity(
    {
      orgId,
      conversationId: conversation.id,
      contactId: contact.id,
      type: input.type,
      direction: input.type === "note" ? null : "outbound",
      status: input.type === "note" ? "logged" : sendAt !== null ? "scheduled" : "queued",
      body: input.body,
      subject: input.type === "email" ? subject : null,
      html: input.type === "email" ? (input.html ?? null) : null,
      fromAddr: channel?.address ?? null,
      toAddr: to,
      channelId: channel?.id ?? null,
      mediaIds: input.mediaIds,
      authorId: input.authorId,
      provider: channel?.provider ?? null,
      // A scheduled message stands in the thread at its time (the last item until then).
      occurredAt: sendAt ?? now,
      sendAt,
    },
    now,
  );

  const sends = input.type !== "note";
  const scheduled = sendAt !== null;
  // An sms/email sent while a draft is pending resolves it and keeps a training pair (SPEC 8).
  let draft: Activity | undefined = input.fromSuggestion;
  if (sends && !draft && conversation.pendingSuggestionId) {
    draft = await db
      .select()
      .from(activities)
      .where(and(eq(activities.id, conversation.pendingSuggestionId), eq(activities.orgId, orgId), eq(activities.status, "pending")))
      .get();
  }
  const draftStatements =
    sends && draft ? await resolveDraftBySend(db, draft, activity, input.fromSuggestion ? "sent" : "superseded", input.authorId, now) : [];
  const created = { type: "message.created" as const, conversationId: conversation.id, objectId: activity.id, known: { activity, media } };
  const conversationUpdated = { type: "conversation.updated" as const, conversationId: conversation.id, objectId: conversation.id };
  await db.batch(
    scheduled
      ? [
          db.insert(activities).values(activity),
          ...draftStatements,
          // Only the resolved draft changes the conversation now; the send's changes come when it is released.
          ...(draftStatements.length
            ? [
                db.update(conversations).set({ pendingSuggestionId: null, updatedAt: now }).where(eq(conversations.id, conversation.id)),
                ...out.add(created, conversationUpdated),
              ]
            : out.add(created)),
        ]
      : [
          db.insert(activities).values(activity),
          ...draftStatements,
          db
            .update(conversations)
            .set({
              ...lastActivityOf(activity),
              updatedAt: now,
              ...(sends ? { unreadCount: 0, awaitingReplySince: null, slaDueAt: null } : {}),
              ...(draftStatements.length ? { pendingSuggestionId: null } : {}),
            })
            .where(eq(conversations.id, conversation.id)),
          // A send resets unread; any message moves the thread to today.
          ...tallyMove(db, orgId, bucketOf(conversation), {
            ...bucketOf(conversation),
            unread: sends ? false : conversation.unreadCount > 0,
            day: Math.floor(now / DAY_MS),
          }),
          ...out.add(created, conversationUpdated),
        ],
  );
  return {
    activity,
    media,
    draft:
      draft && sends
        ? {
            ...draft,
            status: input.fromSuggestion ? "sent" : "superseded",
            sentMessageId: input.fromSuggestion ? activity.id : null,
            resolvedBy: input.authorId,
            resolvedAt: now,
            updatedAt: now,
          }
        : null,
  };
}
