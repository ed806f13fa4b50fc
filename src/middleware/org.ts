import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { createMiddleware } from "hono/factory";
import { members, type Role } from "../db/schema";
import type { AppEnv } from "../env";
import { ApiError, invalid } from "../lib/errors";
import { isUuid } from "../lib/ids";

/** X-Org-Id → the caller's membership → role (SPEC 2). Runs after authenticate. */
export const orgScope = createMiddleware<AppEnv>(async (c, next) => {
  const orgId = c.req.header("x-org-id")?.trim();
  if (!orgId) throw invalid("X-Org-Id", "The X-Org-Id header is required.");
  if (!isUuid(orgId)) throw invalid("X-Org-Id", "X-Org-Id must be a UUID.");
  const member = await drizzle(c.env.DB)
    .select({ role: members.role })
    .from(members)
    .where(and(eq(members.orgId, orgId.toLowerCase()), eq(members.userId, c.get("userId"))))
    .get();
  if (!member) throw new ApiError("forbidden", "You are not a member of this org.");
  c.set("orgId", orgId.toLowerCase());
  c.set("role", member.role);
  await next();
});

export const requireRole = (...roles: Role[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.includes(c.get("role"))) {
      throw new ApiError("forbidden", `This needs the ${roles.join(" or ")} role.`);
    }
    await next();
  });
