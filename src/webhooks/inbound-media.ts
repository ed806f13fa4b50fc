import { and, eq, ne } from "drizzle-orm";
import { settings } from "../config/settings";
import type { Db } from "../db/client";
import { type Media, media } from "../db/schema";
import type { Bindings } from "../env";
import { enqueueAiJob, type InboundMedia } from "../jobs";
import { hex, sha256Hex } from "../lib/bytes";
import { log } from "../lib/log";
import { mediaKey } from "../media/storage";
import { inbox, inOrgShard } from "../org-inbox/client";

/**
 * A media id derived from where the media came from, so a redelivered webhook
 * names the same rows (INSERT OR IGNORE) instead of copying the bytes again.
 */
export async function derivedMediaId(...parts: string[]) {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\u0000"))));
  h[6] = (h[6] & 0x0f) | 0x80; // version 8: name-based, custom
  h[8] = (h[8] & 0x3f) | 0x80;
  const s = hex(h.subarray(0, 16));
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

type InboundMediaRow = Pick<Media, "id" | "contentType" | "status"> & Partial<Pick<Media, "size" | "filename" | "sha256" | "sourceUrl">>;

/**
 * The one insert of a provider's media rows; a redelivery names the same ids and inserts
 * nothing. On the org's shard even when the route's cache named the one it is leaving.
 */
async function insertInboundMedia(env: Bindings, db: Db, orgId: string, rows: InboundMediaRow[], now = Date.now()) {
  if (!rows.length) return;
  // One round trip; a statement a row, so no insert comes near D1's 100 bound parameters.
  await inOrgShard(env, orgId, db, (shard) => {
    const inserts = rows.map((m) =>
      shard
        .insert(media)
        .values({ size: 0, filename: null, sha256: null, sourceUrl: null, ...m, orgId, createdBy: null, createdAt: now })
        .onConflictDoNothing(),
    );
    return shard.batch(inserts as [(typeof inserts)[number], ...typeof inserts]);
  });
}

/** Rows first (pending), so the message can reference them before the bytes arrive. */
export function registerInboundMedia(env: Bindings, db: Db, orgId: string, items: InboundMedia[]) {
  return insertInboundMedia(
    env,
    db,
    orgId,
    items.map((m) => ({ id: m.id, contentType: m.contentType, status: "pending", sourceUrl: m.url })),
  );
}

/**
 * Media that arrived inside the payload (a Postmark attachment): the bytes into R2, then a
 * ready row; bytes that could not be decoded (null) are a failed row, and the message is kept.
 */
export async function storeInlineMedia(
  env: Bindings,
  db: Db,
  orgId: string,
  m: { id: string; bytes: Uint8Array | null; contentType: string; filename: string | null },
) {
  if (!m.bytes) {
    return insertInboundMedia(env, db, orgId, [{ id: m.id, contentType: m.contentType, filename: m.filename, status: "failed" }]);
  }
  await env.MEDIA.put(mediaKey(orgId, m.id), m.bytes, { httpMetadata: { contentType: m.contentType } });
  const row = {
    id: m.id,
    contentType: m.contentType,
    filename: m.filename,
    status: "ready",
    size: m.bytes.byteLength,
    sha256: await sha256Hex(m.bytes),
  } as const;
  await insertInboundMedia(env, db, orgId, [row]);
}

export const MEDIA_COPY_ATTEMPTS = 5;

/**
 * Copies one provider-hosted file into R2 and marks its row ready. A failure marks
 * it failed (the message is kept either way) and queues another attempt after
 * 2, 4, 8, 16 s; after the 5th it stays failed.
 */
/** The message showing the media changed with it (its size, a recording's link): OrgInbox moves its updated_at and announces it. */
async function mediaShown(env: Bindings, orgId: string, item: InboundMedia) {
  if (!item.activityId) return;
  try {
    await inbox(env, orgId).touchMessage(item.activityId);
  } catch (e) {
    log("error", "media_message_touch_failed", { media_id: item.id, activity_id: item.activityId, org_id: orgId, error: String(e) });
  }
}

export async function copyInboundMedia(env: Bindings, db: Db, orgId: string, item: InboundMedia, attempt = 1) {
  try {
    const url = new URL(item.url);
    const headers: Record<string, string> = {};
    // Twilio serves media behind the account's Basic auth when "HTTP Basic Authentication for media" is on.
    const { twilioAccountSid, twilioAuthToken } = settings(env);
    if (url.hostname.endsWith("twilio.com") && twilioAccountSid && twilioAuthToken) {
      headers.authorization = `Basic ${btoa(`${twilioAccountSid}:${twilioAuthToken}`)}`;
    }
    const res = await fetch(url, { headers, redirect: "follow" });
    if (!res.ok) throw new Error(`media fetch answered ${res.status}`);
    const bytes = await res.arrayBuffer();
    const sha256 = await sha256Hex(bytes);
    await env.MEDIA.put(mediaKey(orgId, item.id), bytes, { httpMetadata: { contentType: item.contentType } });
    // A copy again (a redelivered callback) of media already ready changes nothing a message shows.
    const readied = await inOrgShard(env, orgId, db, (shard) =>
      shard
        .update(media)
        .set({ status: "ready", size: bytes.byteLength, sha256 })
        .where(and(eq(media.id, item.id), eq(media.orgId, orgId), ne(media.status, "ready")))
        .returning({ id: media.id }),
    );
    if (readied.length) await mediaShown(env, orgId, item);
  } catch (e) {
    const final = attempt >= MEDIA_COPY_ATTEMPTS;
    log(final ? "error" : "warn", "inbound_media_copy_failed", { media_id: item.id, org_id: orgId, attempt, final, error: String(e) });
    // A failed copy changes nothing a message shows (the provider's URL stays): no touch.
    await inOrgShard(env, orgId, db, (shard) =>
      shard
        .update(media)
        .set({ status: "failed" })
        .where(and(eq(media.id, item.id), eq(media.orgId, orgId), ne(media.status, "ready"))),
    );
    if (!final) {
      try {
        await enqueueAiJob(env, { kind: "media_copy", orgId, item, attempt: attempt + 1 }, { delaySeconds: 2 ** attempt });
      } catch (err) {
        log("error", "media_retry_enqueue_failed", { media_id: item.id, org_id: orgId, error: String(err) });
      }
    }
  }
}
