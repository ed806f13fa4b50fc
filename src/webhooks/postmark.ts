import { eq } from "drizzle-orm";
import { z } from "zod";
import { requirePostmarkWebhookAuth } from "../config/secrets";
import { activities, contacts } from "../db/schema";
import { findInShards } from "../db/shards";
import type { Bindings } from "../env";
import { constantTimeEqual } from "../lib/bytes";
import { ApiError } from "../lib/errors";
import { log } from "../lib/log";
import { normalizeEmail } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import { derivedMediaId, storeInlineMedia } from "./inbound-media";
import type { ProviderSource, WebhookAdapter } from "./pipeline";
import { postmarkRecordChange } from "./postmark-status";

/**
 * Postmark: HTTP Basic (SPEC 9), anything else is 401; 503 when the credentials are not
 * configured. Every authenticated request is answered 200 JSON. A body that is not JSON is
 * kept as its text.
 */
export const postmark: ProviderSource = {
  provider: "postmark",
  async authenticate(c) {
    const { user, password } = requirePostmarkWebhookAuth(c.env);
    const m = /^Basic\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    let given = "";
    try {
      given = m ? atob(m[1]) : "";
    } catch {
      given = "";
    }
    if (!constantTimeEqual(given, `${user}:${password}`)) {
      throw new ApiError("unauthenticated", "Postmark webhook credentials are missing or wrong.", undefined, { "www-authenticate": 'Basic realm="postmark"' });
    }
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { body, kept: body !== null && typeof body === "object" ? body : { raw: text.slice(0, 100_000) } };
  },
  answer: (c) => c.json({ ok: true }, 200),
};

/** An optional field: one of another type is ignored, as if absent (Postmark's payloads are read leniently). */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
const text = optional(z.string());

