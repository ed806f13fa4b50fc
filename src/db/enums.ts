// Every closed set of values the product stores or accepts, declared once: the
// drizzle columns (src/db/schema.ts) and the zod schemas of the routes both read
// these arrays. A leaf module: it imports nothing.

export const ROLES = ["owner", "admin", "agent"] as const;
export const CHANNEL_KINDS = ["sms", "email"] as const;
export const PROVIDERS = ["twilio", "postmark", "log"] as const;
/** Timeline rows; a suggestion is an activity too (one timeline index). */
export const ACTIVITY_TYPES = ["sms", "email", "call", "note", "suggestion"] as const;
/** What a client may ingest (`POST /activities`). */
export const INGEST_TYPES = ["sms", "email", "call", "note"] as const;
/** What a member may send from the thread. */
export const SEND_TYPES = ["sms", "email", "note"] as const;
export const DIRECTIONS = ["inbound", "outbound"] as const;
export const CALL_STATUSES = ["completed", "no-answer", "busy", "failed", "canceled"] as const;
export const SUMMARY_STATUSES = ["pending", "ready", "failed", "unavailable"] as const;
export const SUGGESTION_STATUSES = ["pending", "sent", "dismissed", "superseded"] as const;
export const VIEW_KEYS = ["unread", "recents", "starred", "all"] as const;
export const SCOPES = ["mine", "team"] as const;
export const SETTER_MODES = ["off", "suggestive"] as const;
export const GENERATORS = ["workers-ai", "openai-compatible", "none"] as const;
export const PAIR_LABELS = ["accepted", "edited", "rewritten"] as const;
export const MEDIA_STATUSES = ["pending", "ready", "failed"] as const;
/** An org's move to another shard (SPEC 14, GET /operator/moves/{move_id}). */
export const MOVE_STATUSES = ["copying", "verifying", "done", "failed"] as const;
/** A shard's fence on an org's rows while it moves (migrations/shard: the triggers read it). */
export const FENCE_STATES = ["held", "moved", "deleting"] as const;
/** What an outgoing webhook can subscribe to (SPEC 18): the /events types and the contact events. */
export const WEBHOOK_EVENT_TYPES = [
  "message.created",
  "message.updated",
  "conversation.updated",
  "suggestion.created",
  "contact.created",
  "contact.updated",
  "contact.opted_out",
  "contact.opted_in",
] as const;

/** A webhook delivery (SPEC 18): waiting for an attempt or a retry, or over. */
export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
