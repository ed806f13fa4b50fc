import { and, count, eq } from "drizzle-orm";
import { type ConfigProblem, reportConfigProblem } from "../config/problems";
import { settings } from "../config/settings";
import { ApiError, notFound } from "../lib/errors";
import { log } from "../lib/log";
import { type Db, wrap } from "./client";
import { channelRoutes, orgs } from "./control";
import { type Fence, mirrored } from "./mirror";

// The resolver (SPEC 14): which D1 database holds what. The control database (binding
// DB) holds the orgs with their shard, members, channel routes and unroutable events of
// no known org; the shard bindings named by SHARDS hold everything else, each org whole
// in one of them. This is the only module that reads a D1 binding off the env: every
// route (through the org middleware), OrgInbox, the queue consumers and the webhooks ask
// it, by org, by channel address, or (when neither is known) shard by shard.

/** The env as this module reads it: the control binding, and any other by name. */
type ShardEnv = { DB: D1Database };

const isD1 = (v: unknown): v is D1Database =>
  typeof v === "object" && v !== null && typeof (v as D1Database).prepare === "function" && typeof (v as D1Database).batch === "function";

/** The control database. */
export const controlDb = (env: ShardEnv): Db => wrap(env.DB);

type Layout = {
  /** SHARDS' names that are bound to a D1 database, in SHARDS' order. */
  usable: readonly string[];
  /** Those that take new orgs (OPEN_SHARDS, default all). */
  open: readonly string[];
  problems: ConfigProblem[];
};

// Worked out once per env object, like settings(env).
const layouts = new WeakMap<object, Layout>();

function layout(env: ShardEnv): Layout {
  const known = layouts.get(env);
  if (known) return known;
  const s = settings(env);
  const bindings = env as unknown as Record<string, unknown>;
  const problems: ConfigProblem[] = [];
  const usable = s.shards.filter((name) => isD1(bindings[name]));
  for (const name of s.shards.filter((n) => !usable.includes(n))) {
    problems.push({
      setting: name,
      issue: "missing",
      effect: `SHARDS names ${name} but no D1 database is bound to it: its orgs answer 503, and it takes no new org`,
    });
  }
  let open = usable;
  if (s.openShards) {
    for (const name of s.openShards.filter((n) => !s.shards.includes(n))) {
      problems.push({ setting: "OPEN_SHARDS", issue: "invalid", effect: `${name} is not in SHARDS: ignored` });
    }
    open = usable.filter((n) => s.openShards!.includes(n));
  }
  if (!open.length) problems.push({ setting: "OPEN_SHARDS", issue: "invalid", effect: "no usable shard takes new orgs: POST /orgs answers 503" });
  for (const problem of problems) reportConfigProblem(problem, "bind every name of SHARDS as a [[d1_databases]] binding in wrangler.toml");
  const computed = { usable, open, problems };
  layouts.set(env, computed);
  return computed;
}

/** What is wrong with SHARDS / OPEN_SHARDS against the bindings (GET /health). */
export const shardProblems = (env: ShardEnv): ConfigProblem[] => layout(env).problems;

/** The shards of SHARDS that are bound, in order (an org may live on, or move to, any of them). */
export const usableShards = (env: ShardEnv): readonly string[] => layout(env).usable;

/** The shards that take new orgs (OPEN_SHARDS, or all). */
export const openShards = (env: ShardEnv): readonly string[] => layout(env).open;

const unusable = (name: string) => {
  log("error", "shard_unusable", { shard: name });
  return new ApiError("not_configured", `This org's data is on ${name}, which this server is not configured for; its operator has been told.`);
};

/** The shard `name` (a name in SHARDS with a D1 binding); 503 not_configured otherwise: fail closed, never another database. */
export function shardByName(env: ShardEnv, name: string): Db {
  if (!layout(env).usable.includes(name)) throw unusable(name);
  return wrap((env as unknown as Record<string, D1Database>)[name]);
}

/** Every usable shard, for the few lookups that know no org (a provider's id, a signed media link, the send sweep). */
export const eachShard = (env: ShardEnv): { name: string; db: Db }[] =>
  layout(env).usable.map((name) => ({ name, db: wrap((env as unknown as Record<string, D1Database>)[name]) }));

// org → shard, per isolate. The mapping changes only when an org moves, so an answer is
// kept for a minute; the map is bounded (the oldest entry goes first).
export const SHARD_TTL_MS = 60_000;
const MAX_CACHED = 10_000;
const orgShards = new Map<string, { shard: string; at: number; until: number }>();

