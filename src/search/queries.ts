import { and, desc, eq, lt, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type ConversationFilter, contactColumns, keysetAfter, listStatement } from "../conversations/queries";
import type { Db } from "../db/client";
import { type At, placeholders } from "../db/memo";
import { activities, contacts, conversations } from "../db/schema";
import { labelsJson } from "../labels/queries";
import { remember } from "../lib/remember";
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
 * Matches counted before a search picks its plan: under this many (messages and contacts
 * each) the matched conversations are read by rowid and sorted (a bounded set); at or
 * over it the list is walked in its own order (docs/decisions.md, Search).
 */
export const SPARSE_MATCHES = 500;

/**
 * The window plan's length: the list's first this many conversations (after the cursor)
 * are checked against the messages matched in their rowid range, and give the page when
 * they hold one.
 */
export const SEARCH_WINDOW = 500;

/**
 * The window tried next, alone, for a search whose window of SEARCH_WINDOW held fewer than a
 * page (remembered as `wider`). Twice the window: the bench's phrase (0.5 % of messages)
 * has 24 of a page's 26 rows in the first 500 of a fresh 100k seed, and a window of 1,000
 * answers it in 1.1–1.4 ms of SQLite against the dense walk's 3; 2,000 cost 4–6 ms there
 * (the list's first 2,000 conversations span the shard's rowids, so the range holds most
 * matches).
 */
export const WIDER_WINDOW = 2 * SEARCH_WINDOW;

const c = conversations;
const BITS = sql.raw(String(ACTIVITY_BITS));
const MASK = sql.raw(String(ACTIVITY_MASK));
const SPARSE = sql.raw(String(SPARSE_MATCHES));
const WINDOW = sql.raw(String(SEARCH_WINDOW));
/**
 * The rowid range of activities_fts holding the messages of the conversations whose
 * rowids run from `lo` to `hi` (one conversation: the same twice).
 */
const threadsRange = (lo: unknown, hi: unknown) => sql`BETWEEN (${lo} << ${BITS}) AND ((${hi} << ${BITS}) | ${MASK})`;

/** How many rows of an FTS5 table match, counted up to SPARSE_MATCHES (at most that many doclist entries read). */
const matchesUpTo = (fts: "activities_fts" | "contacts_fts", match: unknown) =>
  sql`(SELECT count(*) FROM (SELECT 1 FROM ${sql.raw(fts)} WHERE ${sql.raw(fts)} MATCH ${match} LIMIT ${SPARSE}))`;

/** Added to an occurred_at (ms, at least -8.64e15: Date's range) to make it positive in a text key. */
const TIME_SHIFT = sql.raw("10000000000000000");

/**
 * The ≤ limit + 1 rowids of a search page, each with its newest matching message's rowid
 * when the plan read it (`ar`) and the plan that gave it (`plan`; values: `org`,
 * `messages`, `people`, `limit`, and the list's `where` and cursor's), as one SELECT of
 * `rid, ar, plan`, three plans in it, each behind a LIMIT that is 0 unless it is the one (a LIMIT of 0 ends an arm
 * before its first row; a WHERE on an arm did not stop it, and a gate of joined CTEs cost
 * as much as running it). The CTEs are MATERIALIZED, so each runs once however often it
 * is read (drizzle writes no MATERIALIZED: this is the body of searchPage's `page`,
 * written as a subquery with a WITH of its own).
 *
 * - `counted`: the shard's matches, each side counted up to SPARSE_MATCHES (0.05 ms).
 *   The MATCHes leave out the org's token (ANDing it reads the org's whole doclist: every
 *   message it has), and every plan reaches rows only through a check of the org (the
 *   list's WHERE, the contact's org_id): so under SPARSE_MATCHES each, every match of the
 *   org is among them.
 * - few (both under): the matches read by rowid (message matches by their rowid's high
 *   bits, contact matches through the contact's conversation), filtered by the list's
 *   WHERE and sorted (`CROSS JOIN`: from the matches to their rows, never the other way).
 * - wide (many message matches, few contact ones): the window. The list's first
 *   SEARCH_WINDOW conversations (its index, no row read besides what its filters read),
 *   then the messages matched in their rowid range (a match's rowid is its conversation's
 *   rowid << 32 | its own; `hm`, read once), each kept when its conversation is in the
 *   window, and the contacts matched; each row's newest match is found in its thread
 *   (windowNewest). It answers when it found limit + 1 or held the whole rest of the
 *   list. On the 100k seed (node:sqlite, prepared and run as local D1 does) `invoice`,
 *   10,000 messages, took 3.7 ms a statement and takes 2.3 ms; a word in every message,
 *   89 ms and 3.2 ms: the dense walk's set holds every matched conversation, the window
 *   what is in its range.
 * - otherwise (many contact matches, or a window short of a page): the dense walk, the
 *   list in its order, each conversation kept when it is in the set of matched
 *   conversations or its contact matches, until the page is full: no sort, no row read
 *   per match, but the set is built from every match (about 1 ms for 10,000).
 */
