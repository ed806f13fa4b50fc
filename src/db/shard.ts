import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { created, flag, ms, updated } from "./columns";
import {
  ACTIVITY_TYPES,
  CHANNEL_KINDS,
  DELIVERY_STATUSES,
  DIRECTIONS,
  FENCE_STATES,
  MEDIA_STATUSES,
  PAIR_LABELS,
  PROVIDERS,
  SETTER_MODES,
  SUMMARY_STATUSES,
  VIEW_KEYS,
  type WEBHOOK_EVENT_TYPES,
} from "./enums";

// A shard database (bindings SHARD_0 … SHARD_<n-1>): everything of an org but its row,
// its members and its channel routes (src/db/control.ts). An org's rows all live in one
// shard. No table here references `orgs` (it is in another database); references
// between shard tables stay. migrations/shard/ is generated from this file and
// src/db/unroutable.ts by `npm run db:generate`.

export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    name: text("name"),
    phone: text("phone"),
    email: text("email"),
    // Consent (SPEC 19): an opted-out channel is never sent to; when it changed last.
    smsOptOut: flag("sms_opt_out"),
    emailOptOut: flag("email_opt_out"),
    smsOptOutAt: ms("sms_opt_out_at"),
    emailOptOutAt: ms("email_opt_out_at"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [
    uniqueIndex("contacts_org_phone_uq").on(t.orgId, t.phone),
    uniqueIndex("contacts_org_email_uq").on(t.orgId, t.email),
    index("contacts_org_id_idx").on(t.orgId, t.id),
  ],
);

export const channels = sqliteTable(
  "channels",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    kind: text("kind", { enum: CHANNEL_KINDS }).notNull(),
    // E.164 for sms, lowercased for email; unique across orgs because inbound
    // webhooks pick the org by the address they were sent to.
    address: text("address").notNull(),
    provider: text("provider", { enum: PROVIDERS }).notNull(),
    createdAt: created(),
  },
  (t) => [uniqueIndex("channels_address_uq").on(t.kind, t.address), index("channels_org_kind_idx").on(t.orgId, t.kind, t.createdAt)],
);

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    contactId: text("contact_id")
      .notNull()
      .references(() => contacts.id),
    assignedTo: text("assigned_to"),
    starred: flag("starred"),
    archived: flag("archived"),
    unreadCount: integer("unread_count").notNull().default(0),
    lastReadAt: ms("last_read_at"),
    lastActivityId: text("last_activity_id"),
    lastActivityType: text("last_activity_type"),
    lastActivityDirection: text("last_activity_direction"),
    lastActivityPreview: text("last_activity_preview"),
    lastActivityAt: ms("last_activity_at"),
    // The list order: last_activity_at, or created_at before any activity, so
    // keyset cursors never meet a NULL.
    sortAt: ms("sort_at").notNull(),
    awaitingReplySince: ms("awaiting_reply_since"),
    slaDueAt: ms("sla_due_at"),
    // Snoozed until then (SPEC 17): archived meanwhile; null when not snoozed.
    snoozedUntil: ms("snoozed_until"),
    pendingSuggestionId: text("pending_suggestion_id"),
    // Where the contact last wrote to, per kind: replies leave from there.
    lastSmsChannelId: text("last_sms_channel_id"),
    lastEmailChannelId: text("last_email_channel_id"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [
    uniqueIndex("conversations_org_contact_uq").on(t.orgId, t.contactId),
    // One index per list access path (SPEC 5 and 7); each ends in (sort_at, id)
    // so a page is an index range walk whatever the org's size.
    index("conversations_list_idx").on(t.orgId, t.archived, t.sortAt, t.id),
    // Views without an archived filter list archived and open threads together.
    index("conversations_all_idx").on(t.orgId, t.sortAt, t.id),
    // Overdue lists walk the waiting threads in list order (a minority of any org).
    index("conversations_waiting_sort_idx").on(t.orgId, t.archived, t.sortAt, t.id).where(sql`${t.slaDueAt} IS NOT NULL`),
    index("conversations_assignee_idx").on(t.orgId, t.assignedTo, t.archived, t.sortAt, t.id),
    index("conversations_starred_idx").on(t.orgId, t.archived, t.sortAt, t.id).where(sql`${t.starred} = 1`),
    index("conversations_unread_idx").on(t.orgId, t.archived, t.sortAt, t.id).where(sql`${t.unreadCount} > 0`),
    index("conversations_sla_idx").on(t.orgId, t.archived, t.slaDueAt).where(sql`${t.slaDueAt} IS NOT NULL`),
    index("conversations_sla_assignee_idx").on(t.orgId, t.assignedTo, t.archived, t.slaDueAt).where(sql`${t.slaDueAt} IS NOT NULL`),
    index("conversations_waiting_idx").on(t.orgId, t.awaitingReplySince).where(sql`${t.awaitingReplySince} IS NOT NULL`),
    index("conversations_contact_idx").on(t.contactId),
    // Snoozed threads (a minority): the snoozed= list in list order, and the wake-ups by time.
    index("conversations_snoozed_idx").on(t.orgId, t.archived, t.sortAt, t.id).where(sql`${t.snoozedUntil} IS NOT NULL`),
    index("conversations_snooze_due_idx").on(t.orgId, t.snoozedUntil).where(sql`${t.snoozedUntil} IS NOT NULL`),
  ],
);

