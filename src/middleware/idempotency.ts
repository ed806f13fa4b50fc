import { and, eq, lt } from "drizzle-orm";
import type { HonoRequest } from "hono";
import { createMiddleware } from "hono/factory";
import { idempotencyKeys } from "../db/schema";
import type { AppEnv } from "../env";
import { sha256Hex } from "../lib/bytes";
import { ApiError, invalid } from "../lib/errors";
import { log } from "../lib/log";
import { inOrgShard } from "../org-inbox/client";

const TTL_MS = 24 * 3600 * 1000;
/** The largest answer kept for replay (D1 stores at most 2 MB a value). */
const MAX_REPLAY_BYTES = 1024 * 1024;

/**
 * What "the same body" means: the bytes for JSON; for multipart, each part's name,
 * filename, type and content, since clients draw a new boundary for every request.
 */
async function bodyFingerprint(req: HonoRequest): Promise<string> {
  const type = req.header("content-type") ?? "";
  if (/^multipart\/form-data/i.test(type)) {
    try {
      const parts: string[] = [];
      // A clone: a failed parse must not spoil the body for the fallback and the handler.
      const form = await req.raw.clone().formData();
      for (const [name, value] of form.entries()) {
        const v = value as unknown;
        parts.push(v instanceof File ? `${name}\0${v.name}\0${v.type}\0${await sha256Hex(await v.arrayBuffer())}` : `${name}\0${String(v)}`);
      }
      return sha256Hex(parts.sort().join("\n"));
    } catch {
      // Unparseable multipart: the validator answers it; fall back to the bytes.
    }
  }
  return sha256Hex(await req.arrayBuffer());
}

/** `"abc"` and `abc` are one key (SPEC 13: the draft's structured-header string or a bare token). */
export function parseKey(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length < 1 || key.length > 255) throw invalid("Idempotency-Key", "Idempotency-Key must be 1–255 characters.");
  return key;
}

/**
 * Idempotency-Key on creating POSTs (SPEC 5, 13): the first request claims the key
 * atomically (INSERT … ON CONFLICT DO NOTHING), so of concurrent twins exactly one
 * runs; a finished answer replays byte for byte for 24 h; the same key on another
 * method, path or body is 422; while the first still runs, 409. A 5xx frees the key.
 */
export const idempotency = createMiddleware<AppEnv>(async (c, next) => {
  const key = parseKey(c.req.header("idempotency-key"));
  if (key === null) return next();
  const orgId = c.get("orgId");
  let db = c.var.db;
  const bodyHash = await bodyFingerprint(c.req);
  const method = c.req.method;
  const path = new URL(c.req.url).pathname;
  const now = Date.now();
  const mine = and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, key));
  // An expired record goes and the claim is made in one batch, on the org's shard even
  // if it has just moved (inOrgShard); the request then reads where the claim is.
  const claimed = await inOrgShard(c.env, orgId, db, async (shard) => {
    db = shard;
    const [, rows] = await shard.batch([
      shard.delete(idempotencyKeys).where(and(mine, lt(idempotencyKeys.expiresAt, now))),
      shard
        .insert(idempotencyKeys)
        .values({ orgId, key, method, path, bodyHash, state: "in_flight", createdAt: now, expiresAt: now + TTL_MS })
        .onConflictDoNothing()
        .returning({ key: idempotencyKeys.key }),
    ]);
    return rows;
  });
  c.set("db", db);
  if (!claimed.length) {
    const first = await db.select().from(idempotencyKeys).where(mine).get();
    if (!first) throw new ApiError("idempotency_in_flight", "The first request with this key is still being processed; retry shortly.");
    if (first.method !== method || first.path !== path || first.bodyHash !== bodyHash) {
      throw new ApiError("idempotency_key_reused", "This Idempotency-Key was used for a different request.", [
        { path: "Idempotency-Key", message: "already used with another method, path or body" },
      ]);
    }
    if (first.state === "in_flight") {
      throw new ApiError("idempotency_in_flight", "The first request with this key is still being processed; retry shortly.", undefined, {
        "retry-after": "1",
      });
    }
    return new Response(first.responseBody, {
      status: first.responseStatus ?? 200,
      headers: { "content-type": first.responseContentType ?? "application/json", "idempotent-replayed": "true" },
    });
  }
  // The org may move while the request runs (its OrgInbox write waits for the move).
  const release = () => inOrgShard(c.env, orgId, db, (shard) => shard.delete(idempotencyKeys).where(mine));
  try {
    await next();
  } catch (e) {
    await release();
    throw e;
  }
  // Errors thrown downstream were rendered by onError already when we get here.
  if (c.res.status >= 500) {
    await release();
    return;
  }
  const body = await c.res.clone().text();
  // The answer stands whatever happens to its record: one too big to keep (a 500-item batch
  // can answer megabytes; D1 keeps at most 2 MB a value) or one that cannot be saved
  // frees the key instead, so a retry runs again (and dedups) rather than waiting 24 h.
  try {
    if (new TextEncoder().encode(body).byteLength > MAX_REPLAY_BYTES) throw new Error(`answer of ${body.length} chars is too big to replay`);
    const done = { state: "done" as const, responseStatus: c.res.status, responseBody: body, responseContentType: c.res.headers.get("content-type") };
    await inOrgShard(c.env, orgId, db, (shard) => shard.update(idempotencyKeys).set(done).where(mine));
  } catch (e) {
    log("warn", "idempotency_not_kept", { org_id: orgId, key, error: String(e) });
    await release().catch(() => undefined);
  }
});
