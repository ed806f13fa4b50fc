import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, ne, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
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
export const withLabel = (orgId: string, labelId: string) =>
  sql`${conversations.id} IN (SELECT ${conversationLabels.conversationId} FROM ${conversationLabels} WHERE ${conversationLabels.orgId} = ${orgId} AND ${conversationLabels.labelId} = ${labelId.toLowerCase()})`;

/** The WHERE of a conversation list; absent filters constrain nothing. */
export function conversationWhere(orgId: string, userId: string, f: ConversationFilter, now: number): SQL {
  const c = conversations;
  // Unary + keeps the planner off the sla_due_at range (which would need a sort):
  // overdue lists walk conversations_waiting_sort_idx in list order instead.
  const overdueNow = and(eq(c.archived, false), sql`${c.slaDueAt} IS NOT NULL`, sql`+${c.slaDueAt} <= ${now}`);
  return and(
    eq(c.orgId, orgId),
    f.archived === undefined ? undefined : eq(c.archived, f.archived),
    f.scope === "mine" ? eq(c.assignedTo, userId) : undefined,
    f.assigned_to === undefined ? undefined : f.assigned_to === "unassigned" ? isNull(c.assignedTo) : eq(c.assignedTo, f.assigned_to.toLowerCase()),
    f.starred === undefined ? undefined : eq(c.starred, f.starred),
    f.unread === undefined ? undefined : f.unread ? gt(c.unreadCount, 0) : eq(c.unreadCount, 0),
    f.overdue === undefined ? undefined : f.overdue ? overdueNow : sql`NOT (${c.slaDueAt} IS NOT NULL AND ${overdueNow})`,
    f.snoozed === undefined ? undefined : f.snoozed ? sql`${c.snoozedUntil} IS NOT NULL` : isNull(c.snoozedUntil),
    f.contact_id === undefined ? undefined : eq(c.contactId, f.contact_id.toLowerCase()),
    f.active_within_days === undefined ? undefined : sql`${c.sortAt} >= ${now - f.active_within_days * 86_400_000}`,
    ...(f.label_ids ?? []).map((id) => withLabel(orgId, id)),
  )!;
}

/**
 * Newest activity first; keyset on (sort_at, id), so a page costs the same at any depth.
 * Each row with its labels (labelsJson): the page is one statement, one D1 round trip.
 */
export function listConversations(db: Db, orgId: string, where: SQL, after: [number, string] | null, limit: number) {
  const c = conversations;
  const keyset = after ? or(lt(c.sortAt, after[0]), and(eq(c.sortAt, after[0]), lt(c.id, after[1]))) : undefined;
  return db
    .select({ conversation: c, contact: contactColumns, labels: labelsJson(orgId) })
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(where, keyset))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(limit + 1);
}

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