// How many conversations of an org sit in each (archived, starred, unread, assignee)
// bucket, kept by OrgInbox in the same batch as every change that moves one: view
// badges without time filters add up a handful of rows instead of counting threads.
export const conversationTallies = sqliteTable(
  "conversation_tallies",
  {
    orgId: text("org_id").notNull(),
    archived: flag("archived"),
    starred: flag("starred"),
    unread: flag("unread"),
    // "" for unassigned, so the primary key holds (NULLs never conflict).
    assignee: text("assignee").notNull().default(""),
    n: integer("n").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.archived, t.starred, t.unread, t.assignee] })],
);

// The same, by (UTC day of sort_at, archived, unread), day first so a window is one key range: the Recents view
// (active_within_days) adds up whole days and counts only the boundary day.
export const activityDayTallies = sqliteTable(
  "activity_day_tallies",
  {
    orgId: text("org_id").notNull(),
    archived: flag("archived"),
    unread: flag("unread"),
    day: integer("day").notNull(),
    n: integer("n").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day, t.archived, t.unread] })],
);

// The timeline: one row per touchpoint. Suggestions (setter drafts) live here
// too, as type "suggestion", so a thread's history reads from one index.
export const activities = sqliteTable(
  "activities",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    contactId: text("contact_id")
      .notNull()
      .references(() => contacts.id),
    type: text("type", { enum: ACTIVITY_TYPES }).notNull(),
    direction: text("direction", { enum: DIRECTIONS }),
    status: text("status").notNull(),
    body: text("body"),
    subject: text("subject"),
    html: text("html"),
    fromAddr: text("from_addr"),
    toAddr: text("to_addr"),
    channelId: text("channel_id"),
    mediaIds: text("media_ids", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    authorId: text("author_id"),
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    sendAttempts: integer("send_attempts").notNull().default(0),
    // The send sweep (src/sending/sweep.ts): how often it put this message back to
    // `queued` because no provider had it (once at most), and when it last asked.
    sweepRequeues: integer("sweep_requeues").notNull().default(0),
    sweepCheckedAt: ms("sweep_checked_at"),
    callDurationSeconds: integer("call_duration_seconds"),
    callRecordingUrl: text("call_recording_url"),
    callRecordingMediaId: text("call_recording_media_id"),
    callTranscript: text("call_transcript"),
    callSummary: text("call_summary"),
    callSummaryStatus: text("call_summary_status", {
      enum: SUMMARY_STATUSES,
    }),
    // Suggestion bookkeeping (type = "suggestion").
    suggestionChannel: text("suggestion_channel", { enum: CHANNEL_KINDS }),
    sentMessageId: text("sent_message_id"),
    resolvedBy: text("resolved_by"),
    resolvedAt: ms("resolved_at"),
    occurredAt: ms("occurred_at").notNull(),
    // Scheduled send (SPEC 20): when a `scheduled` message is due; kept once it is sent or canceled.
    sendAt: ms("send_at"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [
    // The dedup key of every ingest path (SPEC 9). NULL ids (notes, drafts) never collide.
    uniqueIndex("activities_dedup_uq").on(t.orgId, t.provider, t.providerMessageId),
    index("activities_thread_idx").on(t.conversationId, t.occurredAt, t.id),
    // The reply wait (SPEC 7): newest outbound reply, earliest inbound after it.
    index("activities_direction_idx").on(t.conversationId, t.direction, t.occurredAt),
    index("activities_org_status_idx").on(t.orgId, t.type, t.status),
    // Callbacks that carry no number (Twilio recordings) find their call by CallSid alone.
    index("activities_provider_idx").on(t.provider, t.providerMessageId),
    // The send sweep's oldest-first walk: only messages in flight, so it stays small.
    index("activities_sending_idx").on(t.updatedAt).where(sql`${t.status} = 'sending'`),
    // The sweep's walk of sends stored `queued` whose job was lost (src/sending/sweep.ts).
    index("activities_queued_idx").on(t.updatedAt).where(sql`${t.status} = 'queued'`),
    // OrgInbox's alarm: the org's next due scheduled message (SPEC 20); only those waiting.
    index("activities_scheduled_idx").on(t.orgId, t.sendAt).where(sql`${t.status} = 'scheduled'`),
    // GET /activities?updated_since= (SPEC 20): the org's changes in (updated_at, id) order.
    index("activities_updated_idx").on(t.orgId, t.updatedAt, t.id),
  ],
);

export const views = sqliteTable(
  "views",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    userId: text("user_id").notNull(),
    key: text("key", { enum: VIEW_KEYS }),
    name: text("name").notNull(),
    position: integer("position").notNull(),
    filters: text("filters", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [index("views_owner_idx").on(t.orgId, t.userId, t.position), uniqueIndex("views_owner_key_uq").on(t.orgId, t.userId, t.key)],
);

export const slaConfigs = sqliteTable("sla_configs", {
  orgId: text("org_id").primaryKey(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  firstResponseMinutes: integer("first_response_minutes").notNull(),
  businessHours: text("business_hours", { mode: "json" }).$type<BusinessHours | null>(),
  updatedAt: updated(),
});

export type BusinessHours = {
  timezone: string;
  days: Partial<Record<"mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun", { start: string; end: string }[]>>;
};

export const setterConfigs = sqliteTable("setter_configs", {
  orgId: text("org_id").primaryKey(),
  mode: text("mode", { enum: SETTER_MODES }).notNull(),
  instructions: text("instructions"),
  updatedAt: updated(),
});

export const media = sqliteTable(
  "media",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    filename: text("filename"),
    sha256: text("sha256"),
    // "ready" once the bytes are in R2; inbound copies start "pending" and may end "failed".
    status: text("status", { enum: MEDIA_STATUSES }).notNull(),
    sourceUrl: text("source_url"),
    createdBy: text("created_by"),
    createdAt: created(),
  },
  (t) => [index("media_org_idx").on(t.orgId, t.createdAt)],
);

export const trainingPairs = sqliteTable(
  "training_pairs",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    conversationId: text("conversation_id").notNull(),
    suggestionId: text("suggestion_id").notNull(),
    sentMessageId: text("sent_message_id").notNull(),
    draft: text("draft").notNull(),
    sent: text("sent").notNull(),
    label: text("label", { enum: PAIR_LABELS }).notNull(),
    similarity: real("similarity").notNull(),
    context: text("context", { mode: "json" }).$type<{ role: "contact" | "agent"; body: string; occurred_at: string }[]>().notNull(),
    sentBy: text("sent_by"),
    createdAt: created(),
  },
  (t) => [
    index("training_pairs_org_idx").on(t.orgId, t.createdAt, t.id),
    index("training_pairs_label_idx").on(t.orgId, t.label, t.createdAt, t.id),
    uniqueIndex("training_pairs_suggestion_uq").on(t.suggestionId),
  ],
);

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    orgId: text("org_id").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    bodyHash: text("body_hash").notNull(),
    state: text("state", { enum: ["in_flight", "done"] }).notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    responseContentType: text("response_content_type"),
    createdAt: created(),
    expiresAt: ms("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.key] }), index("idempotency_expiry_idx").on(t.expiresAt)],
);

// An org whose rows are moving off this shard, or have moved (SPEC 14). While a row here
// names the org, triggers on every table of the org (migrations/shard/0002_move_fences.sql)
// refuse any write of its rows with the error `org_moving`, except that `deleting` lets
// the move's cleanup delete them: a writer whose cache still points here learns the org
// moved, instead of writing a row the move would leave behind. OrgInbox's own writes
// during the cache grace (its mirror) lift the fence inside their batch. The row stays
// after the old rows are gone (`moved`), for requests that started before the move; a
// move back to this shard drops it first.
export const orgFences = sqliteTable("org_fences", {
  orgId: text("org_id").primaryKey(),
  moveId: text("move_id").notNull(),
  state: text("state", { enum: FENCE_STATES }).notNull(),
  createdAt: created(),
});

// Outgoing webhooks (SPEC 18): where an org's events are delivered, signed per the
// Standard Webhooks specification with `secret`; after a rotation the previous secret
// signs alongside it until `previous_secret_until`.
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    // ["*"], or event types.
    events: text("events", { mode: "json" }).$type<("*" | (typeof WEBHOOK_EVENT_TYPES)[number])[]>().notNull(),
    enabled: flag("enabled"),
    disabledReason: text("disabled_reason"),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretUntil: ms("previous_secret_until"),
    // Since when every delivery attempt has failed (null: the last one succeeded, or none
    // failed yet); 5 days of that disables the endpoint (SPEC 18).
    failingSince: ms("failing_since"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [index("webhook_endpoints_org_idx").on(t.orgId, t.createdAt, t.id)],
);
export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;

// The outbox of outgoing webhooks (SPEC 18): one row per event, written by OrgInbox in the
// same D1 batch as the change it reports (src/outbox/outbox.ts), only while some enabled
// endpoint of the org subscribes to its type. `seq` orders the org's events. The
// dispatcher (src/outbox/dispatch.ts) builds `body` once, from the rows as they are then,
// fans it out as one delivery per subscribed endpoint, and sets `dispatched_at`; rows it
// has not reached are found again by the Cron sweep.
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    seq: integer("seq").notNull(),
    type: text("type").$type<(typeof WEBHOOK_EVENT_TYPES)[number]>().notNull(),
    conversationId: text("conversation_id"),
    // The activity, conversation or contact the event is about.
    objectId: text("object_id").notNull(),
    // What the object's row does not say: a consent change's { channel, source }.
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>(),
    body: text("body"),
    dispatchedAt: ms("dispatched_at"),
    createdAt: created(),
  },
  (t) => [
    index("webhook_events_org_idx").on(t.orgId, t.seq),
    index("webhook_events_undispatched_idx").on(t.createdAt).where(sql`${t.dispatchedAt} IS NULL`),
    // Retention (src/outbox/retention.ts): dispatched events, oldest first.
    index("webhook_events_dispatched_idx").on(t.createdAt).where(sql`${t.dispatchedAt} IS NOT NULL`),
  ],
);
export type WebhookEvent = typeof webhookEvents.$inferSelect;