function searchPlans(where: SQL, at: At) {
  const messages = at("messages");
  const people = at("people");
  const limit = at<number>("limit");
  const order = sql`ORDER BY ${c.sortAt} DESC, ${c.id} DESC`;
  // Each matched conversation with its newest matching message (`ar`, by occurred_at then
  // id: SQLite's max() gives its row's bare columns), read while the matches are at hand.
  // The key is text: occurred_at shifted to be positive (an import may date before 1970),
  // 20 digits, then the id.
  const sparse = sql`SELECT ${c}.rowid AS rid, hits.ar AS ar, 'few' AS plan FROM (
      SELECT crid, ar, max(newest) FROM (
        SELECT f.rowid >> ${BITS} AS crid, x.rowid AS ar, printf('%020d:%s', x.occurred_at + ${TIME_SHIFT}, x.id) AS newest
          FROM (SELECT rowid FROM activities_fts WHERE activities_fts MATCH ${messages} LIMIT ${SPARSE}) AS f
          CROSS JOIN activities AS x ON x.rowid = f.rowid & ${MASK}
        UNION ALL SELECT cv.rowid, 0, '' FROM (SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${people} LIMIT ${SPARSE}) AS hit
          CROSS JOIN contacts AS k CROSS JOIN conversations AS cv
          WHERE k.rowid = hit.r AND k.org_id = ${at("org")} AND cv.org_id = k.org_id AND cv.contact_id = k.id)
      GROUP BY crid) AS hits
    CROSS JOIN ${c} WHERE ${c}.rowid = hits.crid AND ${where} ${order}
    LIMIT (SELECT CASE WHEN few THEN ${limit} ELSE 0 END FROM counted)`;
  // `+` keeps the sets (built once, probed per walked row) from driving the walk.
  // `plan`: walk, or short when the window ran and held less than a page (searchAll).
  const dense = (
    rows: SQL,
    plan: SQL = sql`'walk'`,
  ) => sql`SELECT ${c}.rowid AS rid, NULL AS ar, ${plan} AS plan FROM ${c} JOIN ${contacts} ON ${contacts.id} = ${c.contactId}
    WHERE ${where} AND (+${c}.rowid IN (SELECT rowid >> ${BITS} FROM activities_fts WHERE activities_fts MATCH ${messages})
      OR +${contacts}.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ${people}))
    ${order} LIMIT ${rows}`;
  // The window's CTEs, `rows` its length (0 when the plan is another).
  const window = (rows: SQL) => sql`win AS MATERIALIZED (SELECT ${c}.rowid AS rid, ${c.sortAt} AS s, ${c.id} AS id FROM ${c} WHERE ${where} ${order}
      LIMIT ${rows}),
    hm AS MATERIALIZED (SELECT rowid AS fr FROM activities_fts WHERE activities_fts MATCH ${messages}
      AND rowid ${threadsRange(sql`(SELECT min(rid) FROM win)`, sql`(SELECT max(rid) FROM win)`)}),
    hitw AS MATERIALIZED (SELECT rid, s, id, bym FROM (SELECT rid, s, id, rid IN (SELECT fr >> ${BITS} FROM hm) AS bym FROM win)
      WHERE bym OR rid IN (SELECT cv.rowid FROM (SELECT rowid AS r FROM contacts_fts WHERE contacts_fts MATCH ${people}) AS hit
          CROSS JOIN contacts AS k CROSS JOIN conversations AS cv WHERE k.rowid = hit.r AND k.org_id = ${at("org")} AND cv.org_id = k.org_id AND cv.contact_id = k.id)
      ORDER BY s DESC, id DESC LIMIT ${limit})`;
  const counted = sql`counted AS MATERIALIZED (SELECT m < ${SPARSE} AND p < ${SPARSE} AS few, m >= ${SPARSE} AND p < ${SPARSE} AS wide FROM (SELECT
      ${matchesUpTo("activities_fts", messages)} AS m, ${matchesUpTo("contacts_fts", people)} AS p))`;
  const ctes = sql`${counted},
    ${window(sql`(SELECT CASE WHEN wide THEN ${WINDOW} ELSE 0 END FROM counted)`)},
    walk AS MATERIALIZED (SELECT NOT few AND (NOT wide OR ((SELECT count(*) FROM hitw) < ${limit} AND (SELECT count(*) FROM win) >= ${WINDOW})) AS needed FROM counted)`;
  return { ctes, counted, sparse, dense, window, limit };
}

