import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, ne, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { type At, memo, placeholders, valuesAt } from "../db/memo";
import { activities, type Conversation, contacts, conversationLabels, conversations, type Media, media } from "../db/schema";
import { labelsJson } from "../labels/queries";
import { inChunks } from "../lib/schemas";

export const contactColumns = { id: contacts.id, name: contacts.name, phone: contacts.phone, email: contacts.email };

export const selectConversation = (db: Db, orgId: string, id: string) =>
  db
    .select({ conversation: conversations, contact: contactColumns })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.orgId, orgId), eq(conversations.id, id)));

export type ConversationWithContact = { conversation: Conversation; contact: { id: string; name: string | null; phone: string | null; email: string | null } };

export type ConversationFilter = {
  scope?: "mine" | "team";
  archived?: boolean;
  overdue?: boolean;
  starred?: boolean;
  unread?: boolean;
  snoozed?: boolean;
  assigned_to?: string;
  contact_id?: string;
  active_within_days?: number;
  /** Labels it must all have (SPEC 17). */
  label_ids?: string[];
};

/** The conversation ids with a label (an index range of conversation_labels). */
export const withLabel = (orgId: unknown, labelId: unknown) =>
  sql`${conversations.id} IN (SELECT ${conversationLabels.conversationId} FROM ${conversationLabels} WHERE ${conversationLabels.orgId} = ${orgId} AND ${conversationLabels.labelId} = ${labelId})`;

/**
 * What a list's WHERE is made of besides values (a memo key: two filters of one shape
 * build the same statement): which filters are present, and the booleans that change its
 * form (unread, overdue, snoozed).
 */
export const filterShape = (f: ConversationFilter) =>
  [
    f.archived === undefined ? "" : "a",
    f.scope === "mine" ? "m" : "",
    f.assigned_to === undefined ? "" : f.assigned_to === "unassigned" ? "n" : "t",
    f.starred === undefined ? "" : "s",
    f.unread === undefined ? "" : f.unread ? "u1" : "u0",
    f.overdue === undefined ? "" : f.overdue ? "o1" : "o0",
    f.snoozed === undefined ? "" : f.snoozed ? "z1" : "z0",
    f.contact_id === undefined ? "" : "c",
    f.active_within_days === undefined ? "" : "d",
    `l${f.label_ids?.length ?? 0}`,
  ].join("");

/** The values of a list's WHERE (filterWhere's names; booleans as SQLite's 0/1). */
export function filterValues(orgId: string, userId: string, f: ConversationFilter, now: number): Record<string, unknown> {
  const values: Record<string, unknown> = { org: orgId, now };
  if (f.archived !== undefined) values.archived = f.archived ? 1 : 0;
  if (f.scope === "mine") values.user = userId;
  if (f.assigned_to !== undefined && f.assigned_to !== "unassigned") values.assignee = f.assigned_to.toLowerCase();
  if (f.starred !== undefined) values.starred = f.starred ? 1 : 0;
  if (f.contact_id !== undefined) values.contact = f.contact_id.toLowerCase();
  if (f.active_within_days !== undefined) values.since = now - f.active_within_days * 86_400_000;
  for (const [i, id] of (f.label_ids ?? []).entries()) values[`label${i}`] = id.toLowerCase();
  return values;
}

/** The WHERE of a conversation list of filterShape(f), its values by name (`at`, filterValues' names); absent filters constrain nothing. */
export function filterWhere(f: ConversationFilter, at: At): SQL {
  const c = conversations;
  // Unary + keeps the planner off the sla_due_at range (which would need a sort):
  // overdue lists walk conversations_waiting_sort_idx in list order instead.
  const overdueNow = and(eq(c.archived, false), sql`${c.slaDueAt} IS NOT NULL`, sql`+${c.slaDueAt} <= ${at<number>("now")}`);
  return and(
    eq(c.orgId, at("org")),
    f.archived === undefined ? undefined : sql`${c.archived} = ${at("archived")}`,
    f.scope === "mine" ? eq(c.assignedTo, at("user")) : undefined,
    f.assigned_to === undefined ? undefined : f.assigned_to === "unassigned" ? isNull(c.assignedTo) : eq(c.assignedTo, at("assignee")),
    f.starred === undefined ? undefined : sql`${c.starred} = ${at("starred")}`,
    f.unread === undefined ? undefined : f.unread ? gt(c.unreadCount, 0) : eq(c.unreadCount, 0),
    f.overdue === undefined ? undefined : f.overdue ? overdueNow : sql`NOT (${c.slaDueAt} IS NOT NULL AND ${overdueNow})`,
    f.snoozed === undefined ? undefined : f.snoozed ? sql`${c.snoozedUntil} IS NOT NULL` : isNull(c.snoozedUntil),
    f.contact_id === undefined ? undefined : eq(c.contactId, at("contact")),
    f.active_within_days === undefined ? undefined : sql`${c.sortAt} >= ${at<number>("since")}`,
    ...(f.label_ids ?? []).map((_, i) => withLabel(at("org"), at(`label${i}`))),
  )!;
}

/** The WHERE of a conversation list, with its values in it (filterWhere). */
export function conversationWhere(orgId: string, userId: string, f: ConversationFilter, now: number): SQL {
  const values = filterValues(orgId, userId, f, now);
  return filterWhere(f, valuesAt(values));
}

/** The keyset after a cursor's (sort_at, id) (pageValues' names): a page costs the same at any depth. */
export const keysetAfter = (at: At) =>
  or(lt(conversations.sortAt, at<number>("afterAt")), and(eq(conversations.sortAt, at<number>("afterAt")), lt(conversations.id, at("afterId"))));

