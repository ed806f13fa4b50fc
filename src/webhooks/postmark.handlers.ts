import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { db } from "../db/client";
import { activities, channels, media } from "../db/schema";
import type { AppEnv } from "../env";
import { requirePostmarkWebhookAuth } from "../lib/config";
import { constantTimeEqual, sha256Hex } from "../lib/bytes";
import { ApiError } from "../lib/errors";
import { log } from "../lib/log";
import { normalizeEmail } from "../lib/phone";
import { mediaKey } from "../media/storage";
import { inbox } from "../org-inbox/client";
import { derivedMediaId } from "./inbound-media";
import { postmarkRecordChange } from "./postmark-status";
import { keepUnroutable } from "./unroutable";

/** Postmark webhooks authenticate with HTTP Basic (SPEC 9): anything else is 401; 503 when the credentials are not configured. */
function requireBasic(c: Context<AppEnv>) {
  const { user, password: pass } = requirePostmarkWebhookAuth(c.env);
  const header = c.req.header("authorization") ?? "";
  const m = /^Basic\s+(\S+)$/i.exec(header);
  let given = "";
  try {
    given = m ? atob(m[1]) : "";
  } catch {
    given = "";
  }
  if (!constantTimeEqual(given, `${user}:${pass}`)) {
    throw new ApiError("unauthenticated", "Postmark webhook credentials are missing or wrong.", undefined, { "www-authenticate": 'Basic realm="postmark"' });
  }
}

async function jsonPayload(c: Context<AppEnv>): Promise<Record<string, any> | null> {
  try {
    const v = await c.req.json();
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

/** The attachment's bytes, or null when Content is not base64 (the email is kept, the attachment marked failed). */
const base64Bytes = (b64: string) => {
  try {
    return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
};

/** POST /webhooks/postmark/inbound: an inbound email into the timeline. */
export async function postmarkInbound(c: Context<AppEnv>) {
  requireBasic(c);
  const d = db(c.env);
  const p = await jsonPayload(c);
  if (!p) {
    await keepUnroutable(d, { orgId: null, provider: "postmark", reason: "invalid_payload", payload: { raw: (await c.req.text()).slice(0, 100_000) } });
    return c.json({ ok: true }, 200);
  }
  let orgId: string | null = null;
  try {
    const recipients = [p.OriginalRecipient, ...(Array.isArray(p.ToFull) ? p.ToFull.map((t: any) => t?.Email) : []), p.To]
      .filter((x): x is string => typeof x === "string" && x.includes("@"))
      .map((x) => normalizeEmail(x.replace(/^.*<([^>]+)>.*$/, "$1")));
    const from = typeof p.FromFull?.Email === "string" ? normalizeEmail(p.FromFull.Email) : typeof p.From === "string" ? normalizeEmail(p.From) : null;
    const messageId = typeof p.MessageID === "string" ? p.MessageID : null;
    if (!recipients.length || !from || !messageId) {
      await keepUnroutable(d, { orgId: null, provider: "postmark", reason: "invalid_payload", payload: p });
      return c.json({ ok: true }, 200);
    }
    let to: string | null = null;
    for (const address of recipients) {
      const ch = await d.select({ orgId: channels.orgId }).from(channels).where(and(eq(channels.kind, "email"), eq(channels.address, address))).get();
      if (ch) {
        orgId = ch.orgId;
        to = address;
        break;
      }
    }
    if (!orgId) {
      await keepUnroutable(d, { orgId: null, provider: "postmark", reason: "unknown_address", payload: p });
      return c.json({ ok: true }, 200);
    }
    // Attachments arrive inline: straight into R2 under ids derived from the message.
    const mediaIds: string[] = [];
    const attachments = Array.isArray(p.Attachments) ? p.Attachments.slice(0, 20) : [];
    for (const [i, a] of attachments.entries()) {
      if (typeof a?.Content !== "string") continue;
      const id = await derivedMediaId(orgId, "postmark", messageId, String(i));
      const bytes = base64Bytes(a.Content);
      const contentType = typeof a.ContentType === "string" && a.ContentType ? a.ContentType.slice(0, 255) : "application/octet-stream";
      const filename = typeof a.Name === "string" ? a.Name.slice(0, 255) : null;
      if (!bytes) {
        log("warn", "inbound_attachment_invalid", { org_id: orgId, provider_message_id: messageId, index: i });
        await d.insert(media).values({ id, orgId, contentType, size: 0, filename, sha256: null, status: "failed", sourceUrl: null, createdBy: null, createdAt: Date.now() }).onConflictDoNothing();
        mediaIds.push(id);
        continue;
      }
      await c.env.MEDIA.put(mediaKey(orgId, id), bytes, { httpMetadata: { contentType } });
      const sha256 = await sha256Hex(bytes);
      await d
        .insert(media)
        .values({ id, orgId, contentType, size: bytes.byteLength, filename, sha256, status: "ready", sourceUrl: null, createdBy: null, createdAt: Date.now() })
        .onConflictDoNothing();
      mediaIds.push(id);
    }
    const answer = await inbox(c.env, orgId).answer.ingest({
      contact: { email: from, name: typeof p.FromName === "string" && p.FromName ? p.FromName : (p.FromFull?.Name ?? null) },
      type: "email",
      direction: "inbound",
      status: "received",
      body: (typeof p.StrippedTextReply === "string" && p.StrippedTextReply.trim() ? p.StrippedTextReply : p.TextBody) ?? "",
      subject: typeof p.Subject === "string" ? p.Subject : null,
      html: typeof p.HtmlBody === "string" ? p.HtmlBody : null,
      from,
      to,
      provider: "postmark",
      providerMessageId: messageId,
      occurredAt: Number.isFinite(Date.parse(p.Date)) ? Date.parse(p.Date) : Date.now(),
      mediaIds,
    });
    if ("error" in answer) await keepUnroutable(d, { orgId, provider: "postmark", reason: `refused: ${answer.error.code}`, payload: p });
  } catch (e) {
    await keepUnroutable(d, { orgId, provider: "postmark", reason: `processing_failed: ${String(e).slice(0, 200)}`, payload: p });
  }
  return c.json({ ok: true }, 200);
}

/** POST /webhooks/postmark/events: Delivery, Bounce, SpamComplaint for our outbound email. */
export async function postmarkEvents(c: Context<AppEnv>) {
  requireBasic(c);
  const d = db(c.env);
  const p = await jsonPayload(c);
  let orgId: string | null = null;
  try {
    const messageId = typeof p?.MessageID === "string" ? p.MessageID : null;
    const ours = typeof p?.Metadata?.message_id === "string" ? p.Metadata.message_id : null;
    const row = ours ? await d.select({ id: activities.id, orgId: activities.orgId }).from(activities).where(eq(activities.id, ours)).get() : undefined;
    const result = p && messageId && row ? await inbox(c.env, row.orgId).applyPostmarkEvent(row.id, messageId, postmarkRecordChange(p)) : null;
    if (!p || !result || result === "unknown_message") {
      await keepUnroutable(d, { orgId: row?.orgId ?? null, provider: "postmark", reason: p ? "unknown_message" : "invalid_payload", payload: p ?? {} });
      return c.json({ ok: true }, 200);
    }
    orgId = row!.orgId;
    if (result === "unhandled") await keepUnroutable(d, { orgId, provider: "postmark", reason: `unhandled_record_type: ${String(p.RecordType)}`, payload: p });
  } catch (e) {
    await keepUnroutable(d, { orgId, provider: "postmark", reason: `processing_failed: ${String(e).slice(0, 200)}`, payload: p ?? {} });
  }
  return c.json({ ok: true }, 200);
}
