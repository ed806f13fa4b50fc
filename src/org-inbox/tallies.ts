import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Conversation, activityDayTallies as dt, conversationTallies as t } from "../db/schema";

export type Bucket = { archived: boolean; starred: boolean; unread: boolean; assignee: string; day: number };

export const DAY_MS = 86_400_000;

export const bucketOf = (cv: Pick<Conversation, "archived" | "starred" | "unreadCount" | "assignedTo" | "sortAt">): Bucket => ({
  archived: cv.archived,
  starred: cv.starred,
  unread: cv.unreadCount > 0,
  assignee: cv.assignedTo ?? "",
  day: Math.floor(cv.sortAt / DAY_MS),
});

const sameBucket = (a: Bucket, b: Bucket) => a.archived === b.archived && a.starred === b.starred && a.unread === b.unread && a.assignee === b.assignee;
const sameDay = (a: Bucket, b: Bucket) => a.archived === b.archived && a.unread === b.unread && a.day === b.day;

const at = (orgId: string, b: Bucket) =>
  and(eq(t.orgId, orgId), eq(t.archived, b.archived), eq(t.starred, b.starred), eq(t.unread, b.unread), eq(t.assignee, b.assignee));
const atDay = (orgId: string, b: Bucket) => and(eq(dt.orgId, orgId), eq(dt.archived, b.archived), eq(dt.unread, b.unread), eq(dt.day, b.day));

/**
 * Statements moving one conversation from bucket `from` to bucket `to` (either may
 * be null: created, or gone), to run in the batch that changes the conversation.
 * `when` makes the move conditional on that batch's own write having happened.
 */
export function tallyMove(db: Db, orgId: string, from: Bucket | null, to: Bucket | null, when?: SQL) {
  const statements = [];
  if (!(from && to && sameBucket(from, to))) {
    if (to) {
      const { day: _day, ...key } = to;
      statements.push(
        db
          .insert(t)
          .values({ orgId, ...key, n: 0 })
          .onConflictDoNothing(),
      );
      statements.push(
        db
          .update(t)
          .set({ n: sql`${t.n} + 1` })
          .where(and(at(orgId, to), when)),
      );
    }
    if (from)
      statements.push(
        db
          .update(t)
          .set({ n: sql`${t.n} - 1` })
          .where(and(at(orgId, from), when)),
      );
  }
  if (!(from && to && sameDay(from, to))) {
    if (to) {
      statements.push(db.insert(dt).values({ orgId, archived: to.archived, unread: to.unread, day: to.day, n: 0 }).onConflictDoNothing());
      statements.push(
        db
          .update(dt)
          .set({ n: sql`${dt.n} + 1` })
          .where(and(atDay(orgId, to), when)),
      );
    }
    if (from)
      statements.push(
        db
          .update(dt)
          .set({ n: sql`${dt.n} - 1` })
          .where(and(atDay(orgId, from), when)),
      );
  }
  return statements;
}
