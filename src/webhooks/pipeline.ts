import type { Context } from "hono";
import type { z } from "zod";
import { settings } from "../config/settings";
import type { Db } from "../db/client";
import { unroutableEvents } from "../db/schema";
import { controlDb, routeOf, shardDb } from "../db/shards";
import type { AppEnv, Bindings } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import { inOrgShard } from "../org-inbox/client";

// Every provider webhook is one pipeline (SPEC 9): authenticate → parse → route by address →
// hand to OrgInbox → keep what could not be applied. An adapter per endpoint says how its
// provider authenticates and answers, what a well-formed body is (zod, parsed only after
// authentication, so a malformed body is kept, never answered 400), and how the event is
// applied. Whatever happens after authentication, the provider gets its 2xx answer.

/**
 * A well-signed event that was not applied: kept in unroutable_events with why (and the id
 * it waits for), under the org it was routed to (in that org's shard), or under none with
 * `orgId: null` (in the control database, for the operator).
 */
export type Kept = { reason: string; waitingFor?: string; orgId?: null };

/**
 * What an adapter works with: the request's bindings, background work, and routing. Every
 * database comes from the resolver (src/db/shards.ts): the org's shard once the event is
 * routed (`d`), the control database (`control`) for what has no org.
 */
export class Hook {
  /** The org the event was routed to, once known; a kept event is filed under it. */
  org: string | null = null;
  private shard: Db | null = null;
  readonly control: Db;

  constructor(
    readonly env: Bindings,
    readonly url: URL,
    readonly waitUntil: (work: Promise<unknown>) => void,
  ) {
    this.control = controlDb(env);
  }

  /** The routed org's shard; only after route() or found() gave an org. */
  get db(): Db {
    if (!this.shard) throw new Error("the webhook has no org yet: route() or found() first");
    return this.shard;
  }

  /**
   * The org owning our channel of `kind` at `address` (normalized: E.164, lowercased email),
   * through the control database's channel routes (cached, with the org's shard); null
   * when no org has it.
   */
  async route(kind: "sms" | "email", address: string | null) {
    const route = address ? await routeOf(this.env, kind, address) : null;
    if (route) this.found(route.orgId, route.db);
    return route?.orgId ?? null;
  }

  /** The event belongs to `orgId`, whose shard is `d` (found by an id no address gives: src/db/shards.ts findInShards). */
  found(orgId: string, db: Db) {
    this.org = orgId;
    this.shard = db;
  }
}

/** How one provider authenticates and answers (shared by its endpoints). */
export type ProviderSource = {
  provider: "twilio" | "postmark";
  /**
   * Checks the request's credentials before anything else is read (an ApiError otherwise:
   * 401/403, 503 when they are not configured); answers the body as data and as it is kept.
   */
  authenticate(c: Context<AppEnv>): Promise<{ body: unknown; kept: unknown }>;
  /** The provider's answer to every authenticated request. */
  answer(c: Context<AppEnv>): Response;
};

export type WebhookAdapter<S extends z.ZodType> = ProviderSource & {
  /** A well-formed body, given the deployment's region for phone numbers (built once per region: see webhook()). */
  payload: (region: string) => S;
  /** Applies the event; answers what to keep when it could not be applied. */
  apply(hook: Hook, payload: z.output<S>): Promise<Kept | undefined>;
};

/** The database a kept event goes to: its org's shard, the control database for none (or when the shard cannot be reached: kept there, with its org, rather than lost). */
async function keeperOf(env: Bindings, orgId: string | null): Promise<Db> {
  if (!orgId) return controlDb(env);
  try {
    return await shardDb(env, orgId);
  } catch (e) {
    log("error", "unroutable_shard_unreachable", { org_id: orgId, error: String(e) });
    return controlDb(env);
  }
}

/** Nothing a provider hands over is lost: what cannot be applied is kept raw, with why. */
async function keepUnroutable(env: Bindings, event: { orgId: string | null; provider: string; reason: string; payload: unknown; waitingFor?: string | null }) {
  const now = Date.now();
  const id = uuidv7(now);
  const row = {
    id,
    orgId: event.orgId,
    provider: event.provider,
    reason: event.reason,
    waitingFor: event.waitingFor ?? null,
    payload: event.payload,
    receivedAt: now,
  };
  const db = await keeperOf(env, event.orgId);
  const insert = (into: Db) => into.insert(unroutableEvents).values(row);
  await (event.orgId ? inOrgShard(env, event.orgId, db, insert) : insert(db));
  log("warn", "unroutable_event", { id, org_id: event.orgId, provider: event.provider, reason: event.reason });
  return id;
}

/** The Hono handler of one webhook endpoint. */
export function webhook<S extends z.ZodType>(adapter: WebhookAdapter<S>) {
  // A schema is built once per region, not per request: zod compiles an object's parser on
  // its first use, which cost a webhook about a tenth of its CPU when it was built each time.
  const schemas = new Map<string, S>();
  const schemaFor = (region: string) => {
    let schema = schemas.get(region);
    if (!schema) {
      schema = adapter.payload(region);
      schemas.set(region, schema);
    }
    return schema;
  };
  return async (c: Context<AppEnv>) => {
    const { body, kept } = await adapter.authenticate(c);
    const hook = new Hook(c.env, new URL(c.req.url), (work) => c.executionCtx.waitUntil(work));
    const parsed = schemaFor(settings(c.env).defaultPhoneRegion).safeParse(body);
    let result: Kept | undefined;
    try {
      result = parsed.success ? await adapter.apply(hook, parsed.data) : { reason: "invalid_payload" };
    } catch (e) {
      result = { reason: `processing_failed: ${String(e).slice(0, 200)}` };
    }
    if (result) {
      const orgId = result.orgId === null ? null : hook.org;
      await keepUnroutable(hook.env, { orgId, provider: adapter.provider, reason: result.reason, payload: kept, waitingFor: result.waitingFor });
    }
    return adapter.answer(c);
  };
}
