import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import { type ConversationWithContact, contactColumns } from "../conversations/queries";
import { type Db, oneRow } from "../db/client";
import { activities, contacts, conversations } from "../db/schema";
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

/** How many of the org's messages and contacts match, counted up to SPARSE_MATCHES each. */
export const matchCounts = (db: Db, messages: string, people: string) =>
  db
    .select({
      messages: sql<number>`(SELECT count(*) FROM (SELECT 1 FROM activities_fts WHERE activities_fts MATCH ${messages} LIMIT ${SPARSE_MATCHES}))`,
      contacts: sql<number>`(SELECT count(*) FROM (SELECT 1 FROM contacts_fts WHERE contacts_fts MATCH ${people} LIMIT ${SPARSE_MATCHES}))`,
    })
    .from(oneRow());

const keysetOf = (after: [number, string] | null) => (after ? or(lt(c.sortAt, after[0]), and(eq(c.sortAt, after[0]), lt(c.id, after[1]))) : undefined);

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
    .select({ conversation: c, contact: contactColumns })
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
    .select({ conversation: c, contact: contactColumns })
    .from(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(and(where, keysetOf(after), or(inThread, byContact)))
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(limit + 1);
}

/** A page of the conversation list (its WHERE: conversationWhere) whose messages or contact match `terms`. */
export async function searchConversations(
  db: Db,
  orgId: string,
  where: SQL,
  terms: Term[],
  after: [number, string] | null,
  limit: number,
): Promise<ConversationWithContact[]> {
  // The MATCHes leave out the org's token: ANDing it reads the org's whole doclist (every
  // message it has: 10 ms a query at 1M messages, against 1 ms for the term alone), and
  // every plan reaches rows only through a join that checks the org (the list's WHERE, the
  // contact's org_id). So the counts are the shard's matches: under SPARSE_MATCHES each,
  // every match of the org is among them and the sparse plan is exact; else the dense one.
  const messages = textMatch(terms);
  const people = contactText(terms);
  // The counts first, then one plan (running the sparse plan alongside was wasted work
  // whenever the dense one followed).
  const [counts] = await matchCounts(db, messages, people);
  if (counts.messages < SPARSE_MATCHES && counts.contacts < SPARSE_MATCHES) return sparseSearch(db, orgId, where, messages, people, after, limit);
  return denseSearch(db, where, messages, people, after, limit);
}

export type MessageHit = {
  conversation_id: string;
  id: string;
  body: string | null;
  subject: string | null;
  transcript: string | null;
  summary: string | null;
};

/**
 * The newest matching message (by occurred_at) of each of these conversations of the org,
 * with its text. The MATCH leaves out the org's token: the rowid range already names one
 * conversation of the org (checked by the join), and ANDing every lookup with the org's
 * doclist (all its messages) made the page's 25 lookups about 4× slower.
 */
export const newestMatchesQuery = (orgId: string, terms: Term[], conversationIds: string[]) => sql`
  SELECT cv.id AS conversation_id, a.id, a.body, a.subject, a.call_transcript AS transcript, a.call_summary AS summary
  FROM json_each(${JSON.stringify(conversationIds)}) AS page CROSS JOIN conversations AS cv CROSS JOIN activities AS a ON cv.id = page.value AND a.rowid = (
    SELECT x.rowid FROM activities_fts AS f JOIN activities AS x ON x.rowid = f.rowid & ${sql.raw(String(ACTIVITY_MASK))}
    WHERE f.activities_fts MATCH ${textMatch(terms)}
      AND f.rowid BETWEEN (cv.rowid << ${sql.raw(String(ACTIVITY_BITS))}) AND ((cv.rowid << ${sql.raw(String(ACTIVITY_BITS))}) | ${sql.raw(String(ACTIVITY_MASK))})
    ORDER BY x.occurred_at DESC, x.id DESC LIMIT 1)
  WHERE cv.org_id = ${orgId} AND a.org_id = ${orgId}`;

export async function newestMatches(db: Db, orgId: string, terms: Term[], conversationIds: string[]): Promise<Map<string, MessageHit>> {
  if (!conversationIds.length) return new Map();
  const rows = await db.all<MessageHit>(newestMatchesQuery(orgId, terms, conversationIds));
  return new Map(rows.map((r) => [r.conversation_id, r]));
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
