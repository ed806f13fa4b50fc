import type { Activity, Contact, Conversation, Media } from "../db/schema";
import type { Bindings } from "../env";
import { iso, isoOrNull } from "../lib/time";
import { signedMediaUrl } from "../media/signing";

// Row → API shape (SPEC 4). The only place that knows both.

export const PREVIEW_CHARS = 140;
export const preview = (text: string | null | undefined) => {
  const flat = (text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1)}…` : flat;
};

/** A label as a conversation shows it (src/labels/queries.ts reads them, by name). */
type LabelRef = { id: string; name: string; color: string | null };

export function toConversation(cv: Conversation, ct: Pick<Contact, "id" | "name" | "phone" | "email">, now = Date.now(), labels: LabelRef[] = []) {
  return {
    id: cv.id,
    contact: { id: ct.id, name: ct.name, phone: ct.phone, email: ct.email },
    assigned_to: cv.assignedTo,
    starred: cv.starred,
    archived: cv.archived,
    unread_count: cv.unreadCount,
    last_read_at: isoOrNull(cv.lastReadAt),
    last_activity:
      cv.lastActivityId && cv.lastActivityAt != null
        ? {
            id: cv.lastActivityId,
            type: cv.lastActivityType as Activity["type"],
            direction: cv.lastActivityDirection as Activity["direction"],
            preview: cv.lastActivityPreview ?? "",
            occurred_at: iso(cv.lastActivityAt),
          }
        : null,
    last_activity_at: isoOrNull(cv.lastActivityAt),
    awaiting_reply_since: isoOrNull(cv.awaitingReplySince),
    sla_due_at: isoOrNull(cv.slaDueAt),
    snoozed_until: isoOrNull(cv.snoozedUntil),
    labels,
    // sla_due_at is NULL whenever the SLA is disabled, so this needs no config read.
    overdue: !cv.archived && cv.slaDueAt != null && cv.slaDueAt <= now,
    created_at: iso(cv.createdAt),
    updated_at: iso(cv.updatedAt),
  };
}
export type ConversationOut = ReturnType<typeof toConversation>;

export async function toMedia(env: Pick<Bindings, "PUBLIC_BASE_URL" | "MEDIA_URL_SECRET">, m: Media) {
  return { id: m.id, content_type: m.contentType, size: m.size, filename: m.filename, url: await signedMediaUrl(env, m.id) };
}

export async function toMessage(env: Pick<Bindings, "PUBLIC_BASE_URL" | "MEDIA_URL_SECRET">, a: Activity, mediaById: Map<string, Media> = new Map()) {
  const media = await Promise.all(
    a.mediaIds
      .map((id) => mediaById.get(id))
      .filter((m): m is Media => !!m)
      .map((m) => toMedia(env, m)),
  );
  return {
    id: a.id,
    conversation_id: a.conversationId,
    contact_id: a.contactId,
    type: a.type as "sms" | "email" | "call" | "note",
    direction: a.direction,
    status: a.status,
    body: a.body,
    subject: a.subject,
    html: a.html,
    from: a.fromAddr,
    to: a.toAddr,
    media,
    author_id: a.authorId,
    provider: a.provider,
    provider_message_id: a.providerMessageId,
    error: a.errorCode || a.errorMessage ? { code: a.errorCode ?? "", message: a.errorMessage ?? "" } : null,
    call:
      a.type === "call"
        ? {
            duration_seconds: a.callDurationSeconds,
            // A signed link to our R2 copy once it is there, the provider's URL before (and
            // also after, when links cannot be signed: no usable MEDIA_URL_SECRET).
            recording_url:
              (a.callRecordingMediaId && mediaById.get(a.callRecordingMediaId)?.status === "ready"
                ? await signedMediaUrl(env, a.callRecordingMediaId)
                : null) ?? a.callRecordingUrl,
            transcript: a.callTranscript,
            summary: a.callSummary,
            summary_status: a.callSummaryStatus ?? "unavailable",
          }
        : null,
    send_at: isoOrNull(a.sendAt),
    occurred_at: iso(a.occurredAt),
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
  };
}
export type MessageOut = Awaited<ReturnType<typeof toMessage>>;

export function toSuggestion(a: Activity) {
  return {
    id: a.id,
    conversation_id: a.conversationId,
    type: "suggestion" as const,
    channel: (a.suggestionChannel ?? "sms") as "sms" | "email",
    body: a.body ?? "",
    subject: a.subject,
    status: a.status as "pending" | "sent" | "dismissed" | "superseded",
    sent_message_id: a.sentMessageId,
    resolved_by: a.resolvedBy,
    resolved_at: isoOrNull(a.resolvedAt),
    created_at: iso(a.createdAt),
  };
}
