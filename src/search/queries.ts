import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import { contactColumns } from "../conversations/queries";
import { type Db, oneRow } from "../db/client";
import { activities, contacts, conversations } from "../db/schema";
import { labelsJson } from "../labels/queries";
import { contactMatch, contactText, type Term, textMatch } from "./query";

// Search reads (SPEC 16) over the FTS5 indexes of migrations/shard/0008_search.sql.
// activities_fts's rowid is (conversation rowid << 32) | activity rowid: a match names
// its conversation with a shift, and a thread's matches are one rowid range, so no
// query here reads `activities` to find out where a match belongs. Every MATCH carries
// the org's token, and every row comes back through a join that checks org_id too.

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
const countMessages = (messages: string) =>
  sql<number>`(SELECT count(*) FROM (SELECT 1 FROM activities_fts WHERE activities_fts MATCH ${messages} LIMIT ${SPARSE_MATCHES}))`;
const countContacts = (people: string) =>
  sql<number>`(SELECT count(*) FROM (SELECT 1 FROM contacts_fts WHERE contacts_fts MATCH ${people} LIMIT ${SPARSE_MATCHES}))`;

/** How many of the org's messages and contacts match, counted up to SPARSE_MATCHES each. */
export const matchCounts = (db: Db, messages: string, people: string) =>
  db.select({ messages: countMessages(messages), contacts: countContacts(people) }).from(oneRow());

const keysetOf = (after: [number, string] | null) => (after ? or(lt(c.sortAt, after[0]), and(eq(c.sortAt, after[0]), lt(c.id, after[1]))) : undefined);

/** What each plan yields: the rowids of the page's conversations, in list order (searchPage reads the rows). */
const pageRowid = { rid: sql<number>`${c}.rowid`.as("rid") };

/**
 * Few matches: the conversations that hold them (message matches by their rowid's high
 * bits, contact matches through the contact's conversation), at most SPARSE_MATCHES of
 * each, read by rowid, filtered by the list's WHERE and sorted in list order.
 */
export function sparseSearch(db: Db, orgId: string, where: SQL, messages: string, people: string, after: [number, string] | null, limit: number) {
  // CROSS JOIN fixes the join order: from the matches to their rows, never the other way.
  const hits = sql`(SELECT rowid >> ${sql.raw(String(ACTIVITY_BITS))} AS crid FROM (SELECT rowid FROM activities_fts WHERE activities_fts MATCH ${messages} LIMIT ${SPARSE_MATCHES})
    UNION SELECT cv.rowid FROM (SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${people} LIMIT ${SPARSE_MATCHES}) AS hit
    CROSS JOIN contacts AS k CROSS JOIN conversations AS cv
    WHERE k.rowid = hit.r AND k.org_id = ${orgId} AND cv.org_id = k.org_id AND cv.contact_id = k.id) AS hits`;
  return db
    .select(pageRowid)
    .from(hits)
    .crossJoin(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(sql`${c}.rowid = hits.crid`, where, keysetOf(after)))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(limit + 1);
}

/**
 * Many matches: the list walked in its own order (the index of its filters), each
 * conversation kept when it is in the set of matched conversations or its contact
 * matches, until the page is full: no sort, and no row read per match.
 */
export function denseSearch(db: Db, where: SQL, messages: string, people: string, after: [number, string] | null, limit: number) {
  // Built once per query (an ephemeral index of conversation rowids, with a Bloom filter),
  // then probed per walked row; `+` keeps it from driving the walk.
  const inThread = sql`+${c}.rowid IN (SELECT rowid >> ${sql.raw(String(ACTIVITY_BITS))} FROM activities_fts WHERE activities_fts MATCH ${messages})`;
  const byContact = sql`+${contacts}.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ${people})`;
  return db
    .select(pageRowid)
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(where, keysetOf(after), or(inThread, byContact)))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(limit + 1);
}

export type MessageHit = {
  id: string;
  body: string | null;
  subject: string | null;
  transcript: string | null;
  summary: string | null;
};

/**
 * The newest matching message (by occurred_at) of the row's conversation, with its text,
 * as JSON (null when only the contact matches): a correlated subquery of the page's select
 * list, so it runs for the page's rows only. The MATCH leaves out the org's token: the
 * rowid range already names the conversation (of the org: the plans' joins checked it),
 * and ANDing every lookup with the org's doclist (all its messages) made it about 4× slower.
 */
