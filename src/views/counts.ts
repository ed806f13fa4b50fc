import { and, count, eq, gt, lt, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { conversationWhere } from "../conversations/queries";
import { type Db, oneRow } from "../db/client";
import { conversationLabels as cl, conversations as cv, activityDayTallies as dt, labelTallies as lbt, conversationTallies as t } from "../db/schema";
import { DAY_MS } from "../org-inbox/tallies";
import type { ViewFilters } from "./system-views";

/** The tallies matching a view's time-independent filters (the same meaning as conversationWhere). */
function tallyWhere(orgId: string, userId: string, f: ViewFilters): SQL | undefined {
  return and(
    eq(t.orgId, orgId),
    f.archived === undefined ? undefined : eq(t.archived, f.archived),
    f.starred === undefined ? undefined : eq(t.starred, f.starred),
    f.unread === undefined ? undefined : eq(t.unread, f.unread),
    f.scope === "mine" ? eq(t.assignee, userId) : undefined,
    f.assigned_to === undefined ? undefined : eq(t.assignee, f.assigned_to === "unassigned" ? "" : f.assigned_to.toLowerCase()),
  );
}

/** Filters the day tallies can answer: archived, unread and the activity window. */
const dayTallied = (f: ViewFilters) =>
  f.active_within_days !== undefined && f.overdue === undefined && f.starred === undefined && f.scope !== "mine" && f.assigned_to === undefined;

export type CountPlan = { total: SQLWrapper[]; unread: SQLWrapper[] };

/**
 * The statements whose `n`s add up to a view's total and unread badge, chosen so
 * that none grows with the org:
 * - no time filter: OrgInbox's tallies (a few rows whatever the org's size);
 * - archived/unread/active_within_days (Recents): the day tallies of the whole
 *   days after the cutoff's day, plus an index count of the day the cutoff falls in;
 * - one label with archived/unread: the label tallies (labelTallyPlan); any other
 *   label view: the first label's links (labelPlan);
 * - snoozed: the plan without it and the snoozed threads' partial index (snoozedPlan);
 * - anything else (overdue, or a window with star/assignee filters): the list's
 *   own WHERE counted on an index range.
 */
export function countPlan(db: Db, orgId: string, userId: string, f: ViewFilters, now: number): CountPlan {
  if (f.snoozed !== undefined) return snoozedPlan(db, orgId, userId, f, now);
  if (f.label_ids?.length) return labelTallied(f) ? labelTallyPlan(db, orgId, f) : labelPlan(db, orgId, userId, f, now);
  if (f.overdue === undefined && f.active_within_days === undefined) {
    const where = tallyWhere(orgId, userId, f);
    const sum = sql<number>`COALESCE(SUM(${t.n}), 0)`;
    return {
      total: [db.select({ n: sum }).from(t).where(where)],
      unread: [
        db
          .select({ n: sum })
          .from(t)
          .where(and(where, eq(t.unread, true))),
      ],
    };
  }
  const where = conversationWhere(orgId, userId, f, now);
  if (dayTallied(f)) {
    const cutoffDay = Math.floor((now - f.active_within_days! * DAY_MS) / DAY_MS);
    const days = and(
      eq(dt.orgId, orgId),
      f.archived === undefined ? undefined : eq(dt.archived, f.archived),
      f.unread === undefined ? undefined : eq(dt.unread, f.unread),
      gt(dt.day, cutoffDay),
    );
    const boundary = and(where, lt(cv.sortAt, (cutoffDay + 1) * DAY_MS));
    const sum = sql<number>`COALESCE(SUM(${dt.n}), 0)`;
    return {
      total: [db.select({ n: sum }).from(dt).where(days), db.select({ n: count() }).from(cv).where(boundary)],
      unread: [
        db
          .select({ n: sum })
          .from(dt)
          .where(and(days, eq(dt.unread, true))),
        db
          .select({ n: count() })
          .from(cv)
          .where(and(boundary, gt(cv.unreadCount, 0))),
      ],
    };
  }
  return {
    total: [db.select({ n: count() }).from(cv).where(where)],
    unread: [
      db
        .select({ n: count() })
        .from(cv)
        .where(and(where, gt(cv.unreadCount, 0))),
    ],
  };
}

/**
 * A view with a `snoozed` filter (SPEC 17). The tallies do not know snooze, but the snoozed
 * conversations are few (a partial index holds just them): snoozed=true counts them on that
 * index with the view's other filters; snoozed=false is the plan without the filter minus
 * that count. Exact, and what it reads grows with the org's snoozed threads only.
 */
function snoozedPlan(db: Db, orgId: string, userId: string, f: ViewFilters, now: number): CountPlan {
  const { snoozed, ...rest } = f;
  const where = and(conversationWhere(orgId, userId, rest, now), sql`${cv.snoozedUntil} IS NOT NULL`);
  // Counted, or subtracted: -COUNT(*) is added like every other part.
  const n = snoozed ? count() : sql<number>`0 - COUNT(*)`;
  const total = db.select({ n }).from(cv).where(where);
  const unread = db
    .select({ n })
    .from(cv)
    .where(and(where, gt(cv.unreadCount, 0)));
  if (snoozed) return { total: [total], unread: [unread] };
  const all = countPlan(db, orgId, userId, rest, now);
  return { total: [...all.total, total], unread: [...all.unread, unread] };
}

/**
 * Filters the label tallies can answer (label × archived × unread): one label (repeats of it
 * count once), with or without archived and unread; scope "team" constrains nothing. A
 * second label, an assignee, a star, the overdue or time filters are not in the tallies.
 */
const labelTallied = (f: ViewFilters) =>
  new Set(f.label_ids!.map((id) => id.toLowerCase())).size === 1 &&
  f.starred === undefined &&
  f.overdue === undefined &&
  f.active_within_days === undefined &&
  f.assigned_to === undefined &&
  f.scope !== "mine" &&
  f.snoozed === undefined;

/**
 * A view of one label (and archived/unread) from label_tallies (migrations/shard/0016: rows
 * kept exact by triggers in the statement of every change): at most four rows of the
 * primary key, whatever the org's or the label's size. An id not of the org has no rows: 0.
 */
function labelTallyPlan(db: Db, orgId: string, f: ViewFilters): CountPlan {
  const where = and(
    eq(lbt.orgId, orgId),
    eq(lbt.labelId, f.label_ids![0].toLowerCase()),
    f.archived === undefined ? undefined : eq(lbt.archived, f.archived),
    f.unread === undefined ? undefined : eq(lbt.unread, f.unread),
  );
  const sum = sql<number>`COALESCE(SUM(${lbt.n}), 0)`;
  return {
    total: [db.select({ n: sum }).from(lbt).where(where)],
    unread: [
      db
        .select({ n: sum })
        .from(lbt)
        .where(and(where, eq(lbt.unread, true))),
    ],
  };
}

/**
 * Any other view with `label_ids` (SPEC 17: two labels, or a label with an assignee, a star,
 * overdue or a window): its conversations counted from the first label's
 * links (conversation_labels_label_idx, the outer loop: CROSS JOIN keeps SQLite from
 * starting at the org's conversations), each joined to its conversation by primary key and
 * checked against the view's other filters and labels. Exact; what it reads grows with
 * that label's conversations, not with the org.
 */
function labelPlan(db: Db, orgId: string, userId: string, f: ViewFilters, now: number): CountPlan {
  const [first, ...others] = f.label_ids!;
  const where = and(
    eq(cl.orgId, orgId),
    eq(cl.labelId, first.toLowerCase()),
    eq(cv.id, cl.conversationId),
    conversationWhere(orgId, userId, { ...f, label_ids: others }, now),
  );
  const counted = (w: SQL | undefined) => db.select({ n: count() }).from(cl).crossJoin(cv).where(w);
  return { total: [counted(where)], unread: [counted(and(where, gt(cv.unreadCount, 0)))] };
}

/** D1's bound parameters a statement. */
const MAX_PARAMS = 100;

/**
 * Every view's parts as scalar subqueries of SELECTs from one row (a bare SELECT does not
 * survive a drizzle D1 batch): as few statements as D1's 100 bound parameters a statement
 * allow (the four system views take one; ten one-label views another), all sent in one
 * batch, so one round trip whatever the number of views.
 */
export function countsStatements(db: Db, plans: CountPlan[]) {
  const added = (parts: SQLWrapper[]) =>
    sql<number>`${sql.join(
      parts.map((q) => sql`(${q})`),
      sql` + `,
    )}`;
  const select = (fields: Record<string, SQL.Aliased<number>>) => db.select(fields).from(oneRow());
  const statements: ReturnType<typeof select>[] = [];
  // Aliased: inside a batch, unaliased expressions of the same shape would collide by name.
  const opening = () => ({ n: sql<number>`${plans.length}`.as("n") });
  let fields: Record<string, SQL.Aliased<number>> = opening();
  let params = 1;
  for (const [i, p] of plans.entries()) {
    for (const [name, parts] of [
      [`t${i}`, p.total],
      [`u${i}`, p.unread],
    ] as const) {
      const field = added(parts).as(name);
      const n = select({ [name]: field }).toSQL().params.length;
      if (params + n > MAX_PARAMS && Object.keys(fields).length > 1) {
        statements.push(select(fields));
        fields = opening();
        params = 1;
      }
      fields[name] = field;
      params += n;
    }
  }
  statements.push(select(fields));
  return statements as [ReturnType<typeof select>, ...ReturnType<typeof select>[]];
}

/** [total, unread] per view from the statements' rows. */
export function readCounts(rows: (Record<string, unknown> | undefined)[], n: number): [number, number][] {
  const row = Object.assign({}, ...rows) as Record<string, unknown>;
  return Array.from({ length: n }, (_, i) => [Number(row[`t${i}`] ?? 0), Number(row[`u${i}`] ?? 0)]);
}
