import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { settings } from "../config/settings";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";

const MiB = 1024 * 1024;
const JSON_LIMIT = MiB;
// POST /activities/batch: up to 500 items (SPEC 15).
const BATCH_LIMIT = 5 * MiB;
// Postmark inbound carries attachments inline (SPEC 13).
const WEBHOOK_LIMIT = 40 * MiB;
// Multipart framing around the file itself.
const MULTIPART_SLACK = 64 * 1024;

const tooLarge = (max: number) => () => {
  throw new ApiError("payload_too_large", `The request body is over ${max} bytes.`);
};

/** Body size limits by route family: JSON API 1 MiB, an ingest batch 5 MiB, media uploads MEDIA_MAX_BYTES, webhooks 40 MiB. */
export const bodyLimits = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") return next();
  const path = c.req.path;
  const max = path.startsWith("/webhooks/")
    ? WEBHOOK_LIMIT
    : path === "/conversations/media"
      ? settings(c.env).mediaMaxBytes + MULTIPART_SLACK
      : path === "/activities/batch"
        ? BATCH_LIMIT
        : JSON_LIMIT;
  return bodyLimit({ maxSize: max, onError: tooLarge(max) })(c, next);
});