const newestHit = (orgId: string, messages: string) => sql<string | null>`(
  SELECT json_object('id', a.id, 'body', a.body, 'subject', a.subject, 'transcript', a.call_transcript, 'summary', a.call_summary)
  FROM activities AS a WHERE a.org_id = ${orgId} AND a.rowid = (
    SELECT x.rowid FROM activities_fts AS f JOIN activities AS x ON x.rowid = f.rowid & ${sql.raw(String(ACTIVITY_MASK))}
    WHERE f.activities_fts MATCH ${messages}
      AND f.rowid BETWEEN (${c}.rowid << ${sql.raw(String(ACTIVITY_BITS))}) AND ((${c}.rowid << ${sql.raw(String(ACTIVITY_BITS))}) | ${sql.raw(String(ACTIVITY_MASK))})
    ORDER BY x.occurred_at DESC, x.id DESC LIMIT 1))`;

/**
 * A page of the conversation list (its WHERE: conversationWhere) whose messages or contact
 * match `terms`, each row with its newest matching message (`hit`) and its labels: one
 * statement, so one D1 round trip.
 *
 * The MATCHes leave out the org's token: ANDing it reads the org's whole doclist (every
 * message it has: 10 ms a query at 1M messages, against 1 ms for the term alone), and
 * every plan reaches rows only through a join that checks the org (the list's WHERE, the
 * contact's org_id). So the counts are the shard's matches: under SPARSE_MATCHES each,
 * every match of the org is among them and the sparse plan is exact; else the dense one.
 * Each plan is an arm of a UNION ALL behind a gate, a one-row subquery whose WHERE is the
 * counts (scalar subqueries with no outer reference, 0.05 ms): a false gate yields no row,
 * so its arm's loop never starts (a WHERE on the arm itself did not stop it: the arm ran
 * to its end first). Only one arm yields rows; the outer query reads the ≤ limit + 1
 * rowids and sorts them.
 */
export function searchPage(db: Db, orgId: string, where: SQL, terms: Term[], after: [number, string] | null, limit: number) {
  const messages = textMatch(terms);
  const people = contactText(terms);
  const few = sql`${countMessages(messages)} < ${SPARSE_MATCHES} AND ${countContacts(people)} < ${SPARSE_MATCHES}`;
  const sparse = sparseSearch(db, orgId, where, messages, people, after, limit);
  const dense = denseSearch(db, where, messages, people, after, limit);
  return db
    .select({ conversation: c, contact: contactColumns, hit: newestHit(orgId, messages), labels: labelsJson(orgId) })
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(
      sql`${c}.rowid IN (SELECT rid FROM (SELECT 1 WHERE ${few}) CROSS JOIN ${sparse} UNION ALL SELECT rid FROM (SELECT 1 WHERE NOT (${few})) CROSS JOIN ${dense})`,
    )
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(limit + 1);
}

/** The thread's messages that match: listThread's WHERE plus this (its order and cursor). */
export const threadMatch = (orgId: string, conversationId: string, terms: Term[]) =>
  sql`${activities}.rowid IN (SELECT rowid & ${sql.raw(String(ACTIVITY_MASK))} FROM activities_fts WHERE activities_fts MATCH ${textMatch(terms)}
    AND rowid BETWEEN ((SELECT rowid FROM conversations WHERE id = ${conversationId} AND org_id = ${orgId}) << ${sql.raw(String(ACTIVITY_BITS))})
    AND (((SELECT rowid FROM conversations WHERE id = ${conversationId} AND org_id = ${orgId}) << ${sql.raw(String(ACTIVITY_BITS))}) | ${sql.raw(String(ACTIVITY_MASK))}))`;

/**
 * The org's contacts matching `terms`: `from` the index's matches, CROSS JOIN contacts
 * `on` the rowid (the join order stays: matches first, then each contact by rowid; GET
 * /contacts sorts them by id). The cost is the matches', never a walk of the org's contacts.
 */
export const contactHits = (orgId: string, terms: Term[]) => ({
  from: sql`(SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${contactMatch(orgId, terms)}) AS hit`,
  on: sql`${contacts}.rowid = hit.r`,
});
