import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import { type ConversationFilter, contactColumns, keysetAfter, listStatement } from "../conversations/queries";
import { type Db, oneRow } from "../db/client";
import { type At, placeholders } from "../db/memo";
import { activities, contacts, conversations } from "../db/schema";
import { labelsJson } from "../labels/queries";
import { contactText, type Term, textMatch } from "./query";

// Search reads (SPEC 16) over the FTS5 indexes of migrations/shard/0008_search.sql.
// activities_fts's rowid is (conversation rowid << 32) | activity rowid: a match names
// its conversation with a shift, and a thread's matches are one rowid range, so no
// query here reads `activities` to find out where a match belongs. No MATCH here carries
// the org's token (ANDing it reads the org's whole doclist: every message or contact it
// has); every row comes back through a join or a WHERE that checks org_id instead.

/** Bits of an activities_fts rowid that hold the activity's rowid. */
const ACTIVITY_BITS = 32;
const ACTIVITY_MASK = 0xffffffff;

/**
 * Matches counted before a list query picks its plan: under this many (messages and
 * contacts each) the matched conversations are read by rowid and sorted (a bounded
 * set); at or over it the list is walked in its own order, each conversation checked
 * against the index, until the page is full (docs/decisions.md, Search).
 */
export const SPARSE_MATCHES = 500;

const c = conversations;

/** How many of the shard's messages (`messages`) or contacts (`people`) match, counted up to SPARSE_MATCHES. */
const countMessages = (messages: unknown) =>
  sql<number>`(SELECT count(*) FROM (SELECT 1 FROM activities_fts WHERE activities_fts MATCH ${messages} LIMIT ${SPARSE_MATCHES}))`;
const countContacts = (people: unknown) =>
  sql<number>`(SELECT count(*) FROM (SELECT 1 FROM contacts_fts WHERE contacts_fts MATCH ${people} LIMIT ${SPARSE_MATCHES}))`;

/** How many of the org's messages and contacts match, counted up to SPARSE_MATCHES each. */
export const matchCounts = (db: Db, messages: string, people: string) =>
  db.select({ messages: countMessages(messages), contacts: countContacts(people) }).from(oneRow());

/** What each plan yields: the rowids of the page's conversations, in list order (searchPage reads the rows). */
const pageRowid = { rid: sql<number>`${c}.rowid`.as("rid") };

/**
 * Few matches: the conversations that hold them (message matches by their rowid's high
 * bits, contact matches through the contact's conversation), at most SPARSE_MATCHES of
 * each, read by rowid, filtered by the list's WHERE and sorted in list order.
 */
export function sparseSearch(db: Db, where: SQL, after: boolean, at: At) {
  // CROSS JOIN fixes the join order: from the matches to their rows, never the other way.
  const hits = sql`(SELECT rowid >> ${sql.raw(String(ACTIVITY_BITS))} AS crid FROM (SELECT rowid FROM activities_fts WHERE activities_fts MATCH ${at("messages")} LIMIT ${SPARSE_MATCHES})
    UNION SELECT cv.rowid FROM (SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${at("people")} LIMIT ${SPARSE_MATCHES}) AS hit
    CROSS JOIN contacts AS k CROSS JOIN conversations AS cv
    WHERE k.rowid = hit.r AND k.org_id = ${at("org")} AND cv.org_id = k.org_id AND cv.contact_id = k.id) AS hits`;
  return db
    .select(pageRowid)
    .from(hits)
    .crossJoin(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(sql`${c}.rowid = hits.crid`, where, after ? keysetAfter(at) : undefined))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(at<number>("limit"));
}

/**
 * Many matches: the list walked in its own order (the index of its filters), each
 * conversation kept when it is in the set of matched conversations or its contact
 * matches, until the page is full: no sort, and no row read per match.
 */
export function denseSearch(db: Db, where: SQL, after: boolean, at: At) {
  // Built once per query (an ephemeral index of conversation rowids, with a Bloom filter),
  // then probed per walked row; `+` keeps it from driving the walk.
  const inThread = sql`+${c}.rowid IN (SELECT rowid >> ${sql.raw(String(ACTIVITY_BITS))} FROM activities_fts WHERE activities_fts MATCH ${at("messages")})`;
  const byContact = sql`+${contacts}.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ${at("people")})`;
  return db
    .select(pageRowid)
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(where, after ? keysetAfter(at) : undefined, or(inThread, byContact)))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(at<number>("limit"));
}

export type MessageHit = {
  id: string;
  body: string | null;
  subject: string | null;
  transcript: string | null;
  summary: string | null;
};

