import { and, asc, eq, lte, min, sql } from "drizzle-orm";
import { contactColumns, mediaFor } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Activity, activities, type Channel, type Conversation, channels, contacts, conversations, slaConfigs } from "../db/schema";
import { ApiError, invalid, notFound } from "../lib/errors";
import { addBusinessMinutes } from "../sla/business-time";
import { isOptedOut } from "./consent";
import { lastActivityOf } from "./ingest";
import type { Outbox } from "./outbox";
import { pickChannel } from "./pick-channel";
import { bucketOf, tallyMove } from "./tallies";

// Scheduled send (SPEC 20). POST …/messages with `send_at` stores an sms or email
// `scheduled`, with send_at and occurred_at both at that time (so the thread shows it
// last, at its time), and leaves the conversation as it was: a scheduled message is not a
// reply yet (the reply wait ignores it: src/org-inbox/reply-wait.ts). OrgInbox's one alarm
// (shared with snooze wake-ups and moves) releases the due ones (releaseDue): each is
// checked again (the contact's address now, consent, a channel of its kind) and becomes
// `queued` for the send queue, taking the conversation's last activity and clearing its
// reply wait as a send does (unread is left alone: nobody read anything), or `failed`
// with the refusal's code. DELETE …/messages/{id} cancels one still `scheduled`.

/** Messages released by one turn of the chain at most; more due ones go in the next turns, at once. */
export const RELEASE_MAX = 25;

/**
 * `"next_business_open"`: the first instant from `now` inside the org's SLA business hours
 * (now when they are open, or when the org keeps no hours: always open). Hours that never
 * open are a 400 on `send_at`.
 */
export async function resolveSendAt(db: Db, orgId: string, sendAt: number | "next_business_open", now: number) {
  if (sendAt !== "next_business_open") return sendAt;
  const sla = await db.select({ hours: slaConfigs.businessHours }).from(slaConfigs).where(eq(slaConfigs.orgId, orgId)).get();
  if (!sla?.hours) return now;
  const at = addBusinessMinutes(now, 0, sla.hours);
  if (at === null) throw invalid("send_at", "The org's business hours never open: give a time.");
  return at;
}

const messageUpdated = (m: Pick<Activity, "id" | "conversationId">) => ({ type: "message.updated" as const, conversationId: m.conversationId, objectId: m.id });

/** DELETE /conversations/{id}/messages/{message_id}: a `scheduled` message → `canceled`; any other → 409 not_scheduled. */
export async function cancelScheduled(db: Db, orgId: string, conversationId: string, messageId: string, out: Outbox, now = Date.now()) {
  const found = await db
    .select()
    .from(activities)
    .where(and(eq(activities.orgId, orgId), eq(activities.id, messageId), eq(activities.conversationId, conversationId)))
    .get();
  if (!found || found.type === "suggestion") throw notFound("Message");
  if (found.status !== "scheduled")
    throw new ApiError("not_scheduled", `The message is ${found.status}, not scheduled: only a scheduled message can be canceled.`);
  const [canceled] = await out.changed(
    db
      .update(activities)
      .set({ status: "canceled", updatedAt: now })
      .where(and(eq(activities.id, messageId), eq(activities.orgId, orgId), eq(activities.status, "scheduled")))
      .returning(),
    messageUpdated(found),
  );
  // Inside OrgInbox's chain nothing moves the row between the read and the update.
  if (!canceled) throw new ApiError("not_scheduled", "The message is no longer scheduled.");
  return { activity: canceled, media: [...(await mediaFor(db, orgId, canceled.mediaIds)).values()] };
}

/** The org's earliest scheduled send (null: none): one step down activities_scheduled_idx. */
export const nextScheduledQuery = (db: Db, orgId: string) =>
  db
    .select({ at: min(activities.sendAt) })
    .from(activities)
    .where(and(eq(activities.orgId, orgId), sql`${activities.status} = 'scheduled'`));