/** The attachment's bytes, or null when Content is not base64 (the email is kept, the attachment marked failed). */
const base64Bytes = (b64: string) => {
  try {
    return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
};

const attachment = z
  .object({ Content: z.string(), ContentType: text, Name: text })
  .transform((a) => ({
    bytes: base64Bytes(a.Content),
    contentType: a.ContentType ? a.ContentType.slice(0, 255) : "application/octet-stream",
    filename: a.Name !== undefined ? a.Name.slice(0, 255) : null,
  }))
  // One with no Content (or not an object) is skipped; the others keep their place (it names their media).
  .nullable()
  .catch(null);

const inboundEmail = z
  .looseObject({
    OriginalRecipient: text,
    ToFull: optional(z.array(optional(z.looseObject({ Email: text })))),
    To: text,
    FromFull: optional(z.looseObject({ Email: text, Name: z.unknown() })),
    From: text,
    FromName: text,
    MessageID: text,
    Subject: text,
    TextBody: text,
    HtmlBody: text,
    StrippedTextReply: text,
    Date: text,
    Attachments: optional(z.array(z.unknown())),
  })
  .transform((p, ctx) => {
    // Our address: the first of them an org owns (OriginalRecipient, then ToFull, then To).
    const recipients = [p.OriginalRecipient, ...(p.ToFull ?? []).map((t) => t?.Email), p.To]
      .filter((x): x is string => typeof x === "string" && x.includes("@"))
      .map((x) => normalizeEmail(x.replace(/^.*<([^>]+)>.*$/, "$1")));
    const fromAddress = p.FromFull?.Email ?? p.From;
    const from = fromAddress !== undefined ? normalizeEmail(fromAddress) : null;
    if (!recipients.length || !from || !p.MessageID) {
      ctx.addIssue({ code: "custom", message: "no recipient, sender or MessageID" });
      return z.NEVER;
    }
    const date = Date.parse(p.Date ?? "");
    return {
      messageId: p.MessageID,
      recipients,
      from,
      name: p.FromName ? p.FromName : typeof p.FromFull?.Name === "string" ? p.FromFull.Name : null,
      body: (p.StrippedTextReply?.trim() ? p.StrippedTextReply : p.TextBody) ?? "",
      subject: p.Subject ?? null,
      html: p.HtmlBody ?? null,
      occurredAt: Number.isFinite(date) ? date : Date.now(),
      attachments: (p.Attachments ?? []).slice(0, 20).map((a) => attachment.parse(a)),
    };
  });

/** POST /webhooks/postmark/inbound: an inbound email into the timeline, its attachments into R2 from the payload. */
export const postmarkInbound: WebhookAdapter<typeof inboundEmail> = {
  ...postmark,
  payload: () => inboundEmail,
  async apply(hook, p) {
    let orgId: string | null = null;
    let to: string | null = null;
    for (const address of p.recipients) {
      orgId = await hook.route("email", address);
      if (orgId) {
        to = address;
        break;
      }
    }
    if (!orgId) return { reason: "unknown_address" };
    // Attachments arrive inline: straight into R2 under ids derived from the message.
    const mediaIds: string[] = [];
    for (const [i, a] of p.attachments.entries()) {
      if (!a) continue;
      const id = await derivedMediaId(orgId, "postmark", p.messageId, String(i));
      if (!a.bytes) log("warn", "inbound_attachment_invalid", { org_id: orgId, provider_message_id: p.messageId, index: i });
      await storeInlineMedia(hook.env, hook.db, orgId, { id, ...a });
      mediaIds.push(id);
    }
    const answer = await inbox(hook.env, orgId).answer.ingest({
      contact: { email: p.from, name: p.name },
      type: "email",
      direction: "inbound",
      status: "received",
      body: p.body,
      subject: p.subject,
      html: p.html,
      from: p.from,
      to,
      provider: "postmark",
      providerMessageId: p.messageId,
      occurredAt: p.occurredAt,
      mediaIds,
    });
    if ("error" in answer) return { reason: `refused: ${answer.error.code}` };
  },
};

// The fields we read; the whole record goes to postmarkRecordChange (TypeCode, Description, …).
const deliveryEvent = z.looseObject({
  MessageID: optional(text),
  Metadata: optional(z.looseObject({ message_id: text })),
  RecordType: z.unknown(),
  // SubscriptionChange: the address and whether Postmark now suppresses it; Bounce: Email and Inactive.
  Recipient: optional(text),
  Email: optional(text),
  SuppressSending: z.unknown().optional(),
  Inactive: z.unknown().optional(),
});

/**
 * What a record says about consent to email (SPEC 19): a SubscriptionChange sets or clears
 * the opt-out (SuppressSending), a bounce that made the address inactive sets it; null: nothing.
 */
function emailConsentOf(p: z.infer<typeof deliveryEvent>): { address: string; optOut: boolean } | null {
  if (p.RecordType === "SubscriptionChange" && typeof p.SuppressSending === "boolean" && p.Recipient) {
    return { address: normalizeEmail(p.Recipient), optOut: p.SuppressSending };
  }
  if (p.RecordType === "Bounce" && p.Inactive === true && p.Email) return { address: normalizeEmail(p.Email), optOut: true };
  return null;
}

/**
 * A consent record applied: in the org of our message when it carries our Metadata, else in
 * every org with a contact at that address (all orgs send through the same Postmark server).
 * Answers how many contacts changed, or null when no org has the address.
 */
async function applyEmailConsent(env: Bindings, orgId: string | null, consent: { address: string; optOut: boolean }) {
  const orgs = orgId
    ? [orgId]
    : [
        ...new Set(
          (
            await findInShards(env, (db) => db.select({ orgId: contacts.orgId }).from(contacts).where(eq(contacts.email, consent.address)).limit(1000).all())
          ).map((r) => r.orgId),
        ),
      ];
  if (!orgs.length) return null;
  let changed = 0;
  for (const org of orgs) changed += (await inbox(env, org).setConsentByAddress("email", consent.address, consent.optOut)).length;
  return changed;
}

/** POST /webhooks/postmark/events: Delivery, Bounce, SpamComplaint for our outbound email, found by the id we put in Metadata. */
export const postmarkEvents: WebhookAdapter<typeof deliveryEvent> = {
  ...postmark,
  payload: () => deliveryEvent,
  async apply(hook, p) {
    const ours = p.Metadata?.message_id;
    // Our message id names no org: every shard is asked (src/db/shards.ts findInShards).
    const [row] = ours
      ? await findInShards(hook.env, (db) =>
          db.select({ id: activities.id, orgId: activities.orgId }).from(activities).where(eq(activities.id, ours)).limit(1).all(),
        )
      : [];
    const consent = emailConsentOf(p);
    if (consent) {
      if (row) hook.found(row.orgId, row.db);
      const changed = await applyEmailConsent(hook.env, row?.orgId ?? null, consent);
      if (changed === null && !row) return { reason: "unknown_recipient" };
      // A subscription change is about the address only; a bounce also updates its message.
      if (p.RecordType === "SubscriptionChange") return;
    }
    if (!row) return { reason: "unknown_message" };
    if (!consent) hook.found(row.orgId, row.db);
    const result = p.MessageID ? await inbox(hook.env, row.orgId).applyPostmarkEvent(row.id, p.MessageID, postmarkRecordChange(p)) : "unknown_message";
    if (result === "unknown_message") return { reason: "unknown_message" };
    if (result === "unhandled") return { reason: `unhandled_record_type: ${String(p.RecordType)}` };
  },
};
