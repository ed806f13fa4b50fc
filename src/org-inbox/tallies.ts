import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversationTallies as t, type Conversation } from "../db/schema";

export type Bucket = { archived: boolean; starred: boolean; unread: boolean; assignee: string };

export const bucketOf = (cv: Pick<Conversation, "archived" | "starred" | "unreadCount" | "assignedTo">): Bucket => ({
  archived: cv.archived,
  starred: cv.starred,
  unread: cv.unreadCount > 0,
  assignee: cv.assignedTo ?? "",
});

const sameBucket = (a: Bucket, b: Bucket) =>
  a.archived === b.archived && a.starred === b.starred && a.unread === b.unread && a.assignee === b.assignee;

const at = (orgId: string, b: Bucket) =>
  and(eq(t.orgId, orgId), eq(t.archived, b.archived), eq(t.starred, b.starred), eq(t.unread, b.unread), eq(t.assignee, b.assignee));

/**
 * Statements moving one conversation from bucket `from` to bucket `to` (either may
 * be null: created, or gone), to run in the batch that changes the conversation.
 * `when` makes the move conditional on that batch's own write having happened.
 */
export function tallyMove(d: Db, orgId: string, from: Bucket | null, to: Bucket | null, when?: SQL) {
  if (from && to && sameBucket(from, to)) return [];
  const statements = [];
  if (to) {
    statements.push(d.insert(t).values({ orgId, ...to, n: 0 }).onConflictDoNothing());
    statements.push(d.update(t).set({ n: sql`${t.n} + 1` }).where(and(at(orgId, to), when)));
  }
  if (from) statements.push(d.update(t).set({ n: sql`${t.n} - 1` }).where(and(at(orgId, from), when)));
  return statements;
}
