import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type DriverRow, jsonCounterAdds } from "../db/json-rows";
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
 * bucket's net change, added in one upsert per table (src/db/json-rows.ts).
 */
export function tallyMoves(d1: D1Database, orgId: string, moves: { from: Bucket | null; to: Bucket }[]): D1PreparedStatement[] {
  const buckets = new Map<string, DriverRow>();
  const days = new Map<string, DriverRow>();
  const add = (map: Map<string, DriverRow>, row: DriverRow, n: number) => {
    const key = JSON.stringify(row);
    const entry = map.get(key) ?? { ...row, n: 0 };
    entry.n = (entry.n as number) + n;
    map.set(key, entry);
  };
  const flag = (b: boolean) => (b ? 1 : 0);
  for (const { from, to } of moves) {
    for (const [b, n] of [[to, 1] as const, ...(from ? [[from, -1] as const] : [])]) {
      add(buckets, { org_id: orgId, archived: flag(b.archived), starred: flag(b.starred), unread: flag(b.unread), assignee: b.assignee }, n);
      add(days, { org_id: orgId, archived: flag(b.archived), unread: flag(b.unread), day: b.day }, n);
    }
  }
  const changed = (map: Map<string, DriverRow>) => [...map.values()].filter((r) => r.n !== 0);
  return [
    ...jsonCounterAdds(d1, "conversation_tallies", ["org_id", "archived", "starred", "unread", "assignee"], changed(buckets)),
    ...jsonCounterAdds(d1, "activity_day_tallies", ["org_id", "day", "archived", "unread"], changed(days)),
  ];
}