// One event for one endpoint; its id is the `webhook-id` of every attempt, so a receiver
// dedups retries by it. `lease_until` is the claim of the attempt in flight (queue and
// sweep may both hand it over; only one sends).
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").$type<(typeof WEBHOOK_EVENT_TYPES)[number]>().notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    // The response body of the last attempt, at most 4 KiB.
    lastResponse: text("last_response"),
    nextAttemptAt: ms("next_attempt_at"),
    leaseUntil: ms("lease_until"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_uq").on(t.endpointId, t.eventId),
    index("webhook_deliveries_list_idx").on(t.orgId, t.endpointId, t.createdAt, t.id),
    index("webhook_deliveries_status_idx").on(t.orgId, t.endpointId, t.status, t.createdAt, t.id),
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // Retention (src/outbox/retention.ts): settled deliveries by their last change, and an
    // event's deliveries (an event goes only once none is left).
    index("webhook_deliveries_settled_idx").on(t.updatedAt).where(sql`${t.status} <> 'pending'`),
    index("webhook_deliveries_event_idx").on(t.eventId),
  ],
);
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;

// Saved replies (SPEC 17): org-wide message templates with {{variables}}, rendered at send
// time (src/templates/render.ts). `name_key` is the name folded for comparison (NFC,
// lowercase): unique in the org, so a taken name is refused however it is cased, and the
// list's order (name order) walks the same index.
export const templates = sqliteTable(
  "templates",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    nameKey: text("name_key").notNull(),
    // sms, email, or null (either, and notes).
    channel: text("channel", { enum: CHANNEL_KINDS }),
    subject: text("subject"),
    body: text("body").notNull(),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [uniqueIndex("templates_name_uq").on(t.orgId, t.nameKey)],
);
export type Template = typeof templates.$inferSelect;

