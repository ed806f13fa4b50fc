import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { isWebSocketUpgrade } from "./auth";
import { createMiddleware } from "hono/factory";
import { members, type Role } from "../db/schema";
import type { AppEnv } from "../env";
import { ApiError, invalid } from "../lib/errors";
import { isUuid } from "../lib/ids";

// Membership is read on every request; an isolate keeps an answer for a few
// seconds, and member writes in the same isolate drop it at once.
const MEMBERSHIP_TTL_MS = 5_000;
const memberships = new Map<string, { role: Role | null; until: number }>();
export const forgetMembership = (orgId: string, userId: string) => memberships.delete(`${orgId}:${userId}`);

async function membershipRole(env: AppEnv["Bindings"], orgId: string, userId: string): Promise<Role | null> {
  const key = `${orgId}:${userId}`;
  const now = Date.now();
  const hit = memberships.get(key);
  if (hit && hit.until > now) return hit.role;
  const member = await drizzle(env.DB)
    .select({ role: members.role })
    .from(members)
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
    .get();
  const role = member?.role ?? null;
  if (memberships.size > 10_000) memberships.clear();
  memberships.set(key, { role, until: now + MEMBERSHIP_TTL_MS });
  return role;
}

/** X-Org-Id → the caller's membership → role (SPEC 2). Runs after authenticate. */
export const orgScope = createMiddleware<AppEnv>(async (c, next) => {
  const orgId = (c.req.header("x-org-id") ?? (isWebSocketUpgrade(c) ? c.req.query("org_id") : undefined))?.trim();
  if (!orgId) throw invalid("X-Org-Id", "The X-Org-Id header is required.");
  if (!isUuid(orgId)) throw invalid("X-Org-Id", "X-Org-Id must be a UUID.");
  const role = await membershipRole(c.env, orgId.toLowerCase(), c.get("userId"));
  if (!role) throw new ApiError("forbidden", "You are not a member of this org.");
  c.set("orgId", orgId.toLowerCase());
  c.set("role", role);
  await next();
});

export const requireRole = (...roles: Role[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.includes(c.get("role"))) {
      throw new ApiError("forbidden", `This needs the ${roles.join(" or ")} role.`);
    }
    await next();
  });
