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

/** A bucket's count changed by `n` (its row made first when it gains), `when` as tallyMove's. */
function bump(db: Db, orgId: string, b: Bucket, n: number, when?: SQL) {
  const { day: _day, ...key } = b;
  return [
    ...(n > 0
      ? [
          db
            .insert(t)
            .values({ orgId, ...key, n: 0 })
            .onConflictDoNothing(),
        ]
      : []),
    db
      .update(t)
      .set({ n: sql`${t.n} + ${n}` })
      .where(and(at(orgId, b), when)),
  ];
}

/** The same for the bucket's day row. */
function bumpDay(db: Db, orgId: string, b: Bucket, n: number, when?: SQL) {
  return [
    ...(n > 0 ? [db.insert(dt).values({ orgId, archived: b.archived, unread: b.unread, day: b.day, n: 0 }).onConflictDoNothing()] : []),
    db
      .update(dt)
      .set({ n: sql`${dt.n} + ${n}` })
      .where(and(atDay(orgId, b), when)),
  ];
}

/**
 * Statements moving one conversation from bucket `from` to bucket `to` (either may
 * be null: created, or gone), to run in the batch that changes the conversation.
 * `when` makes the move conditional on that batch's own write having happened.
 */
export function tallyMove(db: Db, orgId: string, from: Bucket | null, to: Bucket | null, when?: SQL) {
  const statements = [];
  if (!(from && to && sameBucket(from, to))) {
    if (to) statements.push(...bump(db, orgId, to, 1, when));
    if (from) statements.push(...bump(db, orgId, from, -1, when));
  }
  if (!(from && to && sameDay(from, to))) {
    if (to) statements.push(...bumpDay(db, orgId, to, 1, when));
    if (from) statements.push(...bumpDay(db, orgId, from, -1, when));
  }
  return statements;
}

/**
 * The tally statements of many conversation moves at once (a group commit): each
 * bucket's net change, one upsert and one update per bucket that changed.
 */
export function tallyMoves(db: Db, orgId: string, moves: { from: Bucket | null; to: Bucket }[]) {
  const buckets = new Map<string, { bucket: Bucket; n: number }>();
  const days = new Map<string, { bucket: Bucket; n: number }>();
  const add = (map: typeof buckets, key: string, bucket: Bucket, n: number) => {
    const entry = map.get(key) ?? { bucket, n: 0 };
    entry.n += n;
    map.set(key, entry);
  };
  const keyOf = (b: Bucket) => JSON.stringify([b.archived, b.starred, b.unread, b.assignee]);
  const dayOf = (b: Bucket) => JSON.stringify([b.archived, b.unread, b.day]);
  for (const { from, to } of moves) {
    add(buckets, keyOf(to), to, 1);
    add(days, dayOf(to), to, 1);
    if (from) {
      add(buckets, keyOf(from), from, -1);
      add(days, dayOf(from), from, -1);
    }
  }
  return [
    ...[...buckets.values()].filter((e) => e.n !== 0).flatMap((e) => bump(db, orgId, e.bucket, e.n)),
    ...[...days.values()].filter((e) => e.n !== 0).flatMap((e) => bumpDay(db, orgId, e.bucket, e.n)),
  ];
}
