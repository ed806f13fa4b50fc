import type { OpenAPIHono, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Role } from "./db/schema";
import type { OrgInbox } from "./org-inbox/org-inbox";
import type { SendJob } from "./sending/queue";
import type { AiJob } from "./setter/jobs";

/** The Worker's bindings and configuration (wrangler.toml vars, secrets, .dev.vars). */
export type Bindings = {
  DB: D1Database;
  MEDIA: R2Bucket;
  ORG_INBOX: DurableObjectNamespace<OrgInbox>;
  SEND_QUEUE: Queue<SendJob>;
  AI_QUEUE: Queue<AiJob>;
  /** Workers AI, when bound in wrangler.toml ([ai]); it has no local mode. */
  AI?: Ai;
  AUTH_JWT_SECRET?: string;
  AUTH_JWKS_URL?: string;
  AUTH_ISSUER?: string;
  AUTH_AUDIENCE?: string;
  PUBLIC_BASE_URL?: string;
  MEDIA_URL_SECRET?: string;
  DEFAULT_PHONE_REGION?: string;
  MEDIA_MAX_BYTES?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_API_BASE?: string;
  POSTMARK_SERVER_TOKEN?: string;
  POSTMARK_API_BASE?: string;
  POSTMARK_WEBHOOK_USER?: string;
  POSTMARK_WEBHOOK_PASSWORD?: string;
  LLM_BASE_URL?: string;
  LLM_API_KEY?: string;
  LLM_MODEL?: string;
  AI_MODEL?: string;
  LLM_TIMEOUT_MS?: string;
  RATE_LIMIT_PER_MINUTE?: string;
  SEND_LIMIT_PER_MINUTE?: string;
};

/** Per-request values set by middleware. */
export type Variables = {
  requestId: string;
  userId: string;
  /** Claims of the verified token, for a member's name/email on POST /orgs. */
  claims: { name?: string; email?: string };
  orgId: string;
  role: Role;
};

export type AppEnv = { Bindings: Bindings; Variables: Variables };
export type App = OpenAPIHono<AppEnv>;
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