/**
 * A window row's newest matching message (its rowid; 0 when only its contact matched,
 * `bym` false, its thread not read): its thread read newest first
 * (activities_thread_idx, by occurred_at then id), each message looked up in the window's
 * matches (`hm`, a set built once), the first found. Cheaper than an FTS5 cursor per row
 * (newestHit's): on the 100k seed `invoice`'s statement went from 1.7 to 0.8 ms in
 * node:sqlite. It reads the thread down to its newest match (a thread whose only match is
 * old is read whole).
 */
const windowNewest = sql`CASE WHEN hitw.bym THEN coalesce((SELECT a.rowid FROM activities AS a WHERE a.conversation_id = hitw.id
    AND ((hitw.rid << ${BITS}) | a.rowid) IN (SELECT fr FROM hm) ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1), 0) ELSE 0 END`;

/**
 * The page's rows of the three plans (searchPlans), each with the plan that gave it
 * (`plan`: few, window, walk; remembered for the term by searchConversations).
 */
function pageRowids(where: SQL, at: At) {
  const { ctes, sparse, dense, limit } = searchPlans(where, at);
  return sql`SELECT rid, ar, plan FROM (WITH ${ctes}
    SELECT rid, ar, plan FROM (${sparse})
    UNION ALL SELECT rid, ${windowNewest}, 'window' FROM hitw WHERE NOT (SELECT needed FROM walk)
    UNION ALL SELECT rid, ar, plan FROM (${dense(
      sql`(SELECT CASE WHEN needed THEN ${limit} ELSE 0 END FROM walk)`,
      sql`(SELECT CASE WHEN wide THEN 'short' ELSE 'walk' END FROM counted)`,
    )}))`;
}

/**
 * The window alone, for a term whose last search took it: no count, no other plan. It
 * answered when it gave limit + 1 rows, or held the whole rest of the list (`window-all`:
 * fewer than SEARCH_WINDOW rows after the cursor); else its rows are not the page.
 */
function windowRowids(where: SQL, at: At) {
  const { window } = searchPlans(where, at);
  const rows = at<number>("window");
  return sql`SELECT rid, ar, plan FROM (WITH ${window(sql`${rows}`)}
    SELECT rid, ${windowNewest} AS ar, CASE WHEN (SELECT count(*) FROM win) < ${rows} THEN 'window-all' ELSE 'window' END AS plan FROM hitw)`;
}

/** The few-matches plan alone, for a term whose last search took it: no row when the counts are no longer few. */
function fewRowids(where: SQL, at: At) {
  const { counted, sparse } = searchPlans(where, at);
  return sql`SELECT rid, ar, plan FROM (WITH ${counted} ${sparse})`;
}

/** The dense walk alone, for a term whose last search took it: correct whatever the counts. */
function walkRowids(where: SQL, at: At) {
  return searchPlans(where, at).dense(sql`${at<number>("limit")}`);
}

/** What a search page is of: the org's list for the member, its filters, the terms, the cursor and the page's size. */
type SearchArgs = [db: Db, orgId: string, userId: string, f: ConversationFilter, now: number, terms: Term[], after: [number, string] | null, limit: number];

/**
 * A search statement over the list of `f` (listStatement: built once per shape of filters
 * and cursor, src/db/memo.ts), `build` given the list's WHERE with the cursor's keyset in
 * it; values: the filter's, the page's and the terms' (termValues), and `more` (the window's length).
 */
const searchStatement =
  <Q extends BatchItem<"sqlite">>(name: string, build: (db: Db, where: SQL) => Q) =>
  (...[db, orgId, userId, f, now, terms, after, limit, more = {}]: [...SearchArgs, more?: object]) =>
    listStatement(
      db,
      name,
      { orgId, userId, now },
      f,
      { after, limit },
      (where, cursor) => build(db, cursor ? and(where, keysetAfter(placeholders))! : where),
      { ...termValues(terms), ...more },
    );