/** The values of a page's cursor and size (keysetAfter's names, and `limit`: one row more than the page, to tell a next page). */
export const pageValues = (after: [number, string] | null, limit: number) => ({ afterAt: after?.[0], afterId: after?.[1], limit: limit + 1 });

/**
 * Newest activity first; keyset on (sort_at, id), after the cursor when `after`. Each row
 * with its labels (labelsJson): the page is one statement, one D1 round trip. Values:
 * `org`, pageValues'.
 */
export function listConversations(db: Db, where: SQL, after: boolean, at: At) {
  const c = conversations;
  return db
    .select({ conversation: c, contact: contactColumns, labels: labelsJson(at("org")) })
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(where, after ? keysetAfter(at) : undefined))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(at<number>("limit"));
}

/**
 * A statement over the list of `f`, built once per shape of filters and cursor
 * (src/db/memo.ts): `build` gets the list's WHERE and whether a cursor applies, written
 * with placeholders; the values are the filter's, the page's (pageValues) and `more`.
 */
export function listStatement<Q extends BatchItem<"sqlite">>(
  db: Db,
  name: string,
  who: { orgId: string; userId: string; now: number },
  f: ConversationFilter,
  page: { after: [number, string] | null; limit: number },
  build: (where: SQL, after: boolean) => Q,
  more: object = {},
) {
  const values = { ...filterValues(who.orgId, who.userId, f, who.now), ...pageValues(page.after, page.limit), ...more };
  return memo(db, `${name}:${filterShape(f)}:${page.after ? "after" : "first"}`, () => build(filterWhere(f, placeholders), page.after !== null), values);
}

/** GET /conversations: a page of the list of `f` (listConversations, built once per shape). */
export const conversationPage = (db: Db, orgId: string, userId: string, f: ConversationFilter, now: number, after: [number, string] | null, limit: number) =>
  listStatement(db, "conversations", { orgId, userId, now }, f, { after, limit }, (where, cursor) => listConversations(db, where, cursor, placeholders));

export function listThread(
  db: Db,
  orgId: string,
  conversationId: string,
  opts: { order: "asc" | "desc"; includeSuggestions: boolean; after: [number, string] | null; limit: number; match?: SQL },
) {
  const a = activities;
  const { after } = opts;
  const keyset = !after
    ? undefined
    : opts.order === "desc"
      ? or(lt(a.occurredAt, after[0]), and(eq(a.occurredAt, after[0]), lt(a.id, after[1])))
      : or(gt(a.occurredAt, after[0]), and(eq(a.occurredAt, after[0]), gt(a.id, after[1])));
  const dir = opts.order === "desc" ? desc : asc;
  return db
    .select()
    .from(a)
    .where(and(eq(a.conversationId, conversationId), eq(a.orgId, orgId), opts.includeSuggestions ? undefined : ne(a.type, "suggestion"), keyset, opts.match))
    .orderBy(dir(a.occurredAt), dir(a.id))
    .limit(opts.limit + 1);
}

export async function mediaFor(db: Db, orgId: string, ids: string[]): Promise<Map<string, Media>> {
  if (!ids.length) return new Map();
  const rows = await inChunks(ids, (slice) =>
    db
      .select()
      .from(media)
      .where(and(eq(media.orgId, orgId), inArray(media.id, slice)))
      .all(),
  );
  return new Map(rows.map((m) => [m.id, m]));
}

export const findActivity = (db: Db, orgId: string, id: string) =>
  db
    .select()
    .from(activities)
    .where(and(eq(activities.orgId, orgId), eq(activities.id, id)))
    .get();

/** The longest sms body (and setter sms draft). */
export const SMS_MAX = 1600;

/**
 * The thread's last `limit` sms/email/call lines before `at` (or up to it), oldest
 * first; a call counts only when it has a summary or a transcript. Both the setter's
 * prompt and a training pair's context read the thread through this.
 */
/**
 * An sms/email that never went out (SPEC 20): still `scheduled`, `canceled`, or `failed`
 * before any attempt (refused when released, or never handed to the send queue). It stands
 * in the thread, but it is no reply, no trigger and nothing the agent said.
 */
export const neverSent = (a: typeof activities = activities) =>
  sql`(${a.type} IN ('sms', 'email') AND ${a.direction} = 'outbound' AND (${a.status} IN ('scheduled', 'canceled') OR (${a.status} = 'failed' AND ${a.sendAttempts} = 0)))`;

export async function threadLines(db: Db, conversationId: string, at: number, opts: { inclusive: boolean; limit: number }) {
  const a = activities;
  const rows = await db
    .select({
      type: a.type,
      direction: a.direction,
      body: a.body,
      subject: a.subject,
      summary: a.callSummary,
      transcript: a.callTranscript,
      occurredAt: a.occurredAt,
    })
    .from(a)
    .where(
      and(
        eq(a.conversationId, conversationId),
        inArray(a.type, ["sms", "email", "call"]),
        opts.inclusive ? lte(a.occurredAt, at) : lt(a.occurredAt, at),
        sql`NOT (${a.type} = 'call' AND ${a.callSummary} IS NULL AND ${a.callTranscript} IS NULL)`,
        sql`NOT ${neverSent(a)}`,
      ),
    )
    .orderBy(desc(a.occurredAt), desc(a.id))
    .limit(opts.limit)
    .all();
  return rows.reverse();
}
