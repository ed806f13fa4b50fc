import { and, eq, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversations, members, views } from "../db/schema";

/**
 * Guards a change to an owner row: it applies only while another owner remains,
 * checked in the same statement so two owners cannot demote each other at once.
 */
export const anotherOwnerRemains = (orgId: string) =>
  or(ne(members.role, "owner"), sql`(SELECT COUNT(*) FROM members WHERE org_id = ${orgId} AND role = 'owner') > 1`);

/**
 * One batch: the member goes (unless they are the last owner), and only then
 * their threads are unassigned and their views dropped; a refused delete
 * leaves everything as it was. Answers whether the member was removed.
 */
export async function removeMember(d: Db, orgId: string, userId: string, now = Date.now()) {
  const stillMember = sql`EXISTS (SELECT 1 FROM members WHERE org_id = ${orgId} AND user_id = ${userId})`;
  const [deleted] = await d.batch([
    d
      .delete(members)
      .where(and(eq(members.orgId, orgId), eq(members.userId, userId), anotherOwnerRemains(orgId)))
      .returning({ userId: members.userId }),
    d
      .update(conversations)
      .set({ assignedTo: null, updatedAt: now })
      .where(and(eq(conversations.orgId, orgId), eq(conversations.assignedTo, userId), sql`NOT ${stillMember}`)),
    d.delete(views).where(and(eq(views.orgId, orgId), eq(views.userId, userId), sql`NOT ${stillMember}`)),
  ]);
  return deleted.length > 0;
}
