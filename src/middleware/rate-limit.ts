import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";

// Per-org API limit (SPEC 11: RATE_LIMIT_PER_MINUTE), a fixed one-minute window per
// org counted in this isolate's memory: no I/O on the request path. Cloudflare runs
// several isolates per location, so an org's effective ceiling is the limit times the
// isolates serving it; the limit guards against a runaway client, not for billing.
// Webhooks never pass here (they are not bearer routes), so providers are never limited.
const WINDOW_MS = 60_000;
const windows = new Map<string, { start: number; n: number }>();

/** Counts one request for `key`; answers the seconds to wait when over `limit`. */
export function takeToken(key: string, limit: number, now = Date.now()): number | null {
  const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  let w = windows.get(key);
  if (!w || w.start !== start) {
    if (windows.size > 50_000) for (const [k, v] of windows) if (v.start !== start) windows.delete(k);
    w = { start, n: 0 };
    windows.set(key, w);
  }
  if (w.n >= limit) return Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000));
  w.n += 1;
  return null;
}

export const limitOf = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
};

/** After orgScope: the org's budget of API calls a minute (0 turns the limit off). */
export const orgRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limit = limitOf(c.env.RATE_LIMIT_PER_MINUTE, 600);
  if (limit > 0) {
    const wait = takeToken(`org:${c.get("orgId")}`, limit);
    if (wait !== null) {
      throw new ApiError("rate_limited", `This org made more than ${limit} API calls this minute; retry in ${wait} s.`, undefined, { "retry-after": String(wait) });
    }
  }
  await next();
});