/** Which of pageRowids' plans a search page takes (tests; the same CTEs): few (the matches by rowid), wide and not needed (the window), else the dense walk. */
export const searchPlanOf = searchStatement("search-plan", (db, where) =>
  db
    .select({ few: sql<number>`few`, wide: sql<number>`wide`, needed: sql<number>`needed` })
    .from(sql`(WITH ${searchPlans(where, placeholders).ctes} SELECT few, wide, (SELECT needed FROM walk) AS needed FROM counted) AS plan`),
);

export type MessageHit = {
  id: string;
  body: string | null;
  subject: string | null;
  transcript: string | null;
  summary: string | null;
};

/**
 * The page row's newest matching message (by occurred_at, id) as JSON, null when only its
 * contact matched. The few-matches plan found it with its matches and the window in its
 * thread (`page.ar`; 0, no row, when only the contact matched); for the dense walk it is
 * read here: the messages matched in the conversation's rowid range (one
 * FTS5 cursor a row of the page), by rowid, newest first. One cursor over the page's
 * whole range, shared by its rows, was cheaper when the page's rowids were close (0.07
 * against 0.4 ms) but cost 1.2 ms when they were spread over the shard, and its three
 * more reads of the page cost 0.4–1.4 ms to prepare, which local D1 does each request.
 * `found`: every row's plan gave `page.ar` (the window's and the few-matches statements
 * alone), so the statement leaves out the lookup it would never run.
 */
const newestHit = (at: At, found: boolean) => {
  const lookup = sql`(SELECT x.rowid FROM (SELECT rowid & ${MASK} AS r FROM activities_fts WHERE activities_fts MATCH ${at("messages")}
          AND rowid ${threadsRange(sql`${c}.rowid`, sql`${c}.rowid`)}) AS hit
        CROSS JOIN activities AS x ON x.rowid = hit.r
      ORDER BY x.occurred_at DESC, x.id DESC LIMIT 1)`;
  return sql<string | null>`(
  SELECT json_object('id', a.id, 'body', a.body, 'subject', a.subject, 'transcript', a.call_transcript, 'summary', a.call_summary)
  FROM activities AS a
  WHERE a.rowid = ${found ? sql`page.ar` : sql`coalesce(page.ar, ${lookup})`} AND a.org_id = ${at("org")})`;
};

/**
 * A page of the conversation list (its WHERE: filterWhere, and the cursor's keyset) whose messages or contact
 * match the terms, each row with its newest matching message (`hit`) and its labels: one
 * statement, so one D1 round trip. Values (`at`): `org`, `messages` and `people`
 * (termValues), pageValues'. `page` (pageRowids: each row's rowid, and its newest match
 * when its plan found it) is read once.
 */
export function searchPage(db: Db, where: SQL, at: At, rowids: (where: SQL, at: At) => SQL = pageRowids, found = false) {
  const page = db.$with("page", { rid: sql<number>`rid`, ar: sql<number | null>`ar`, plan: sql<Plan>`plan` }).as(rowids(where, at));
  // CROSS JOIN: from the page's ≤ limit + 1 rowids to their rows.
  return db
    .with(page)
    .select({ conversation: c, contact: contactColumns, hit: newestHit(at, found), labels: labelsJson(at("org")), plan: sql<Plan>`page.plan` })
    .from(page)
    .crossJoin(c)
    .innerJoin(contacts, eq(contacts.id, c.contactId))
    .where(sql`${c}.rowid = page.rid`)
    .orderBy(desc(c.sortAt), desc(c.id))
    .limit(at<number>("limit"));
}

/** The values of searchPage's `terms`: the FTS5 expressions over messages and over contacts. */
export const termValues = (terms: Term[]) => ({ messages: textMatch(terms), people: contactText(terms) });

/** The plan that gave a search page's rows (pageRowids, windowRowids, walkRowids): short is the walk after a window that held less than a page. */
export type Plan = "few" | "window" | "window-all" | "walk" | "short";

/** What a search remembers: its plan, or `wider` (the window of WIDER_WINDOW, after a short one). */
type Remembered = "few" | "window" | "wider" | "walk";

/**
 * A page of searchPage with its three plans, the counts picking one: each statement is
 * built once per shape of filters and cursor (src/db/memo.ts). Building it was about a
 * quarter of the samples in a CPU profile of the Worker's isolate under this route at 100k
 * conversations; memoized, the server's CPU a request fell about 5 %.
 */
