import { and, eq, inArray } from "drizzle-orm";
import { toContact } from "../contacts/queries";
import { toConversation, toMessage, toSuggestion } from "../conversations/present";
import { type ConversationWithContact, contactColumns, mediaFor } from "../conversations/queries";
import type { Db } from "../db/client";
import type { WEBHOOK_EVENT_TYPES } from "../db/enums";
import { type Activity, activities, type Contact, contacts, conversations, type Media } from "../db/schema";
import type { Bindings } from "../env";
import { labelsOf } from "../labels/queries";
import { inChunks } from "../lib/schemas";

// The one event builder (issue 17): /events (OrgInbox's sockets) and the webhooks
// (src/outbox/dispatch.ts) both turn an event's reference into its REST-shaped data here,
// so their types and shapes are one definition. An event names what it is about; the
// data is the row as it is when the event is built (right after the write for sockets,
// at dispatch for webhooks).

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * What one event is about: a message or suggestion (activity), a conversation or a contact,
 * by id. `known`: the row as the write left it, when the writer has it in memory (the
 * group commit's threads as each item left them), used instead of a read.
 */
export type EventRef = {
  type: WebhookEventType;
  conversationId: string | null;
  objectId: string;
  /** What the row does not say (a consent change's channel and source); stored with the event, merged into its data. */
  detail?: Record<string, unknown> | null;
  known?: { activity: Activity; media: Media[] } | ConversationWithContact;
};

/** An event with its data. `conversation_id` is null only for a contact with no conversation. */
export type BuiltEvent = { type: WebhookEventType; conversation_id: string | null; data: unknown };

/** The types sent on GET /events: SPEC 11's four and the consent changes (SPEC 19); contact.created and contact.updated go to webhooks only. */
export const SOCKET_TYPES: ReadonlySet<WebhookEventType> = new Set([
  "message.created",
  "message.updated",
  "conversation.updated",
  "suggestion.created",
  "contact.opted_out",
  "contact.opted_in",
]);

const kindOf = (type: WebhookEventType) => (type.startsWith("contact.") ? "contact" : type === "conversation.updated" ? "conversation" : "activity");

/**
 * The events of `refs`, in order, from at most three reads (activities, conversations with
 * their contacts, contacts) plus the media of the messages and the conversations' labels;
 * null where the row is gone.
 */
export async function buildEvents(env: Bindings, db: Db, orgId: string, refs: EventRef[]): Promise<(BuiltEvent | null)[]> {
  const ids = { activity: new Set<string>(), conversation: new Set<string>(), contact: new Set<string>() };
  for (const r of refs) if (!r.known) ids[kindOf(r.type)].add(r.objectId);
  const [activityRows, conversationRows, contactRows] = await Promise.all([
    inChunks([...ids.activity], (slice) =>
      db
        .select()
        .from(activities)
        .where(and(eq(activities.orgId, orgId), inArray(activities.id, slice)))
        .all(),
    ),
    inChunks([...ids.conversation], (slice) =>
      db
        .select({ conversation: conversations, contact: contactColumns })
        .from(conversations)
        .innerJoin(contacts, eq(contacts.id, conversations.contactId))
        .where(and(eq(conversations.orgId, orgId), inArray(conversations.id, slice)))
        .all(),
    ),
    inChunks([...ids.contact], (slice) =>
      db
        .select()
        .from(contacts)
        .where(and(eq(contacts.orgId, orgId), inArray(contacts.id, slice)))
        .all(),
    ),
  ]);
  const byActivity = new Map<string, Activity>(activityRows.map((a) => [a.id, a]));
  const byConversation = new Map(conversationRows.map((r) => [r.conversation.id, r]));
  const byContact = new Map<string, Contact>(contactRows.map((c) => [c.id, c]));
  const mediaById = new Map<string, Media>();
  for (const r of refs) {
    if (r.known && "activity" in r.known) for (const m of r.known.media) mediaById.set(m.id, m);
  }
  const known = refs.flatMap((r) => (r.known && "activity" in r.known ? [r.known.activity] : []));
  const mediaIds = [...activityRows, ...known].flatMap((a) => [...a.mediaIds, ...(a.callRecordingMediaId ? [a.callRecordingMediaId] : [])]);
  const missing = [...new Set(mediaIds)].filter((id) => !mediaById.has(id));
  // Every conversation's labels (a known row's too: they are read, not carried), in one query.
  const [media, labelsByConversation] = await Promise.all([
    mediaFor(db, orgId, missing),
    labelsOf(db, orgId, [...new Set(refs.filter((r) => kindOf(r.type) === "conversation").map((r) => r.objectId))]),
  ]);
  for (const [id, m] of media) mediaById.set(id, m);
  return Promise.all(
    refs.map(async (r): Promise<BuiltEvent | null> => {
      const at = { type: r.type, conversation_id: r.conversationId };
      switch (kindOf(r.type)) {
        case "activity": {
          const a = r.known && "activity" in r.known ? r.known.activity : byActivity.get(r.objectId);
          if (!a) return null;
          return { ...at, conversation_id: a.conversationId, data: r.type === "suggestion.created" ? toSuggestion(a) : await toMessage(env, a, mediaById) };
        }
        case "conversation": {
          const row = r.known && "conversation" in r.known ? r.known : byConversation.get(r.objectId);
          return row ? { ...at, data: toConversation(row.conversation, row.contact, Date.now(), labelsByConversation.get(r.objectId) ?? []) } : null;
        }
        default: {
          const c = byContact.get(r.objectId);
          return c ? { ...at, data: { ...toContact(c), ...(r.detail ?? {}) } } : null;
        }
      }
    }),
  );
}