/** The org's scheduled messages due by `by`, earliest first, with their conversation and contact (the alarm's read). */
export const dueScheduledQuery = (db: Db, orgId: string, by: number) =>
  db
    .select({
      message: activities,
      conversation: conversations,
      contact: { ...contactColumns, smsOptOut: contacts.smsOptOut, emailOptOut: contacts.emailOptOut },
    })
    .from(activities)
    .innerJoin(conversations, eq(conversations.id, activities.conversationId))
    .innerJoin(contacts, eq(contacts.id, activities.contactId))
    .where(and(eq(activities.orgId, orgId), sql`${activities.status} = 'scheduled'`, lte(activities.sendAt, by)))
    .orderBy(asc(activities.sendAt), asc(activities.id))
    .limit(RELEASE_MAX);

type Refusal = { errorCode: "contact_unreachable" | "contact_opted_out" | "no_channel"; errorMessage: string };

/** The channel a due message goes out on: its own if the org still has it, else the one a send would pick now. */
async function channelFor(db: Db, orgId: string, message: Activity, conversation: Conversation): Promise<Channel | Refusal> {
  const kind = message.type as "sms" | "email";
  if (message.channelId) {
    const own = await db
      .select()
      .from(channels)
      .where(and(eq(channels.orgId, orgId), eq(channels.id, message.channelId), eq(channels.kind, kind)))
      .get();
    if (own) return own;
  }
  try {
    return await pickChannel(db, orgId, kind, conversation);
  } catch (e) {
    if (e instanceof ApiError && e.code === "no_channel") return { errorCode: "no_channel", errorMessage: e.detail };
    throw e;
  }
}

/**
 * The alarm's part for scheduled sends: up to RELEASE_MAX messages due by `by`, each in its
 * own batch (a conditional update on `scheduled`, so a second firing finds nothing): queued
 * with the conversation's changes and handed to the send queue at once (`handOver`, before
 * the next one: a failure later in the run strands none), or failed with the refusal.
 * More than RELEASE_MAX due: the alarm is re-armed for a time already past (armWake), so the
 * next run comes at once.
 */
export async function releaseDue(db: Db, orgId: string, out: Outbox, handOver: (message: Activity) => Promise<unknown>, by = Date.now(), now = Date.now()) {
  const due = await dueScheduledQuery(db, orgId, by).all();
  // Two due messages of one thread: the second sees the first's changes.
  const threads = new Map<string, Conversation>();
  for (const { message, conversation: read, contact } of due) {
    const conversation = threads.get(read.id) ?? read;
    const kind = message.type as "sms" | "email";
    const still = and(eq(activities.id, message.id), eq(activities.orgId, orgId), eq(activities.status, "scheduled"));
    const to = kind === "sms" ? contact.phone : contact.email;
    const channel: Channel | Refusal = !to
      ? { errorCode: "contact_unreachable", errorMessage: `The contact has no ${kind === "sms" ? "phone" : "email"} any more.` }
      : isOptedOut(contact, kind)
        ? { errorCode: "contact_opted_out", errorMessage: `The contact opted out of ${kind} after this message was scheduled.` }
        : await channelFor(db, orgId, message, conversation);
    if ("errorCode" in channel) {
      await out.changed(
        db
          .update(activities)
          .set({ status: "failed", ...channel, updatedAt: now })
          .where(still)
          .returning({ id: activities.id }),
        messageUpdated(message),
      );
      continue;
    }
    const release = {
      status: "queued",
      toAddr: to,
      channelId: channel.id,
      fromAddr: channel.address,
      provider: channel.provider,
      occurredAt: now,
      updatedAt: now,
    };
    const sent: Activity = { ...message, ...release };
    // Sent now, after every inbound of the thread: the wait is over.
    const set = { ...lastActivityOf(sent), updatedAt: now, awaitingReplySince: null, slaDueAt: null };
    const after: Conversation = { ...conversation, ...set };
    await db.batch([
      db.update(activities).set(release).where(still),
      db
        .update(conversations)
        .set(set)
        .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversation.id))),
      ...tallyMove(db, orgId, bucketOf(conversation), bucketOf(after)),
      ...out.add(messageUpdated(sent), { type: "conversation.updated", conversationId: conversation.id, objectId: conversation.id }),
    ]);
    threads.set(conversation.id, after);
    await handOver(sent);
  }
}
