import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyOptions, errors as joseErrors, jwtVerify } from "jose";
import { type AuthConfig, requireAuthConfig } from "../config/secrets";
import { settings } from "../config/settings";
import type { AppEnv, Bindings } from "../env";
import { hmacKey } from "../lib/bytes";
import { ApiError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { remember } from "../lib/remember";

// One key set per JWKS URL for the isolate's life: jose caches keys and
// refetches on an unknown `kid`, with its own cooldown.
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const keySet = (url: string) => {
  const known = keySets.get(url);
  if (known) return known;
  const set = createRemoteJWKSet(new URL(url));
  keySets.set(url, set);
  return set;
};

const unauthenticated = (detail: string) => new ApiError("unauthenticated", detail, undefined, { "www-authenticate": 'Bearer realm="inbox"' });

export type VerifiedUser = { userId: string; claims: { name?: string; email?: string } };

// Tokens this isolate verified lately, under the configuration that verified them: a client
// sends the same token with every request, and verifying it again (parse, HMAC or
// signature, claims) was about 2 % of an ingest's CPU. An answer is kept for at most
// VERIFIED_TTL_MS and never past the token's exp; a changed secret, JWKS URL, issuer or
// audience is another configuration, so it verifies afresh.
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const verified = new Map<string, { user: VerifiedUser; until: number }>();

/** Verifies a bearer token per SPEC 2 (see verifyTokenNow), answering from `verified` when it can. */
async function verifyToken(token: string, env: Bindings, auth: AuthConfig): Promise<VerifiedUser> {
  const { authIssuer, authAudience } = settings(env);
  const key = `${auth.kind === "hs256" ? `hs256:${auth.secret}` : `jwks:${auth.url}`}\u0000${authIssuer ?? ""}\u0000${authAudience ?? ""}\u0000${token}`;
  const now = Date.now();
  const hit = verified.get(key);
  if (hit && hit.until > now) return hit.user;
  const { user, exp } = await verifyTokenNow(token, env, auth);
  remember(verified, key, { user, until: Math.min(now + VERIFIED_TTL_MS, exp * 1000) }, VERIFIED_MAX);
  return user;
}

/** Verifies a bearer token per SPEC 2: HS256 with the shared secret, else RS256/ES256 from the JWKS; 503 when neither is usable. */
async function verifyTokenNow(token: string, env: Bindings, auth: AuthConfig): Promise<{ user: VerifiedUser; exp: number }> {
  const { authIssuer, authAudience } = settings(env);
  const options: JWTVerifyOptions = {
    requiredClaims: ["exp"],
    ...(authIssuer ? { issuer: authIssuer } : {}),
    ...(authAudience ? { audience: authAudience } : {}),
  };
  let payload: JWTPayload;
  try {
    if (auth.kind === "hs256") {
      ({ payload } = await jwtVerify(token, await hmacKey(auth.secret, "SHA-256", "verify"), { ...options, algorithms: ["HS256"] }));
    } else {
      ({ payload } = await jwtVerify(token, keySet(auth.url), { ...options, algorithms: ["RS256", "ES256"] }));
    }
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) throw unauthenticated("The token has expired.");
    if (e instanceof joseErrors.JOSEError) throw unauthenticated(`The token was refused (${e.code}).`);
    throw unauthenticated("The token could not be verified.");
  }
  if (!isUuid(payload.sub)) throw unauthenticated("The token's sub must be a user UUID.");
  const user = {
    userId: payload.sub.toLowerCase(),
    claims: {
      name: typeof payload.name === "string" ? payload.name : undefined,
      email: typeof payload.email === "string" ? payload.email : undefined,
    },
  };
  // requiredClaims makes exp present (a number: jose checked it).
  return { user, exp: payload.exp as number };
}

export function bearerToken(header: string | undefined): string {
  if (!header) throw unauthenticated("Missing Authorization: Bearer <token>.");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthenticated("Authorization must be 'Bearer <token>'.");
  return m[1];
}

/** Browsers cannot set headers on a WebSocket: an upgrade may carry `?token=` (and `?org_id=`) instead. */
export const isWebSocketUpgrade = (c: Context<AppEnv>) => c.req.header("upgrade")?.toLowerCase() === "websocket";

export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  // A server that cannot verify tokens refuses everyone the same way, token or not (fail closed).
  const auth = requireAuthConfig(c.env);
  const header = c.req.header("authorization");
  const queryToken = isWebSocketUpgrade(c) ? c.req.query("token") : undefined;
  const user = await verifyToken(!header && queryToken !== undefined ? queryToken : bearerToken(header), c.env, auth);
  c.set("userId", user.userId);
  c.set("claims", user.claims);
  await next();
});