/**
 * The page's newest matching messages: for each conversation of `page` (searchPage's CTE
 * of the page's ≤ limit + 1 conversation rowids) that has a matching message, the newest
 * by occurred_at, id, as (cv, ar): the conversation's rowid, the activity's. One FTS5
 * cursor for the whole page: the MATCH over the rowid range from the page's lowest
 * conversation to its highest, each match kept when its conversation is the page's (a
 * probe of a ≤ 26-row set), read by rowid and numbered within its conversation. It was
 * a correlated lookup per row (its own cursor on the thread's rowid range): on the 100k
 * seed the statement took, in workerd (wrangler d1 execute --local, mean of 150), 2.7 ms
 * for `invoice`, 3.4 ms for the phrase "invoice overdue", 1.0 ms for `zanzibar`, and
 * takes 1.9–2.0, 2.3 and 0.5 ms (node:sqlite: 4.0 → 2.6, 6.2 → 3.1, 1.0 → 1.1). Its
 * worst case, a page spread over the shard's conversation rowids, decodes every match of
 * the term once (`invoice`: 10,000 in 0.5 ms, the phrase's 5,000 in 1 ms), what the
 * dense walk's set already decodes.
 *
 * The MATCH leaves out the org's token: `page` holds the org's conversations only (the
 * plans' joins checked it), and the activity is read by its rowid with org_id checked.
 */
const newestHits = (messages: unknown) => sql`(SELECT cv, ar FROM (
    SELECT f.rowid >> ${sql.raw(String(ACTIVITY_BITS))} AS cv, x.rowid AS ar,
      row_number() OVER (PARTITION BY f.rowid >> ${sql.raw(String(ACTIVITY_BITS))} ORDER BY x.occurred_at DESC, x.id DESC) AS n
    FROM activities_fts AS f JOIN activities AS x ON x.rowid = f.rowid & ${sql.raw(String(ACTIVITY_MASK))}
    WHERE f.activities_fts MATCH ${messages}
      AND f.rowid BETWEEN ((SELECT min(rid) FROM page) << ${sql.raw(String(ACTIVITY_BITS))}) AND (((SELECT max(rid) FROM page) << ${sql.raw(String(ACTIVITY_BITS))}) | ${sql.raw(String(ACTIVITY_MASK))})
      AND (f.rowid >> ${sql.raw(String(ACTIVITY_BITS))}) IN (SELECT DISTINCT rid FROM page)) WHERE n = 1) AS newest`;

/** The newest match's text as JSON (null when only the contact matches: no `newest` row). */
const newestHit = (orgId: unknown) => sql<string | null>`(
  SELECT json_object('id', a.id, 'body', a.body, 'subject', a.subject, 'transcript', a.call_transcript, 'summary', a.call_summary)
  FROM activities AS a WHERE a.org_id = ${orgId} AND a.rowid = newest.ar)`;

/**
 * A page of the conversation list (its WHERE: filterWhere) whose messages or contact
 * match the terms, each row with its newest matching message (`hit`) and its labels: one
 * statement, so one D1 round trip. Values (`at`): `org`, `messages` and `people`
 * (termValues), pageValues'.
 *
 * The MATCHes leave out the org's token: ANDing it reads the org's whole doclist (every
 * message it has: 10 ms a query at 1M messages, against 1 ms for the term alone), and
 * every plan reaches rows only through a join that checks the org (the list's WHERE, the
 * contact's org_id). So the counts are the shard's matches: under SPARSE_MATCHES each,
 * every match of the org is among them and the sparse plan is exact; else the dense one.
 * Each plan is an arm of a UNION ALL behind a gate, a one-row subquery whose WHERE is the
 * counts (scalar subqueries with no outer reference, 0.05 ms): a false gate yields no row,
 * so its arm's loop never starts (a WHERE on the arm itself did not stop it: the arm ran
 * to its end first). Only one arm yields rows.
 *
 * The arms are the CTE `page` (the ≤ limit + 1 rowids), read by the outer query (the
 * rows by rowid, then sorted) and by newestHits (the page's matches). drizzle writes no
 * MATERIALIZED, and SQLite flattens a CTE's use into a plain `IN (SELECT rid FROM page)`,
 * which ran the chosen plan once per use; each use is `SELECT DISTINCT` (not flattened:
 * a compound CTE under a DISTINCT), so the plan runs once and its rows are shared
 * (test/query-plans.test.ts checks that the list index is walked once).
 */
export function searchPage(db: Db, where: SQL, after: boolean, at: At) {
  const few = sql`${countMessages(at("messages"))} < ${SPARSE_MATCHES} AND ${countContacts(at("people"))} < ${SPARSE_MATCHES}`;
  const sparse = sparseSearch(db, where, after, at);
  const dense = denseSearch(db, where, after, at);
  const page = db
    .$with("page", { rid: sql<number>`rid` })
    .as(sql`SELECT rid FROM (SELECT 1 WHERE ${few}) CROSS JOIN ${sparse} UNION ALL SELECT rid FROM (SELECT 1 WHERE NOT (${few})) CROSS JOIN ${dense}`);
  return db
    .with(page)
    .select({ conversation: c, contact: contactColumns, hit: newestHit(at("org")), labels: labelsJson(at("org")) })
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .leftJoin(newestHits(at("messages")), sql`newest.cv = ${c}.rowid`)
    .where(sql`${c}.rowid IN (SELECT DISTINCT rid FROM page)`)
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(at<number>("limit"));
}

