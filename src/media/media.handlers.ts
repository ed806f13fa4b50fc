import { and, eq } from "drizzle-orm";
import { requireMediaSecret } from "../config/secrets";
import { settings } from "../config/settings";
import { toMedia } from "../conversations/present";
import { type Media, media } from "../db/schema";
import { findInShards } from "../db/shards";
import type { AppRouteHandler, Bindings } from "../env";
import { sha256Hex } from "../lib/bytes";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { iso } from "../lib/time";
import { inOrgShard } from "../org-inbox/client";
import { isAllowedType, matchesMagic } from "./magic";
import type * as routes from "./media.routes";
import { verifyMediaSignature } from "./signing";
import { mediaKey } from "./storage";

export const uploadMedia: AppRouteHandler<typeof routes.uploadMedia> = async (c) => {
  const file = (c.req.valid("form") as { file?: unknown }).file;
  if (!(file instanceof File)) throw invalid("file", "Send the media as a multipart field named `file`.");
  const max = settings(c.env).mediaMaxBytes;
  if (file.size > max) throw new ApiError("payload_too_large", `Media is limited to ${max} bytes.`);
  if (file.size === 0) throw invalid("file", "The file is empty.");
  const declared = file.type.split(";")[0].trim().toLowerCase();
  if (!isAllowedType(declared)) throw new ApiError("unsupported_media_type", `Media of type "${declared || "unknown"}" is not accepted.`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (!matchesMagic(declared, bytes)) {
    throw new ApiError("unsupported_media_type", `The file's content is not ${declared}.`);
  }
  const now = Date.now();
  const orgId = c.get("orgId");
  const row: Media = {
    id: uuidv7(now),
    orgId,
    contentType: declared,
    size: bytes.byteLength,
    filename: file.name ? file.name.replace(/[\r\n"\\/]/g, "_").slice(0, 255) : null,
    sha256: await sha256Hex(bytes),
    status: "ready",
    sourceUrl: null,
    createdBy: c.get("userId"),
    createdAt: now,
  };
  // Bytes first: a row never points at an object that is not there.
  await c.env.MEDIA.put(mediaKey(orgId, row.id), bytes, { httpMetadata: { contentType: declared }, sha256: row.sha256 ?? undefined });
  await inOrgShard(c.env, orgId, c.var.db, (db) => db.insert(media).values(row));
  const { url } = await toMedia(c.env, row);
  return c.json(
    { id: row.id, content_type: declared, size: row.size, filename: row.filename, sha256: row.sha256 ?? "", url, created_at: iso(row.createdAt) },
    201,
  );
};

async function serve(env: Bindings, row: Media | undefined) {
  if (row?.status !== "ready") throw notFound("Media");
  const object = await env.MEDIA.get(mediaKey(row.orgId, row.id));
  if (!object) throw notFound("Media");
  const headers = new Headers({
    "content-type": row.contentType,
    "content-length": String(object.size),
    "cache-control": "private, max-age=300",
    "x-content-type-options": "nosniff",
    "content-disposition": `inline${row.filename ? `; filename="${row.filename}"` : ""}`,
  });
  return new Response(object.body, { status: 200, headers });
}

export const getMemberMedia: AppRouteHandler<typeof routes.getMemberMedia> = async (c) => {
  const id = c.req.valid("param").media_id.toLowerCase();
  const row = await c.var.db
    .select()
    .from(media)
    .where(and(eq(media.orgId, c.get("orgId")), eq(media.id, id)))
    .get();
  return serve(c.env, row);
};

export const getSignedMedia: AppRouteHandler<typeof routes.getSignedMedia> = async (c) => {
  const id = c.req.valid("param").media_id.toLowerCase();
  const { exp, sig } = c.req.valid("query");
  // No usable key: no link is accepted (503), whatever it carries.
  const secret = requireMediaSecret(c.env);
  if (!exp || !sig || !(await verifyMediaSignature(secret, id, exp, sig))) {
    throw new ApiError("forbidden", "The media link is invalid or has expired.");
  }
  // The link names no org: every shard is asked, and only the org's own shard answers.
  const [row] = await findInShards(c.env, (db) => db.select().from(media).where(eq(media.id, id)).limit(1).all());
  return serve(c.env, row);
};
