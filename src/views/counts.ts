import { and, count, eq, gt, inArray, lt, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { conversationWhere } from "../conversations/queries";
import { type Db, oneRow } from "../db/client";
import { conversationLabels as cl, conversations as cv, activityDayTallies as dt, labelTallies as lbt, conversationTallies as t } from "../db/schema";
import { remember } from "../lib/remember";
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

/** A view's part answered by the label tallies' rows (labelTallyRows): one label, archived and unread as the view filters them. */
export type LabelTally = { labelId: string; archived?: boolean; unread?: boolean };

/** Parts whose `n`s add up to a view's total and unread badge, plus a part read from the label tallies' rows. */
export type CountPlan = { total: SQLWrapper[]; unread: SQLWrapper[]; tally?: LabelTally };

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
  if (f.label_ids?.length) return labelTallied(f) ? labelTallyPlan(f) : labelPlan(db, orgId, userId, f, now);
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
  return { total: [...all.total, total], unread: [...all.unread, unread], tally: all.tally };
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
 * kept exact by triggers in the statement of every change): no SQL of its own; its label's
 * rows come with every other tallied label's in one statement (labelTallyRows), at most
 * four rows a label whatever the org's or the label's size, added up in countsQuery's read.
 * An id not of the org has no rows: 0.
 */
const labelTallyPlan = (f: ViewFilters): CountPlan => ({
  total: [],
  unread: [],
  tally: { labelId: f.label_ids![0].toLowerCase(), archived: f.archived, unread: f.unread },
});

/**
 * The label tallies' rows of `labelIds` as one JSON array of [label_id, archived, unread, n]
 * (a scalar subquery of the counts' SELECT): one primary-key lookup a label.
 */
export const labelTallyRows = (db: Db, orgId: string, labelIds: string[]) =>
  db
    .select({ rows: sql<string>`json_group_array(json_array(${lbt.labelId}, ${lbt.archived}, ${lbt.unread}, ${lbt.n}))` })
    .from(lbt)
    .where(and(eq(lbt.orgId, orgId), inArray(lbt.labelId, labelIds)));

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

type Field = [string, SQL.Aliased<unknown>];

/**
 * How many fields (after the first, `n`, which every statement repeats) each statement
 * takes: all in one when the SELECT's parameters fit D1's 100, else cut field by field
 * (rare: a dozen views or more with time, snooze or label-link parts). Counting them builds
 * the SQL, so countsQuery remembers the layout by the views' filters (`shape`): the
 * parameters' number depends on the filters only.
 */
function layoutOf(fields: Field[], select: (fields: Record<string, SQL.Aliased<unknown>>) => { toSQL(): { params: unknown[] } }): number[] {
  if (select(Object.fromEntries(fields)).toSQL().params.length <= MAX_PARAMS) return [fields.length - 1];
  const sizes: number[] = [];
  let size = 0;
  let params = 1;
  for (const field of fields.slice(1)) {
    const n = select(Object.fromEntries([field])).toSQL().params.length;
    if (params + n > MAX_PARAMS && size > 0) {
      sizes.push(size);
      size = 0;
      params = 1;
    }
    size++;
    params += n;
  }
  sizes.push(size);
  return sizes;
}

const layouts = new Map<string, number[]>();
const LAYOUTS_MAX = 5_000;

/**
 * Every view's counts in one batch (one round trip whatever the number of views): the SQL
 * parts, and when any view is answered by the label tallies their rows (labelTallyRows), as
 * scalar subqueries of a SELECT from one row (a bare SELECT does not survive a drizzle D1
 * batch); one statement, or, past D1's 100 bound parameters a statement, as few as hold
 * them (`shape`: a key of the views' filters, under which the cut is remembered). `read` turns the batch's results (in the statements' order) into [total, unread]
 * per view.
 */
export function countsQuery(db: Db, orgId: string, plans: CountPlan[], shape?: string) {
  const added = (parts: SQLWrapper[]) =>
    sql<unknown>`${sql.join(
      parts.map((q) => sql`(${q})`),
      sql` + `,
    )}`;
  const select = (fields: Record<string, SQL.Aliased<unknown>>) => db.select(fields).from(oneRow());
  // Aliased: inside a batch, unaliased expressions of the same shape would collide by name.
  const fields: Field[] = [["n", sql<number>`${plans.length}`.as("n")]];
  for (const [i, p] of plans.entries()) {
    if (p.total.length) fields.push([`t${i}`, added(p.total).as(`t${i}`)]);
    if (p.unread.length) fields.push([`u${i}`, added(p.unread).as(`u${i}`)]);
  }
  // At most 50 views: under D1's 100 parameters with the org id.
  const labelIds = [...new Set(plans.flatMap((p) => (p.tally ? [p.tally.labelId] : [])))];
  if (labelIds.length) fields.push(["lt", added([labelTallyRows(db, orgId, labelIds)]).as("lt")]);
  let layout = shape === undefined ? undefined : layouts.get(shape);
  if (!layout) {
    layout = layoutOf(fields, select);
    if (shape !== undefined) {
      remember(layouts, shape, layout, LAYOUTS_MAX);
    }
  }
  const statements: ReturnType<typeof select>[] = [];
  let at = 1;
  for (const size of layout) {
    statements.push(select(Object.fromEntries([fields[0], ...fields.slice(at, at + size)])));
    at += size;
  }
  const read = (results: unknown[][]): [number, number][] => {
    const row = Object.assign({}, ...results.map((r) => r[0])) as Record<string, unknown>;
    const tallies = (row.lt ? JSON.parse(String(row.lt)) : []) as [string, number, number, number][];
    return plans.map((p, i) => {
      let total = Number(row[`t${i}`] ?? 0);
      let unread = Number(row[`u${i}`] ?? 0);
      const t = p.tally;
      if (t) {
        for (const [labelId, archived, isUnread, n] of tallies) {
          if (labelId !== t.labelId || (t.archived !== undefined && !!archived !== t.archived) || (t.unread !== undefined && !!isUnread !== t.unread)) continue;
          total += n;
          if (isUnread) unread += n;
        }
      }
      return [total, unread];
    });
  };
  return { statements: statements as [ReturnType<typeof select>, ...ReturnType<typeof select>[]], read };
}