/** The values of searchPage's `terms`: the FTS5 expressions over messages and over contacts. */
export const termValues = (terms: Term[]) => ({ messages: textMatch(terms), people: contactText(terms) });

/**
 * GET /conversations?q=: a page of searchPage, its statement built once per shape of
 * filters and cursor (src/db/memo.ts). Building it was about a quarter of the samples in a
 * CPU profile of the Worker's isolate under this route at 100k conversations; memoized,
 * the server's CPU a request fell about 5 % (most of it is SQLite and D1's plumbing).
 */
export const searchConversations = (
  db: Db,
  orgId: string,
  userId: string,
  f: ConversationFilter,
  now: number,
  terms: Term[],
  after: [number, string] | null,
  limit: number,
) =>
  listStatement(db, "search", { orgId, userId, now }, f, { after, limit }, (where, cursor) => searchPage(db, where, cursor, placeholders), termValues(terms));

/** The thread's messages that match: listThread's WHERE plus this (its order and cursor). */
export const threadMatch = (orgId: string, conversationId: string, terms: Term[]) =>
  sql`${activities}.rowid IN (SELECT rowid & ${sql.raw(String(ACTIVITY_MASK))} FROM activities_fts WHERE activities_fts MATCH ${textMatch(terms)}
    AND rowid BETWEEN ((SELECT rowid FROM conversations WHERE id = ${conversationId} AND org_id = ${orgId}) << ${sql.raw(String(ACTIVITY_BITS))})
    AND (((SELECT rowid FROM conversations WHERE id = ${conversationId} AND org_id = ${orgId}) << ${sql.raw(String(ACTIVITY_BITS))}) | ${sql.raw(String(ACTIVITY_MASK))}))`;

/**
 * The org's contacts matching the terms (GET /contacts?q=; values `org`, `people`, `after`, `limit`), as a condition on contacts.rowid:
 * the ≤ limit + 1 rowids of the page, newest first by id (searchContacts reads those rows
 * and sorts them). Two plans behind gates, as searchPage's: under SPARSE_MATCHES contact
 * matches in the shard, the matches read by rowid (`CROSS JOIN` keeps the order: matches
 * first), filtered by org and cursor and sorted; at or over it, the org's contacts walked
 * in id order (contacts_org_id_idx, no sort), each kept when its rowid is in the set of
 * matches, until the page is full. On the 100k seed (workerd, wrangler d1 execute
 * --local, mean of 150) `nakamura`, 1,000 contacts of the org's 100,000, took 2.95 ms as
 * one plan (the matches, with the org's token, each contact read by rowid and all
 * sorted) and takes 0.43 ms walked; `okonk*` (5) and `415 200 004` (10) stay at
 * 0.05–0.09 ms. The MATCH leaves out the org's token, as
 * the conversation search's (ANDed, `nakamura` read the org's 100,000-entry doclist:
 * 0.6 ms against 0.05 ms): both plans check org_id on the row. As with the dense
 * conversation walk, a shard whose other orgs hold most of the matches makes the walk
 * long (cheap index entries, up to all of the org's contacts).
 */
export function contactPage(db: Db, after: boolean, at: At) {
  const k = contacts;
  const few = sql`${countContacts(at("people"))} < ${SPARSE_MATCHES}`;
  const rid = { rid: sql<number>`${k}.rowid`.as("rid") };
  const mine = and(eq(k.orgId, at("org")), after ? lt(k.id, at("after")) : undefined);
  const sparse = db
    .select(rid)
    .from(sql`(SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${at("people")}) AS hit`)
    .crossJoin(k)
    .where(and(sql`${k}.rowid = hit.r`, mine))
    .orderBy(desc(k.id))
    .limit(at<number>("limit"));
  // `+` keeps the set of matches (built once, probed per walked contact) from driving the walk.
  const dense = db
    .select(rid)
    .from(k)
    .where(and(mine, sql`+${k}.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ${at("people")})`))
    .orderBy(desc(k.id))
    .limit(at<number>("limit"));
  return sql`${k}.rowid IN (SELECT rid FROM (SELECT 1 WHERE ${few}) CROSS JOIN ${sparse} UNION ALL SELECT rid FROM (SELECT 1 WHERE NOT (${few})) CROSS JOIN ${dense})`;
}
