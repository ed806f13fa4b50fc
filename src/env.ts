import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Db } from "./db/client";
import type { Role } from "./db/schema";
import type { JobQueues } from "./jobs";

// The bindings come from wrangler.toml through `npm run types`, which writes the global
// `Env` into src/worker-configuration.d.ts (checked in; `npm run check:types` fails when
// it is stale). This file only adds what wrangler cannot know, and imports no feature:
// the Durable Object's class is named inside the generated file, and the queues'
// message types live in the leaf src/jobs.ts.

/**
 * Secrets and optional settings that are not in wrangler.toml (.dev.vars locally,
 * `wrangler secret put` in production). The secrets are checked by src/config/secrets.ts,
 * every other setting is read through src/config/settings.ts.
 */
export type Secrets = {
  AUTH_JWT_SECRET?: string;
  AUTH_JWKS_URL?: string;
  AUTH_ISSUER?: string;
  AUTH_AUDIENCE?: string;
  MEDIA_URL_SECRET?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  POSTMARK_SERVER_TOKEN?: string;
  POSTMARK_WEBHOOK_USER?: string;
  POSTMARK_WEBHOOK_PASSWORD?: string;
  LLM_BASE_URL?: string;
  LLM_API_KEY?: string;
  LLM_MODEL?: string;
  AI_MODEL?: string;
  LLM_TIMEOUT_MS?: string;
  /** "1" only on the bench's server: POST /bench/ceiling (src/system/bench-ceiling.ts) answers; 404 elsewhere. */
  BENCH_CEILING?: string;
  /** "true" in local dev and tests only: webhook endpoints may be http:// and private hosts. */
  ALLOW_PRIVATE_WEBHOOK_URLS?: string;
  /** The bearer token of the operator routes (SPEC 14: moving an org); without it they answer 404. */
  OPERATOR_TOKEN?: string;
  /** The shards that take new orgs (default: every one in SHARDS). */
  OPEN_SHARDS?: string;
};

/** Omit that names only keys T has: a queue no longer bound in wrangler.toml fails to compile here. */
type Replace<T, K extends keyof T> = Omit<T, K>;

/** The Worker's bindings and configuration: the generated Env, the queues' message types, secrets. */
export type Bindings = Replace<Env, keyof JobQueues> &
  JobQueues &
  Secrets & {
    /** Workers AI, when bound in wrangler.toml ([ai]); it has no local mode. */
    AI?: Ai;
  };

/** Per-request values set by middleware. */
export type Variables = {
  requestId: string;
  userId: string;
  /** Claims of the verified token, for a member's name/email on POST /orgs. */
  claims: { name?: string; email?: string };
  orgId: string;
  role: Role;
  /** The org's shard (src/db/shards.ts), resolved with the membership: every org-scoped read and write of the request. */
  db: Db;
};

export type AppEnv = { Bindings: Bindings; Variables: Variables };
export type App = OpenAPIHono<AppEnv>;
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
