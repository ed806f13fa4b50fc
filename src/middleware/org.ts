import { and, eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { members, orgs, type Role } from "../db/schema";
import { controlDb, rememberedShard, rememberShard, shardByName } from "../db/shards";
import type { AppEnv } from "../env";
import { ApiError, invalid } from "../lib/errors";
import { isUuid } from "../lib/ids";
import { remember } from "../lib/remember";
import { isWebSocketUpgrade } from "./auth";

// Membership is read on every request; an isolate keeps an answer for a few
// seconds, and member writes in the same isolate drop it at once. The same control
// query reads the org's shard (members joined to orgs), so a request resolves its
// database without a round trip of its own.
const MEMBERSHIP_TTL_MS = 5_000;
type Membership = { role: Role; shard: string; at: number } | null;
const memberships = new Map<string, { membership: Membership; until: number }>();
export const forgetMembership = (orgId: string, userId: string) => memberships.delete(`${orgId}:${userId}`);

async function membershipOf(env: AppEnv["Bindings"], orgId: string, userId: string): Promise<Membership> {
  const key = `${orgId}:${userId}`;
  const now = Date.now();
  const hit = memberships.get(key);
  if (hit && hit.until > now) return hit.membership;
  const row = await controlDb(env)
    .select({ role: members.role, shard: orgs.shard })
    .from(members)
    .innerJoin(orgs, eq(orgs.id, members.orgId))
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
    .get();
  const membership = row ? { ...row, at: now } : null;
  if (membership) rememberShard(orgId, membership.shard, now);
  remember(memberships, key, { membership, until: now + MEMBERSHIP_TTL_MS }, 10_000);
  return membership;
}

/** X-Org-Id → the caller's membership → role (SPEC 2), and the org's shard as `db`. Runs after authenticate. */
export const orgScope = createMiddleware<AppEnv>(async (c, next) => {
  const orgId = (c.req.header("x-org-id") ?? (isWebSocketUpgrade(c) ? c.req.query("org_id") : undefined))?.trim();
  if (!orgId) throw invalid("X-Org-Id", "The X-Org-Id header is required.");
  if (!isUuid(orgId)) throw invalid("X-Org-Id", "X-Org-Id must be a UUID.");
  const membership = await membershipOf(c.env, orgId.toLowerCase(), c.get("userId"));
  if (!membership) throw new ApiError("forbidden", "You are not a member of this org.");
  c.set("orgId", orgId.toLowerCase());
  c.set("role", membership.role);
  // The shard: what this isolate learned last, the membership read or a later word (an org
  // moved by this isolate's OrgInbox, a write a fence sent elsewhere: src/db/shards.ts).
  // A shard this server has no binding for fails closed (503), after the membership check.
  const later = rememberedShard(c.get("orgId"));
  c.set("db", shardByName(c.env, later && later.at > membership.at ? later.shard : membership.shard));
  await next();
});

export const requireRole = (...roles: Role[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.includes(c.get("role"))) {
      throw new ApiError("forbidden", `This needs the ${roles.join(" or ")} role.`);
    }
    await next();
  });
