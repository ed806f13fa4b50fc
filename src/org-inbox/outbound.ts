import { and, asc, desc, eq } from "drizzle-orm";
import { contactColumns } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Activity, activities, type Channel, type Conversation, channels, contacts, conversations } from "../db/schema";
import { ApiError, invalid, notFound } from "../lib/errors";
import { newActivity, requireMedia } from "./activity";
import { contactOptedOut, isOptedOut } from "./consent";
import { activityPreview } from "./ingest";
import { type Outbox, silentOutbox } from "./outbox";
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
};

/** `Re: <subject of the thread's last email>`, without doubling an existing Re: (SPEC 13). */
export const replySubject = (subject: string) => (/^re:/i.test(subject.trim()) ? subject.trim() : `Re: ${subject.trim()}`);

/** The channel the contact last wrote to on this kind, else the org's oldest of that kind (SPEC 13). */
async function pickChannel(db: Db, orgId: string, kind: "sms" | "email", conversation: Conversation): Promise<Channel> {
  const preferred = kind === "sms" ? conversation.lastSmsChannelId : conversation.lastEmailChannelId;
  const rows = await db
    .select()
    .from(channels)
    .where(and(eq(channels.orgId, orgId), eq(channels.kind, kind)))
    .orderBy(asc(channels.createdAt), asc(channels.id))
    .all();
  const channel = rows.find((ch) => ch.id === preferred) ?? rows[0];
  if (!channel) throw new ApiError("no_channel", `The org has no ${kind} channel to send from.`);
  return channel;
}

/**
 * A member's message from the thread: a note is stored; an sms or email is stored
 * `queued` for the send queue. Either way one batch writes the activity and the
 * conversation (a send resets unread and clears the reply wait).
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
        .where(and(eq(activities.conversationId, conversation.id), eq(activities.type, "email")))
        .orderBy(desc(activities.occurredAt))
        .limit(1)
        .get();
      if (!lastEmail) throw invalid("subject", "The thread has no earlier email: give this one a subject.");
      subject = replySubject(lastEmail.subject ?? "");
    }
  }

  const activity = newActivity(
    {
      orgId,
      conversationId: conversation.id,
      contactId: contact.id,
      type: input.type,
      direction: input.type === "note" ? null : "outbound",
      status: input.type === "note" ? "logged" : "queued",
      body: input.body,
      subject: input.type === "email" ? subject : null,
      html: input.type === "email" ? (input.html ?? null) : null,
      fromAddr: channel?.address ?? null,
      toAddr: to,
      channelId: channel?.id ?? null,
      mediaIds: input.mediaIds,
      authorId: input.authorId,
      provider: channel?.provider ?? null,
      occurredAt: now,
    },
    now,
  );

  const sends = input.type !== "note";
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
  await db.batch([
    db.insert(activities).values(activity),
    ...draftStatements,
    db
      .update(conversations)
      .set({
        lastActivityId: activity.id,
        lastActivityType: activity.type,
        lastActivityDirection: activity.direction,
        lastActivityPreview: activityPreview(activity),
        lastActivityAt: now,
        sortAt: now,
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
    ...out.add(
      { type: "message.created", conversationId: conversation.id, objectId: activity.id, known: { activity, media } },
      { type: "conversation.updated", conversationId: conversation.id, objectId: conversation.id },
    ),
  ]);
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