function keep<V>(map: Map<string, V>, key: string, value: V) {
  map.delete(key);
  if (map.size >= MAX_CACHED) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** Tells the cache where an org lives (its creation, or a control query that read the shard anyway). */
export const rememberShard = (orgId: string, shard: string, now = Date.now()) => keep(orgShards, orgId, { shard, at: now, until: now + SHARD_TTL_MS });

/** What this isolate last learned of the org's shard, and when (the org middleware prefers it to an older membership answer). */
export function rememberedShard(orgId: string, now = Date.now()): { shard: string; at: number } | undefined {
  const hit = orgShards.get(orgId);
  return hit && hit.until > now ? hit : undefined;
}

/** The name of the org's shard, or null when there is no such org; `fresh` reads past the cache. */
export async function shardNameOf(env: ShardEnv, orgId: string, opts: { fresh?: boolean } = {}): Promise<string | null> {
  const now = Date.now();
  const hit = orgShards.get(orgId);
  if (hit && hit.until > now && !opts.fresh) return hit.shard;
  const row = await controlDb(env).select({ shard: orgs.shard }).from(orgs).where(eq(orgs.id, orgId)).get();
  if (!row) return null;
  rememberShard(orgId, row.shard, now);
  return row.shard;
}

/** True for the error a write gets from a shard the org is moving off or has left (the fence: migrations/shard/0002_move_fences.sql), however the driver wrapped it. */
export function isFenced(e: unknown): boolean {
  let cause = e;
  for (let depth = 0; cause && depth < 5; depth++) {
    if (String((cause as { message?: unknown }).message ?? cause).includes("org_moving")) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** The refusal of a write a fence stopped: nothing was written, and a retry finds the org settled. */
export const orgMoving = () => new ApiError("org_moving", "This org is moving to another shard; retry in a moment.", undefined, { "retry-after": "2" });

/**
 * The shard `primary`, with every write repeated on `mirror` (the shard an org just left,
 * while caches may still read it: src/db/mirror.ts). Reads answer from `primary` alone.
 */
export const mirroredShard = (env: ShardEnv, primary: string, mirror: string, fence: Fence): Db => {
  const named = env as unknown as Record<string, D1Database>;
  shardByName(env, primary);
  shardByName(env, mirror);
  return wrap(mirrored(named[primary], named[mirror], fence));
};

/** The org's shard: 404 for an org that does not exist, 503 when its shard is not bound. */
export async function shardDb(env: ShardEnv, orgId: string): Promise<Db> {
  const name = await shardNameOf(env, orgId);
  if (!name) throw notFound("Org");
  return shardByName(env, name);
}

/**
 * Runs `query` on every shard and keeps the rows of orgs that live on the shard they were
 * found in (a copy left behind elsewhere is never taken for the org's own), each with its
 * shard's handle. For lookups by an id no org is known for: N is small, they run at once.
 */
export async function findInShards<T extends { orgId: string }>(env: ShardEnv, query: (db: Db) => Promise<T[]>): Promise<(T & { db: Db })[]> {
  const found = await Promise.all(
    eachShard(env).map(async ({ name, db }) => {
      const rows = await query(db);
      const homes = new Map<string, string | null>();
      for (const orgId of new Set(rows.map((r) => r.orgId))) homes.set(orgId, await shardNameOf(env, orgId));
      return rows.filter((r) => homes.get(r.orgId) === name).map((r) => ({ ...r, db }));
    }),
  );
  return found.flat();
}

/**
 * Where a new org goes: the open shard with the fewest orgs (ties: the first listed),
 * from one GROUP BY over the control database's orgs.
 */
export async function shardOfNewOrg(env: ShardEnv): Promise<string> {
  const open = openShards(env);
  if (!open.length) throw new ApiError("not_configured", "No shard takes new orgs on this server (SHARDS, OPEN_SHARDS); its operator has been told.");
  const rows = await controlDb(env).select({ shard: orgs.shard, n: count() }).from(orgs).groupBy(orgs.shard).all();
  const n = new Map(rows.map((r) => [r.shard, r.n]));
  return open.reduce((best, name) => ((n.get(name) ?? 0) < (n.get(best) ?? 0) ? name : best), open[0]);
}

export type Route = { orgId: string; channelId: string; shard: string };

// (kind, address) → org, per isolate, a minute like the shards. Only found routes are
// kept: a channel added on another isolate receives its webhooks at once.
const routes = new Map<string, { route: Route; until: number }>();
const routeKey = (kind: string, address: string) => `${kind}:${address}`;

/** Drops what this isolate knows of an address (a channel added or removed here). */
export const forgetRoute = (kind: string, address: string) => routes.delete(routeKey(kind, address));

/**
 * The org an inbound address belongs to, with its shard: one control query (the route
 * and the org's shard together), cached. Null when no org has the address.
 */
export async function routeOf(env: ShardEnv, kind: "sms" | "email", address: string): Promise<(Route & { db: Db }) | null> {
  const now = Date.now();
  const key = routeKey(kind, address);
  const hit = routes.get(key);
  let route = hit && hit.until > now ? hit.route : undefined;
  if (!route) {
    route = await controlDb(env)
      .select({ orgId: channelRoutes.orgId, channelId: channelRoutes.channelId, shard: orgs.shard })
      .from(channelRoutes)
      .innerJoin(orgs, eq(orgs.id, channelRoutes.orgId))
      .where(and(eq(channelRoutes.kind, kind), eq(channelRoutes.address, address)))
      .get();
    if (!route) return null;
    keep(routes, key, { route, until: now + SHARD_TTL_MS });
    rememberShard(route.orgId, route.shard, now);
  }
  return { ...route, db: shardByName(env, route.shard) };
}
