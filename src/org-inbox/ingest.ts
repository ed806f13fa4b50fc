import { and, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { preview } from "../conversations/present";
import type { ConversationWithContact } from "../conversations/queries";
import type { Db } from "../db/client";
import { memo, placeholdersOf, shapeOf } from "../db/memo";
import {
  type Activity,
  activities,
  type Contact,
  type Conversation,
  channels,
  contacts,
  conversations,
  type Media,
  setterConfigs,
  slaConfigs,
} from "../db/schema";
import type { AiJob } from "../jobs";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import type { EventRef } from "../outbox/build";
import { DEFAULT_SLA, type SlaSettings, slaDueAt } from "../sla/due";
import { loadMedia, newActivity, requireMedia } from "./activity";
import { consentColumns, consentEvent, keywordConsent, NO_OPT_OUT } from "./consent";
import { activityStored, silentOutbox } from "./outbox";
import { isReply, replyWaitWith, startsWait, storedWaitQuery } from "./reply-wait";
import { bucketOf, DAY_MS, tallyMove } from "./tallies";

/** The org's SLA settings, as every ingest reads them (single and group; built once, src/db/memo.ts). */
export const slaConfigRead = (db: Db, orgId: string) =>
  memo(
    db,
    "ingest.sla",
    () =>
      db
        .select()
        .from(slaConfigs)
        .where(eq(slaConfigs.orgId, sql.placeholder("org")))
        .limit(1),
    { org: orgId },
  );

/** The org's setter mode, as every ingest reads it (a draft follows an inbound message in suggestive mode). */
export const setterModeRead = (db: Db, orgId: string) =>
  memo(
    db,
    "ingest.setter",
    () =>
      db
        .select({ mode: setterConfigs.mode })
        .from(setterConfigs)
        .where(eq(setterConfigs.orgId, sql.placeholder("org")))
        .limit(1),
    { org: orgId },
  );

/** True once the activity `activityId` names is stored: what makes the writes that follow it conditional on its insert (a duplicate skips them all). */
const storedWhen = (activityId: unknown) => sql`EXISTS (SELECT 1 FROM activities WHERE id = ${activityId})`;

/** One touchpoint as every ingest path hands it over (addresses already normalized). */
export type IngestInput = {
  contact: { id: string } | { phone: string; name?: string | null } | { email: string; name?: string | null };
  type: "sms" | "email" | "call" | "note";
  direction: "inbound" | "outbound" | null;
  status: string;
  body?: string | null;
  subject?: string | null;
  html?: string | null;
  from?: string | null;
  to?: string | null;
  provider: string | null;
  providerMessageId?: string | null;
  occurredAt: number;
  call?: { durationSeconds?: number | null; recordingUrl?: string | null; transcript?: string | null; summary?: string | null } | null;
  mediaIds: string[];
  authorId?: string | null;
};

/** `followUps`: AI work the new activity calls for (a setter draft, a call summary), run off the request path. */
export type IngestResult = { activity: Activity; media: Media[]; duplicate: boolean; followUps?: AiJob[] };

export async function findDuplicate(db: Db, orgId: string, provider: string | null, providerMessageId: string | null | undefined) {
  if (!provider || !providerMessageId) return undefined;
  return db
    .select()
    .from(activities)
    .where(and(eq(activities.orgId, orgId), eq(activities.provider, provider), eq(activities.providerMessageId, providerMessageId)))
    .get();
}

export const newConversation = (orgId: string, contactId: string, now: number, id = uuidv7(now)): Conversation => ({
  id,
  orgId,
  contactId,
  assignedTo: null,
  starred: false,
  archived: false,
  unreadCount: 0,
  lastReadAt: null,
  lastActivityId: null,
  lastActivityType: null,
  lastActivityDirection: null,
  lastActivityPreview: null,
  lastActivityAt: null,
  sortAt: now,
  awaitingReplySince: null,
  slaDueAt: null,
  snoozedUntil: null,
  pendingSuggestionId: null,
  lastSmsChannelId: null,
  lastEmailChannelId: null,
  createdAt: now,
  updatedAt: now,
});

export const activityPreview = (a: Pick<Activity, "type" | "body" | "subject" | "callSummary" | "callTranscript" | "status">) =>
  preview(a.body || a.subject || a.callSummary || a.callTranscript || (a.type === "call" ? `Call (${a.status})` : ""));

/** What a conversation holds of its newest activity (and the list order it gives the thread). */
export const lastActivityOf = (a: Activity) => ({
  lastActivityId: a.id,
  lastActivityType: a.type,
  lastActivityDirection: a.direction,
  lastActivityPreview: activityPreview(a),
  lastActivityAt: a.occurredAt,
  sortAt: a.occurredAt,
});

/**
 * Stores one touchpoint: contact and conversation when missing, the activity
 * unless its dedup key exists, and the conversation aggregates — one D1 batch.
 * Callers serialize per org (OrgInbox), so read-then-write is safe.
 */
export async function ingest(db: Db, orgId: string, input: IngestInput, out = silentOutbox(db, orgId), now = Date.now()): Promise<IngestResult> {
  const ref = input.contact;
  const by = "id" in ref ? "id" : "phone" in ref ? "phone" : "email";
  const channelKind = input.direction === "inbound" && (input.type === "sms" || input.type === "email") && input.to ? input.type : null;
  const touch = { type: input.type, direction: input.direction, status: input.status, occurredAt: input.occurredAt };
  const affectsWait = startsWait(touch) || isReply(touch);
  // Every read the ingest needs, in one round trip; each statement's SQL built once (src/db/memo.ts).
  const values = {
    org: orgId,
    ref: "id" in ref ? ref.id : "phone" in ref ? ref.phone : ref.email,
    provider: input.provider ?? "",
    pmid: input.providerMessageId ?? "",
    dedups: input.providerMessageId ? 1 : 0,
    kind: channelKind ?? "sms",
    to: input.to ?? "",
    routed: channelKind ? 1 : 0,
    replyAt: isReply(touch) ? input.occurredAt : -1,
  };
  const p = sql.placeholder;
  const contactMatch = () => and(eq(contacts.orgId, p("org")), eq(contacts[by], p("ref")));
  /** The contact's thread (by the contact the input names). */
  const ofContact = () =>
    and(eq(conversations.orgId, p("org")), inArray(conversations.contactId, db.select({ id: contacts.id }).from(contacts).where(contactMatch())));
  const [dupRows, contactRows, conversationRows, slaRows, channelRows, storedWait, setterRows] = await db.batch([
    memo(
      db,
      "ingest.duplicate",
      () =>
        db
          .select()
          .from(activities)
          .where(
            and(eq(activities.orgId, p("org")), eq(activities.provider, p("provider")), eq(activities.providerMessageId, p("pmid")), sql`${p("dedups")} = 1`),
          )
          .limit(1),
      values,
    ),
    memo(db, `ingest.contact.${by}`, () => db.select().from(contacts).where(contactMatch()).limit(1), values),
    memo(db, `ingest.conversation.${by}`, () => db.select().from(conversations).where(ofContact()).limit(1), values),
    slaConfigRead(db, orgId),
    memo(
      db,
      "ingest.channel",
      () =>
        db
          .select({ id: channels.id })
          .from(channels)
          .where(and(eq(channels.orgId, p("org")), eq(channels.kind, p("kind")), eq(channels.address, p("to")), sql`${p("routed")} = 1`))
          .limit(1),
      values,
    ),
    memo(
      db,
      `ingest.wait.${by}.${affectsWait}`,
      () => storedWaitQuery(db, affectsWait ? sql`(${db.select({ id: conversations.id }).from(conversations).where(ofContact())})` : sql`NULL`, p("replyAt")),
      values,
    ),
    setterModeRead(db, orgId),
  ]);
  const existing = dupRows[0];
  if (existing) return { activity: existing, media: await loadMedia(db, orgId, existing.mediaIds), duplicate: true };

  const mediaRows = await requireMedia(db, orgId, input.mediaIds);
  if (!contactRows[0] && "id" in ref) throw unknownContact();
  const contactIsNew = !contactRows[0];
  const contact: Contact = contactRows[0] ?? newContact(orgId, ref as NewContactRef, now);
  const found = conversationRows[0];
  const conversation = found ?? newConversation(orgId, contact.id, now);
  const channel = channelRows[0];
  const sla = slaRows[0] ?? DEFAULT_SLA;
  const activity = activityOf(orgId, input, conversation.id, contact.id, channel?.id ?? null, now);
  const changes = conversationChanges(
    conversation,
    activity,
    channel?.id ?? null,
    affectsWait ? replyWaitWith(found ? storedWait[0] : undefined, activity) : undefined,
    sla,
    now,
  );
  const inbound = activity.direction === "inbound";

  // A STOP (or START) is stored as usual and changes the contact's consent in the same write (SPEC 19).
  const consent = keywordChange(activity, contact);
  if (consent !== null && contactIsNew) Object.assign(contact, consentColumns("sms", consent, now));

  const stored = storedWhen(activity.id);
  const statements: BatchItem<"sqlite">[] = [];
  if (contactIsNew) statements.push(db.insert(contacts).values(contact));
  if (!found) statements.push(db.insert(conversations).values(conversation));
  // The conversation's bucket move rides on the same condition as its update.
  const after = {
    archived: inbound ? false : conversation.archived,
    starred: conversation.starred,
    unread: inbound || conversation.unreadCount > 0,
    assignee: conversation.assignedTo ?? "",
    day: Math.floor((changes.sortAt ?? conversation.sortAt) / DAY_MS),
  };
  const tallies = tallyMove(db, orgId, found ? bucketOf(found) : null, after, stored);
  const insertAt = statements.length;
  // The activity's insert and the thread's update are the same few shapes every time: built once (src/db/memo.ts).
  const activityShape = shapeOf(activity);
  const changedShape = shapeOf(changes);
  statements.push(
    memo(
      db,
      `ingest.insert.${activityShape}`,
      () => db.insert(activities).values(placeholdersOf(activity)).onConflictDoNothing().returning({ id: activities.id }),
      activity,
    ),
    memo(
      db,
      `ingest.update.${changedShape}.${inbound}`,
      () =>
        db
          .update(conversations)
          .set({ ...(placeholdersOf(changes) as unknown as Partial<Conversation>), ...(inbound ? { unreadCount: sql`${conversations.unreadCount} + 1` } : {}) })
          .where(and(eq(conversations.id, sql.placeholder("_conversation")), storedWhen(sql.placeholder("_activity")))),
      { ...changes, _conversation: conversation.id, _activity: activity.id },
    ),
    ...tallies,
  );
  if (consent !== null && !contactIsNew) {
    // The message and the consent change it carries are one write (only if the message is stored).
    statements.push(
      db
        .update(contacts)
        .set(consentColumns("sms", consent, now))
        .where(and(eq(contacts.orgId, orgId), eq(contacts.id, contact.id), stored)),
    );
  }
  const events = ingestEvents(activity, contactIsNew, consent);
  statements.push(...out.addIf(activityStored(activity.id), ...events));
  const results = await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  const insertedNow = (results[insertAt] as unknown[]).length > 0;
  out.settle(insertedNow, ...events);

  // The unique key is the backstop should a write ever bypass the serialization.
  if (!insertedNow) {
    const winner = await findDuplicate(db, orgId, input.provider, input.providerMessageId);
    if (winner) return { activity: winner, media: await loadMedia(db, orgId, winner.mediaIds), duplicate: true };
  }
  return { activity, media: mediaRows, duplicate: false, followUps: followUpsOf(orgId, activity, setterRows[0]?.mode) };
}

/** What a stored ingest announces: its contact when new (webhooks only), the message, its thread. */
export const ingestEvents = (
  activity: Activity,
  contactIsNew: boolean,
  consent: boolean | null,
  known?: { media: Media[]; thread: ConversationWithContact },
): EventRef[] => [
  ...(contactIsNew ? [{ type: "contact.created" as const, conversationId: activity.conversationId, objectId: activity.contactId }] : []),
  { type: "message.created", conversationId: activity.conversationId, objectId: activity.id, ...(known ? { known: { activity, media: known.media } } : {}) },
  { type: "conversation.updated", conversationId: activity.conversationId, objectId: activity.conversationId, ...(known ? { known: known.thread } : {}) },
  ...(consent === null ? [] : [consentEvent(activity.contactId, activity.conversationId, "sms", consent, "keyword")]),
];

/** An inbound SMS that is a consent keyword and changes the contact's consent: true opts out, false back in; else null (SPEC 19). */
export function keywordChange(activity: Pick<Activity, "type" | "direction" | "body">, contact: Pick<Contact, "smsOptOut">): boolean | null {
  if (activity.type !== "sms" || activity.direction !== "inbound") return null;
  const wanted = keywordConsent(activity.body);
  return wanted === null || wanted === contact.smsOptOut ? null : wanted;
}

export const unknownContact = () =>
  new ApiError("unknown_contact", "No contact with this id in the org.", [{ path: "contact.id", message: "unknown contact" }]);

type NewContactRef = Exclude<IngestInput["contact"], { id: string }>;

/** The contact an ingest creates for an address no contact of the org has. */
export const newContact = (orgId: string, ref: NewContactRef, now: number, id = uuidv7(now)): Contact => ({
  id,
  orgId,
  name: ref.name ?? null,
  phone: "phone" in ref ? ref.phone : null,
  email: "email" in ref ? ref.email : null,
  ...NO_OPT_OUT,
  createdAt: now,
  updatedAt: now,
});

/** The timeline row of an ingest. */
export function activityOf(
  orgId: string,
  input: IngestInput,
  conversationId: string,
  contactId: string,
  channelId: string | null,
  now: number,
  id = uuidv7(now),
): Activity {
  return newActivity(
    {
      id,
      orgId,
      conversationId,
      contactId,
      type: input.type,
      direction: input.direction,
      status: input.status,
      body: input.body ?? null,
      subject: input.subject ?? null,
      html: input.html ?? null,
      fromAddr: input.from ?? null,
      toAddr: input.to ?? null,
      channelId,
      mediaIds: input.mediaIds,
      authorId: input.authorId ?? null,
      provider: input.provider,
      providerMessageId: input.providerMessageId ?? null,
      callDurationSeconds: input.call?.durationSeconds ?? null,
      callRecordingUrl: input.call?.recordingUrl ?? null,
      callTranscript: input.call?.transcript ?? null,
      callSummary: input.call?.summary ?? null,
      callSummaryStatus: input.type !== "call" ? null : input.call?.summary ? "ready" : input.call?.transcript ? "pending" : "unavailable",
      occurredAt: input.occurredAt,
    },
    now,
  );
}

/**
 * What an ingested activity changes on its conversation (unread_count aside: +1 for an
 * inbound one, applied by the caller). `waitSince`: the reply wait once the activity is
 * added (undefined: the activity does not touch it).
 */
export function conversationChanges(
  conversation: Conversation,
  activity: Activity,
  channelId: string | null,
  waitSince: number | null | undefined,
  sla: SlaSettings,
  now: number,
): Partial<Conversation> {
  const changes: Partial<Conversation> = { updatedAt: now };
  if (conversation.lastActivityAt == null || activity.occurredAt >= conversation.lastActivityAt) {
    Object.assign(changes, lastActivityOf(activity));
  }
  // An inbound activity unarchives, and so wakes a snoozed conversation (SPEC 17).
  if (activity.direction === "inbound") Object.assign(changes, { archived: false, snoozedUntil: null });
  if (channelId) changes[activity.type === "sms" ? "lastSmsChannelId" : "lastEmailChannelId"] = channelId;
  if (waitSince !== undefined) {
    changes.awaitingReplySince = waitSince;
    changes.slaDueAt = slaDueAt(waitSince, sla);
  }
  return changes;
}

/** The AI work a new activity calls for: a setter draft for an inbound message (suggestive mode), a call's summary. */
export function followUpsOf(orgId: string, activity: Activity, setterMode: string | undefined): AiJob[] {
  const followUps: AiJob[] = [];
  if (activity.direction === "inbound" && (activity.type === "sms" || activity.type === "email") && setterMode === "suggestive") {
    followUps.push({ kind: "draft", orgId, conversationId: activity.conversationId, triggerId: activity.id });
  }
  if (activity.callSummaryStatus === "pending") followUps.push({ kind: "summary", orgId, activityId: activity.id });
  return followUps;
}
