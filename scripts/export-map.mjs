// An export line (GET /conversations/export, SPEC 20: a Conversation with `messages`) as
// POST /activities bodies, for `npm run import` into another org (or the same one: it
// dedups). Pure: no I/O, so scripts/import.mjs and test/export.test.ts share it.
//
// - The contact is keyed by the conversation's contact phone, else its email, with its
//   name: every message of a line lands on one contact, so on one conversation.
// - provider = message.provider ?? "export"; provider_message_id = message.provider_message_id
//   ?? `export:<message id>`: a rerun (or a second import of the same file) is deduplicated.
// - What cannot move: media (an org's media is its own: media_ids are dropped, counted in
//   `media_dropped`), a call recording kept in our storage (its signed link expires and
//   points into the source org: dropped too), the status of an outbound message (ingest
//   records `sent`), authors (notes become notes with no author), read/star/assign/archive/
//   snooze state and labels (those are inbox state, not history).
// - A send that never went out is not history: an sms/email still `scheduled`, `canceled`,
//   or `failed` by a refusal before any attempt (the codes below) is left out, counted in
//   `unsent_skipped` (imported, it would stand as a sent reply, perhaps in the future).

const CALL_STATUSES = new Set(["completed", "no-answer", "busy", "failed", "canceled"]);
/** Why a send failed before any attempt (src/org-inbox/scheduled.ts, ENQUEUE_FAILED): it never went out. */
const REFUSED_BEFORE_SENDING = new Set(["contact_opted_out", "contact_unreachable", "no_channel", "enqueue_failed"]);

/** An exported sms/email that never went out (see above). */
export function neverSent(m) {
  if ((m.type !== "sms" && m.type !== "email") || m.direction !== "outbound") return false;
  return m.status === "scheduled" || m.status === "canceled" || (m.status === "failed" && REFUSED_BEFORE_SENDING.has(m.error?.code));
}
/** Our own signed media link (src/media/signing.ts): /media/<uuid>?exp=…&sig=… */
const SIGNED_MEDIA = /\/media\/[0-9a-f-]{36}\?exp=\d+&sig=[0-9a-f]+$/i;

/** Whether a parsed NDJSON line is an export line (an object with a `contact` and a `messages` array). */
export function isExportLine(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Array.isArray(value.messages) && typeof value.contact === "object";
}

/** The `contact` of a POST /activities body for the line's contact, or null when it has neither phone nor email. */
export function exportContact(contact) {
  const name = typeof contact?.name === "string" && contact.name.trim() ? { name: contact.name } : {};
  if (contact?.phone) return { phone: contact.phone, ...name };
  if (contact?.email) return { email: contact.email, ...name };
  return null;
}

/** One exported message as a POST /activities body for `contact` (see exportContact). */
export function exportMessageToActivity(contact, m) {
  const item = {
    contact,
    type: m.type,
    ...(m.type === "note" ? {} : { direction: m.direction }),
    body: m.body ?? null,
    subject: m.subject ?? null,
    html: m.html ?? null,
    from: m.from ?? null,
    to: m.to ?? null,
    provider: m.provider ?? "export",
    provider_message_id: m.provider_message_id ?? `export:${m.id}`,
    occurred_at: m.occurred_at,
  };
  if (m.type === "call") {
    const url = m.call?.recording_url ?? null;
    item.call = {
      duration_seconds: m.call?.duration_seconds ?? 0,
      status: CALL_STATUSES.has(m.status) ? m.status : "completed",
      recording_url: url && !SIGNED_MEDIA.test(url) ? url : null,
      transcript: m.call?.transcript ?? null,
      summary: m.call?.summary ?? null,
    };
  }
  return item;
}

/**
 * An export line's POST /activities bodies, oldest first as exported. `error` is set (and
 * `activities` empty) when its contact has neither a phone nor an email to key it by.
 */
export function exportLineToActivities(line) {
  const contact = exportContact(line.contact);
  const history = line.messages.filter((m) => !neverSent(m));
  const unsent_skipped = line.messages.length - history.length;
  const media_dropped = history.reduce((n, m) => n + (m.media?.length ?? 0), 0);
  if (!contact) return { activities: [], media_dropped, unsent_skipped, error: "contact_without_address" };
  return { activities: history.map((m) => exportMessageToActivity(contact, m)), media_dropped, unsent_skipped, error: null };
}