export const searchAll = searchStatement("search", (db, where) => searchPage(db, where, placeholders));
/** searchPage with the window alone (windowRowids; value `window`: its length). */
export const searchWindow = searchStatement("search-window", (db, where) => searchPage(db, where, placeholders, windowRowids, true));
/** searchPage with the few-matches plan alone (fewRowids). */
export const searchFew = searchStatement("search-few", (db, where) => searchPage(db, where, placeholders, fewRowids, true));
/** searchPage with the dense walk alone (walkRowids). */
export const searchWalk = searchStatement("search-walk", (db, where) => searchPage(db, where, placeholders, walkRowids));

/** How long a term's plan is remembered after the statement with all three plans picked it. */
export const PLAN_MEMORY_MS = 60_000;
/** Terms remembered per isolate (the oldest forgotten first). */
export const PLAN_MEMORY_ENTRIES = 500;

/**
 * The plan the counts picked for a search (its org, member, filters, terms, limit and
 * whether it had a cursor) the last time searchAll ran it, per isolate, for
 * PLAN_MEMORY_MS. Only speed depends on it, never a result: the walk is right whatever
 * the counts, the few-matches statement counts again and gives no row when they are no
 * longer few, and the window's rows are used only when it answered; else searchAll runs.
 * Exported for tests.
 */
export const rememberedPlans = new Map<string, { plan: Remembered; until: number }>();

function rememberPlan(key: string, picked: Plan | undefined) {
  const plan = picked === "short" ? "wider" : picked;
  // No row: nothing learned (searchAll ran every plan's gate and found nothing).
  if (plan === undefined || plan === "window-all") rememberedPlans.delete(key);
  else remember(rememberedPlans, key, { plan, until: Date.now() + PLAN_MEMORY_MS }, PLAN_MEMORY_ENTRIES);
}

/**
 * GET /conversations?q=: the ≤ limit + 1 rows of a search page (searchPage's). A search
 * whose plan is remembered runs that plan's statement alone: a third of searchAll's to
 * prepare (local D1 prepares every statement it is sent), without the other plans' arms
 * and gates. A window that did not answer (fewer than limit + 1 rows, and more of the
 * list below it) or a few-matches statement with no row costs a second statement,
 * searchAll, which also sets the plan again. A search whose window was short (searchAll
 * walked after it) tries the window of WIDER_WINDOW alone next; when that is short too,
 * the walk gives the page and is remembered.
 */
export async function searchConversations(...args: SearchArgs) {
  const [, orgId, userId, f, , terms, after, limit] = args;
  // What decides whether the window answers: the list (org, filters, the member only for
  // scope=mine, the one filter that reads it), the terms (case aside: the index folds
  // it), the page's size, a first page or not.
  const words = terms.map((t) => `${t.tokens.join(" ").toLowerCase()}${t.prefix ? "*" : ""}`);
  const key = JSON.stringify([orgId, f.scope === "mine" ? userId : null, f, words, limit, after !== null]);
  const known = rememberedPlans.get(key);
  if (known && known.until > Date.now()) {
    if (known.plan === "walk") return await searchWalk(...args).all();
    if (known.plan === "few") {
      // Its counts checked again in the statement: no row when they are no longer few (or nothing matched).
      const rows = await searchFew(...args).all();
      if (rows.length) return rows;
    } else {
      const rows = await searchWindow(...args, { window: known.plan === "wider" ? WIDER_WINDOW : SEARCH_WINDOW }).all();
      if (rows.length > limit || rows[0]?.plan === "window-all") return rows;
      if (known.plan === "wider") {
        // Both windows short: the walk, which is right whatever the counts, from now on.
        const walked = await searchWalk(...args).all();
        rememberPlan(key, "walk");
        return walked;
      }
    }
  }
  const rows = await searchAll(...args).all();
  rememberPlan(key, rows[0]?.plan);
  return rows;
}

/** The thread's messages that match: listThread's WHERE plus this (its order and cursor). */
export function threadMatch(orgId: string, conversationId: string, terms: Term[]) {
  const thread = sql`(SELECT rowid FROM conversations WHERE id = ${conversationId} AND org_id = ${orgId})`;
  return sql`${activities}.rowid IN (SELECT rowid & ${MASK} FROM activities_fts WHERE activities_fts MATCH ${textMatch(terms)} AND rowid ${threadsRange(thread, thread)})`;
}

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
  const few = sql`${matchesUpTo("contacts_fts", at("people"))} < ${SPARSE}`;
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