// Labels (SPEC 17): the org's tags for conversations. `name_key` is the name folded for
// comparison (NFC, lowercase), as templates': unique in the org, and the list's order.
export const labels = sqliteTable(
  "labels",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    nameKey: text("name_key").notNull(),
    // "#rrggbb" (lowercase) or null.
    color: text("color"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [uniqueIndex("labels_name_uq").on(t.orgId, t.nameKey)],
);
export type Label = typeof labels.$inferSelect;

// Which conversation has which label; written only by OrgInbox (src/org-inbox/labels.ts).
// The primary key reads a conversation's labels; the index walks a label's conversations
// (the label= filter, view counts, and a label's delete).
export const conversationLabels = sqliteTable(
  "conversation_labels",
  {
    orgId: text("org_id").notNull(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id),
    labelId: text("label_id")
      .notNull()
      .references(() => labels.id),
    createdAt: created(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.labelId] }), index("conversation_labels_label_idx").on(t.orgId, t.labelId, t.conversationId)],
);
export type ConversationLabel = typeof conversationLabels.$inferSelect;

// How many of an org's conversations carry a label, by (archived, unread): what a view
// filtered by one label (and archived/unread) counts, in at most four rows whatever the
// org's size. Kept exact by SQLite triggers (migrations/shard/0016_label_tally_triggers.sql),
// not by the writers: a link added or removed, or a labelled conversation changing
// archived or unread, moves the rows in the statement that made the change. A row whose
// n reaches 0 is deleted, so a label without conversations has none.
export const labelTallies = sqliteTable(
  "label_tallies",
  {
    orgId: text("org_id").notNull(),
    labelId: text("label_id").notNull(),
    archived: flag("archived"),
    unread: flag("unread"),
    n: integer("n").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.labelId, t.archived, t.unread] })],
);
