import { z } from "@hono/zod-openapi";
import { ACTIVITY_TYPES, CHANNEL_KINDS, DIRECTIONS, INGEST_TYPES, SUGGESTION_STATUSES, SUMMARY_STATUSES } from "../db/enums";
import { orNull, Timestamp, Uuid } from "../lib/schemas";

const ActivityType = z.enum(INGEST_TYPES);
const Direction = z.enum(DIRECTIONS).nullable();

export const ConversationSchema = z
  .object({
    id: Uuid,
    contact: z.object({ id: Uuid, name: z.string().nullable(), phone: z.string().nullable(), email: z.string().nullable() }),
    assigned_to: Uuid.nullable(),
    starred: z.boolean(),
    archived: z.boolean(),
    unread_count: z.number().int(),
    last_read_at: Timestamp.nullable(),
    last_activity: z.object({ id: Uuid, type: z.enum(ACTIVITY_TYPES), direction: Direction, preview: z.string().max(140), occurred_at: Timestamp }).nullable(),
    last_activity_at: Timestamp.nullable(),
    awaiting_reply_since: Timestamp.nullable(),
    sla_due_at: Timestamp.nullable(),
    snoozed_until: Timestamp.nullable().openapi({ description: "snoozed (and archived) until then; null when not snoozed (SPEC 17)" }),
    labels: z
      .array(z.object({ id: Uuid, name: z.string(), color: z.string().nullable() }).openapi("LabelRef"))
      .openapi({ description: "the conversation's labels, by name (case-insensitive) (SPEC 17)" }),
    overdue: z.boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Conversation");

/** Why a conversation is in a search's results (SPEC 16): its newest matching message, or its contact. */
export const SearchMatchSchema = z
  .object({
    message_id: Uuid.nullable().openapi({ description: "the newest matching message; null when only the contact matched" }),
    snippet: z.string().max(160).openapi({ description: "the matched text in context, at most 160 characters, each matched word wrapped in « »" }),
  })
  .openapi("SearchMatch");

/** A list item: a Conversation, with `match` when the list is a search (`q`); without `q` the key is absent. */
export const ConversationListItemSchema = ConversationSchema.extend({
  match: SearchMatchSchema.optional().openapi({ description: "present only when the list was asked with q" }),
}).openapi("ConversationListItem");

export const MediaRefSchema = z.object({
  id: Uuid,
  content_type: z.string(),
  size: z.number().int(),
  filename: z.string().nullable(),
  url: z.string().nullable().openapi({ description: "signed link; null when the server has no usable MEDIA_URL_SECRET" }),
});

export const MessageSchema = z
  .object({
    id: Uuid,
    conversation_id: Uuid,
    contact_id: Uuid,
    type: ActivityType,
    direction: Direction,
    status: z.string().openapi({
      description:
        "received | scheduled|queued|sending|sent|delivered|read|undelivered|failed|canceled | completed|no-answer|busy|failed|canceled | logged (`scheduled` and a send's `canceled`: SPEC 20)",
    }),
    body: z.string().nullable(),
    subject: z.string().nullable(),
    html: z.string().nullable(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    media: z.array(MediaRefSchema),
    author_id: Uuid.nullable(),
    provider: z.string().nullable(),
    provider_message_id: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    call: z
      .object({
        duration_seconds: z.number().int().nullable(),
        recording_url: z.string().nullable(),
        transcript: z.string().nullable(),
        summary: z.string().nullable(),
        summary_status: z.enum(SUMMARY_STATUSES),
      })
      .nullable(),
    send_at: Timestamp.nullable().openapi({
      description: "a scheduled send's time (SPEC 20), kept once it is sent or canceled; null for a message that was never scheduled",
    }),
    occurred_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Message");

export const SuggestionSchema = z
  .object({
    id: Uuid,
    conversation_id: Uuid,
    type: z.literal("suggestion"),
    channel: z.enum(CHANNEL_KINDS),
    body: z.string(),
    subject: z.string().nullable(),
    status: z.enum(SUGGESTION_STATUSES),
    sent_message_id: Uuid.nullable(),
    resolved_by: Uuid.nullable(),
    resolved_at: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .openapi("Suggestion");

// Null only here, where the value can be null: the Suggestion component itself never is.
export const ConversationDetailSchema = ConversationSchema.extend({ pending_suggestion: orNull(SuggestionSchema) }).openapi("ConversationDetail");

/** A timeline item: `type` tells a Message (sms, email, call, note) from a Suggestion. */
export const TimelineItemSchema = z.discriminatedUnion("type", [MessageSchema, SuggestionSchema]);
