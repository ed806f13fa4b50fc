import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversationTallies, conversations, members, views } from "../db/schema";
import { anotherOwnerRemains } from "../setup/queries";

/**
 * One batch: the member goes (unless they are the last owner), and only then
 * their threads are unassigned and their views dropped; a refused delete
 * leaves everything as it was. Answers whether the member was removed.
 */
export async function removeMember(d: Db, orgId: string, userId: string, now = Date.now()) {
  const stillMember = sql`EXISTS (SELECT 1 FROM members WHERE org_id = ${orgId} AND user_id = ${userId})`;
  // Their buckets fold into the unassigned ones, under the same condition as the unassign.
  const theirs = await d
    .select()
    .from(conversationTallies)
    .where(and(eq(conversationTallies.orgId, orgId), eq(conversationTallies.assignee, userId)))
    .all();
  const tallyMoves = theirs.flatMap((b) => {
    const key = and(eq(conversationTallies.orgId, orgId), eq(conversationTallies.archived, b.archived), eq(conversationTallies.starred, b.starred), eq(conversationTallies.unread, b.unread));
    return [
      d.insert(conversationTallies).values({ ...b, assignee: "", n: 0 }).onConflictDoNothing(),
      d.update(conversationTallies).set({ n: sql`${conversationTallies.n} + ${b.n}` }).where(and(key, eq(conversationTallies.assignee, ""), sql`NOT ${stillMember}`)),
      d.delete(conversationTallies).where(and(key, eq(conversationTallies.assignee, userId), sql`NOT ${stillMember}`)),
    ];
  });
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
    ...tallyMoves,
  ]);
  return deleted.length > 0;
}
