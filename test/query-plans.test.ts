import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { changedMessages } from "../src/activities/queries";
import { searchContacts } from "../src/contacts/queries";
import { EXPORT_CONVERSATION_PAGE, EXPORT_MESSAGE_PAGE, exportConversationsQuery, exportMessagesQuery, exportThreadQuery } from "../src/conversations/export";
import { type ConversationFilter, conversationPage, listThread } from "../src/conversations/queries";
import { wrap } from "../src/db/client";
import { queryOf } from "../src/db/memo";
import { labelsOfQuery } from "../src/labels/queries";
import { dueScheduledQuery, nextScheduledQuery } from "../src/org-inbox/scheduled";
import { dueQuery, nextWakeQuery } from "../src/org-inbox/snooze";
import { pruneDeliveriesQuery, pruneEventsQuery } from "../src/outbox/retention";
import { SEARCH_WINDOW, searchAll, searchFew, searchWalk, searchWindow, threadMatch } from "../src/search/queries";
import { parseQuery } from "../src/search/query";
import { lostSendsQuery, stuckSendsQuery } from "../src/sending/sweep";
import { overdueCountQuery } from "../src/sla/queries";
import { countPlan, labelTallyRows } from "../src/views/counts";
import { SYSTEM_VIEWS, type ViewFilters } from "../src/views/system-views";

// Lists must cost what the page costs, not what the org holds (SPEC 7): every
// plan walks an index in list order, never the table and never a sort of all matches.
// They run on a shard (the control database has the same tables, empty, on a new deployment).
const shard = env.SHARD_0;
const db = () => wrap(shard);
/** EXPLAIN QUERY PLAN's rows with their tree (id, parent): a sort belongs to the select of its siblings. */
async function planRows(query: object) {
  const { sql, params } = queryOf(query);
  const { results } = await shard
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ id: number; parent: number; detail: string }>();
  return results;
}

async function plan(query: object) {
  // A builder, or a statement built once (src/db/memo.ts: its SQL and its bound params).
  const { sql, params } = queryOf(query);
  const { results } = await shard
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

const ORG = "01936c00-0000-7000-8000-000000000001";
const USER = "01936c00-0000-7000-8000-0000000000a1";
const CURSOR: [number, string] = [Date.now(), "01936c00-0000-7000-8000-0000000000ff"];

const filters: [string, ConversationFilter][] = [
  ["default (archived=false)", { archived: false }],
  ["archived=true", { archived: true }],
  ["scope=mine", { archived: false, scope: "mine" }],
  ["assigned_to", { archived: false, assigned_to: USER }],
  ["assigned_to=unassigned", { archived: false, assigned_to: "unassigned" }],
  ["starred", { archived: false, starred: true }],
  ["unread", { archived: false, unread: true }],
  ["overdue", { archived: false, overdue: true }],
  ["recents (active_within_days)", { archived: false, active_within_days: 30 }],
  ["all, archived or not", {}],
  ["snoozed", { snoozed: true }],
  ["snoozed and archived", { archived: true, snoozed: true }],
  ["not snoozed", { archived: true, snoozed: false }],
];

describe("EXPLAIN QUERY PLAN", () => {
  it.each(filters)("GET /conversations %s walks an index, no table scan, no sort", async (_name, f) => {
    for (const cursor of [null, CURSOR]) {
      const steps = await plan(conversationPage(db(), ORG, USER, f, Date.now(), cursor, 25));
      const onConversations = steps.filter((s) => /\b(conversations)\b/.test(s));
      expect(onConversations.length, steps.join("\n")).toBeGreaterThan(0);
      for (const s of onConversations) expect(s, steps.join("\n")).toMatch(/USING (COVERING )?INDEX conversations_/);
      expect(steps.join("\n")).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
      expect(steps.join("\n")).toMatch(
        /SEARCH contacts USING INDEX sqlite_autoindex_contacts_1|SEARCH contacts USING INTEGER PRIMARY KEY|SEARCH contacts USING/,
      );
    }
  });

  const viewFilters: [string, ViewFilters][] = [
    ...SYSTEM_VIEWS.map((v): [string, ViewFilters] => [`system view ${v.key}`, v.filters]),
    ...filters.map(([name, f]): [string, ViewFilters] => [name, f as ViewFilters]),
    ["window with a star filter", { archived: false, starred: true, active_within_days: 7 }],
    ["window and unread", { unread: true, active_within_days: 3 }],
    ["snoozed and unread", { snoozed: true, unread: true }],
    ["not snoozed, archived", { archived: true, snoozed: false }],
    ["not snoozed, starred window", { starred: true, snoozed: false, active_within_days: 7 }],
  ];
  it.each(viewFilters)("the view badge counts for %s read tallies or an index range", async (_name, f) => {
    const p = countPlan(db(), ORG, USER, f, Date.now());
    for (const q of [...p.total, ...p.unread] as unknown as Parameters<typeof plan>[0][]) {
      const steps = await plan(q);
      for (const s of steps.filter((x) => x.includes("activity_day_tallies"))) expect(s).toMatch(/\(org_id=\? AND day>\?\)/);
      for (const s of steps)
        expect(s, steps.join("\n")).toMatch(
          /^SEARCH (conversation_tallies|activity_day_tallies) USING INDEX sqlite_autoindex_\w+_1 \(org_id=\?|USING (COVERING )?INDEX conversations_/,
        );
    }
  });

  const L1 = "01936c00-0000-7000-8000-0000000000b1";
  const L2 = "01936c00-0000-7000-8000-0000000000b2";
  it.each([
    ["one label", { label_ids: [L1] }],
    ["one label, open", { label_ids: [L1], archived: false }],
    ["one label, archived and unread", { label_ids: [L1], archived: true, unread: true }],
    ["one label twice, read, team", { label_ids: [L1, L1], unread: false, scope: "team" }],
  ] as [string, ViewFilters][])("a label view's counts (%s) come from the label tallies' rows alone", async (_name, f) => {
    const p = countPlan(db(), ORG, USER, f, Date.now());
    expect(p.total).toEqual([]);
    expect(p.unread).toEqual([]);
    expect(p.tally).toEqual({ labelId: L1, archived: f.archived, unread: f.unread });
  });

  it("the label tallies' rows of every tallied label are one primary-key lookup a label", async () => {
    for (const ids of [[L1], [L1, L2]]) {
      const steps = await plan(labelTallyRows(db(), ORG, ids));
      expect(steps, steps.join("\n")).toEqual([
        expect.stringMatching(/^SEARCH label_tallies USING INDEX sqlite_autoindex_label_tallies_1 \(org_id=\? AND label_id=\?\)$/),
      ]);
    }
  });

  it.each([
    ["one label, starred", { label_ids: [L1], starred: true }],
    ["two labels, open", { label_ids: [L1, L2], archived: false }],
    ["a label, unread, assigned", { label_ids: [L1], unread: true, assigned_to: USER }],
    ["a label in a window", { label_ids: [L1], active_within_days: 7 }],
  ] as [string, ViewFilters][])("a label view's counts (%s) start at the label's links, then a conversation by primary key", async (_name, f) => {
    const p = countPlan(db(), ORG, USER, f, Date.now());
    for (const q of [...p.total, ...p.unread] as unknown as Parameters<typeof plan>[0][]) {
      const steps = await plan(q);
      expect(steps[0], steps.join("\n")).toMatch(
        /^SEARCH (cl|conversation_labels) USING (COVERING )?INDEX conversation_labels_label_idx \(org_id=\? AND label_id=\?/,
      );
      expect(steps.join("\n")).toMatch(/SEARCH (cv|conversations) USING INDEX sqlite_autoindex_conversations_1 \(id=\?\)/);
      expect(steps.join("\n")).not.toMatch(/SCAN (cv|conversations)\b/);
    }
  });

  it("a page's labels are read by the links' primary key (never the org's links)", async () => {
    const steps = (await plan(labelsOfQuery(db(), ORG, [L1, L2]))).join("\n");
    expect(steps).toMatch(/^SEARCH conversation_labels USING (COVERING )?INDEX sqlite_autoindex_conversation_labels_1 \(conversation_id=\?\)/);
    expect(steps).toMatch(/SEARCH labels USING INDEX sqlite_autoindex_labels_1 \(id=\?\)/);
  });

  it("a label= list walks the list index in order against the label's links (no sort)", async () => {
    for (const labels of [[L1], [L1, L2]]) {
      const steps = (await plan(conversationPage(db(), ORG, USER, { archived: false, label_ids: labels }, Date.now(), CURSOR, 25))).join("\n");
      expect(steps).toMatch(/^SEARCH conversations USING INDEX conversations_list_idx \(org_id=\? AND archived=\?/);
      expect(steps).toMatch(/SEARCH conversation_labels USING COVERING INDEX conversation_labels_label_idx \(org_id=\? AND label_id=\?\)/);
      expect(steps).not.toMatch(/TEMP B-TREE FOR ORDER BY|SCAN conversations/);
    }
  });

  it("a snoozed count (or the snoozed part subtracted from a not-snoozed one) walks a snoozed index", async () => {
    for (const f of [{ snoozed: true }, { archived: true, snoozed: true, starred: true }, { snoozed: false }] as ViewFilters[]) {
      const p = countPlan(db(), ORG, USER, f, Date.now());
      const last = [p.total.at(-1), p.unread.at(-1)] as unknown as Parameters<typeof plan>[0][];
      for (const q of last) {
        const steps = await plan(q);
        expect(steps.join("\n")).toMatch(/USING (COVERING )?INDEX conversations_snooze(d|_due)_idx/);
      }
    }
  });

  it("the snooze alarm's reads (the earliest wake-up, the due threads) are steps of the wake-up index", async () => {
    expect((await plan(nextWakeQuery(db(), ORG))).join("\n")).toMatch(/SEARCH conversations USING (COVERING )?INDEX conversations_snooze_due_idx \(org_id=\?/);
    const due = (await plan(dueQuery(db(), ORG, Date.now()))).join("\n");
    expect(due).toMatch(/SEARCH conversations USING INDEX conversations_snooze_due_idx \(org_id=\? AND .*snoozed_until<\?\)/);
    expect(due).not.toMatch(/TEMP B-TREE/);
  });

  it("the scheduled-send alarm's reads (the earliest send, the due messages) are steps of the scheduled index", async () => {
    expect((await plan(nextScheduledQuery(db(), ORG))).join("\n")).toMatch(/SEARCH activities USING (COVERING )?INDEX activities_scheduled_idx \(org_id=\?/);
    const due = (await plan(dueScheduledQuery(db(), ORG, Date.now()))).join("\n");
    expect(due).toMatch(/SEARCH activities USING INDEX activities_scheduled_idx \(org_id=\? AND send_at<\?\)/);
    expect(due).not.toMatch(/SCAN activities/);
  });

  it("the overdue count is a range on an SLA index", async () => {
    for (const mine of [false, true]) {
      const steps = await plan(overdueCountQuery(db(), ORG, mine ? USER : null, Date.now()));
      expect(steps.join("\n")).toMatch(/SEARCH conversations USING (COVERING )?INDEX conversations_sla(_assignee)?_idx \(org_id=\? AND .*sla_due_at<\?\)/);
    }
  });

  it.each(["asc", "desc"] as const)("a thread's messages (%s) walk the thread index", async (order) => {
    const steps = await plan(listThread(db(), ORG, CURSOR[1], { order, includeSuggestions: false, after: CURSOR, limit: 25 }));
    expect(steps.join("\n")).toMatch(/SEARCH activities USING INDEX activities_thread_idx/);
    expect(steps.join("\n")).not.toMatch(/TEMP B-TREE/);
  });

  it.each([
    ["updated_since", { since: CURSOR[0] }],
    ["a cursor", { after: CURSOR }],
  ] as const)("GET /activities from %s is a range of activities_updated_idx in (updated_at, id) order, no scan, no sort", async (_name, from) => {
    const steps = await plan(changedMessages(db(), ORG, from, 25));
    const all = steps.join("\n");
    // The start is the index range itself (never the org's whole range, filtered row by row).
    expect(all).toMatch(/^SEARCH activities USING INDEX activities_updated_idx \(org_id=\? AND (updated_at>\?|\(updated_at,id\)>\(\?,\?\))\)$/m);
    expect(all).not.toMatch(/SCAN activities|TEMP B-TREE/);
  });

  // GET /conversations/export (SPEC 20): each read a bounded range of an index, in the export's order, no sort; under 100 bound parameters.
  it("the export's conversation pages walk the (org_id, contact_id) unique index from the cursor", async () => {
    for (const after of [null, CURSOR[1]]) {
      const q = exportConversationsQuery(db(), ORG, after, EXPORT_CONVERSATION_PAGE);
      expect(q.toSQL().params.length).toBeLessThan(100);
      const steps = (await plan(q)).join("\n");
      expect(steps).toMatch(new RegExp(`^SEARCH conversations USING INDEX conversations_org_contact_uq \\(org_id=\\?${after ? " AND contact_id>\\?" : ""}\\)`));
      expect(steps).toMatch(/SEARCH contacts USING (COVERING )?INDEX sqlite_autoindex_contacts_1 \(id=\?\)/);
      expect(steps).not.toMatch(/TEMP B-TREE|SCAN conversations/);
    }
  });

  it("the export's message reads walk the thread index per conversation of the page (json_each), and a long thread from its cursor", async () => {
    const ids = Array.from({ length: EXPORT_CONVERSATION_PAGE }, (_, i) => `01936c00-0000-7000-8000-${String(i).padStart(12, "0")}`);
    const page = exportMessagesQuery(db(), ORG, ids, EXPORT_MESSAGE_PAGE);
    expect(page.toSQL().params.length).toBeLessThan(100);
    const steps = (await plan(page)).join("\n");
    expect(steps).toMatch(/^SEARCH activities USING INDEX activities_thread_idx \(conversation_id=\?\)/);
    expect(steps).toMatch(/json_each/);
    expect(steps).not.toMatch(/TEMP B-TREE|SCAN activities/);
    for (const after of [null, CURSOR]) {
      const thread = exportThreadQuery(db(), ORG, CURSOR[1], after, EXPORT_MESSAGE_PAGE);
      expect(thread.toSQL().params.length).toBeLessThan(100);
      const t = (await plan(thread)).join("\n");
      expect(t).toMatch(/^SEARCH activities USING INDEX activities_thread_idx \(conversation_id=\?/);
      expect(t).not.toMatch(/TEMP B-TREE|SCAN activities/);
    }
  });

  it("the send sweep walks the partial index of sending messages, oldest first, no sort", async () => {
    const steps = await plan(stuckSendsQuery(db(), Date.now()));
    expect(steps.join("\n")).toMatch(/SEARCH activities USING INDEX activities_sending_idx \(updated_at<\?\)/);
    expect(steps.join("\n")).not.toMatch(/TEMP B-TREE|SCAN activities/);
  });

  it("the lost-send sweep walks the partial index of queued messages, oldest first, no sort", async () => {
    const steps = (await plan(lostSendsQuery(db(), Date.now()))).join("\n");
    expect(steps).toMatch(/SEARCH activities USING INDEX activities_queued_idx \(updated_at<\?\)/);
    expect(steps).not.toMatch(/TEMP B-TREE|SCAN activities/);
  });

  it("the webhook prune reads index ranges: settled deliveries by last change, dispatched events by age, an event's deliveries by event", async () => {
    const deliveries = (await plan(pruneDeliveriesQuery(db(), Date.now(), 500))).join("\n");
    expect(deliveries).toMatch(/SEARCH webhook_deliveries USING INDEX webhook_deliveries_settled_idx \(updated_at<\?\)/);
    expect(deliveries).not.toMatch(/SCAN webhook_deliveries|TEMP B-TREE/);
    const events = (await plan(pruneEventsQuery(db(), Date.now(), 500))).join("\n");
    expect(events).toMatch(/SEARCH e USING INDEX webhook_events_dispatched_idx \(created_at<\?\)/);
    expect(events).toMatch(/SEARCH d USING COVERING INDEX webhook_deliveries_event_idx \(event_id=\?\)/);
    expect(events).not.toMatch(/SCAN (e|d|webhook_events|webhook_deliveries)\b|TEMP B-TREE/);
  });

  it("the contacts list walks its index", async () => {
    const steps = await plan(searchContacts(db(), ORG, { limit: 25 }));
    expect(steps.join("\n")).toMatch(/USING (COVERING )?INDEX contacts_org_id_idx/);
    expect(steps.join("\n")).not.toMatch(/TEMP B-TREE/);
  });

  // SPEC 16: a search reads the FTS5 indexes and what they point to by rowid or by an
  // index; it never scans activities, contacts or conversations.
  const TERMS = parseQuery('cleaning "next tuesday" inv* 415 555');
  const noScan = (steps: string[]) => {
    for (const s of steps) expect(s, steps.join("\n")).not.toMatch(/\bSCAN (activities|contacts|conversations)\b(?!_fts)/);
  };
  it.each(filters)("a search of GET /conversations %s reads the indexes, no table scan", async (_name, f) => {
    for (const cursor of [null, CURSOR]) {
      // The request's one statement: three plans behind their LIMITs, then the ≤ 26 rows by
      // rowid, each with its newest match (its rowid range of the index) and its labels.
      const whole = await plan(searchAll(db(), ORG, USER, f, Date.now(), TERMS, cursor, 25));
      noScan(whole);
      const text = whole.join("\n");
      // The few matches read by rowid (then sorted: at most SPARSE_MATCHES), the page's rows by rowid.
      expect(text, text).toMatch(/SEARCH conversations USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      // The window and the dense walk: the list's own index, in its order, no sort.
      expect(text.match(/SEARCH conversations USING (COVERING )?INDEX conversations_/g)?.length, text).toBe(2);
      // No sort in the select that walks the list index (a sort is a sibling of its select's SEARCH).
      const rows = await planRows(searchAll(db(), ORG, USER, f, Date.now(), TERMS, cursor, 25));
      for (const walk of rows.filter((r) => /SEARCH conversations USING (COVERING )?INDEX conversations_/.test(r.detail)))
        expect(
          rows.filter((r) => r.parent === walk.parent && /TEMP B-TREE FOR ORDER BY/.test(r.detail)),
          text,
        ).toEqual([]);
      // The window's matches: one cursor over its rowid range.
      expect(text, text).toMatch(/SCAN activities_fts VIRTUAL TABLE INDEX 0:M\d+></);
      // Each CTE runs once, however often it is read.
      for (const cte of ["counted", "win", "hm", "hitw", "walk"])
        expect(text.match(new RegExp(`MATERIALIZE ${cte}$`, "gm"))?.length, `${cte}\n${text}`).toBe(1);
      expect(text, text).toMatch(/SEARCH a USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      // A window row's newest match: its thread newest first, by the thread's index.
      expect(text, text).toMatch(/SEARCH a USING COVERING INDEX activities_thread_idx \(conversation_id=\?\)/);
      expect(text, text).toMatch(/SEARCH cl USING (COVERING )?INDEX sqlite_autoindex_conversation_labels_1 \(conversation_id=\?\)/);
      // A remembered plan's statement alone (searchConversations): the window, or the walk;
      // neither counts the matches, each walks the list's index once, in its order.
      for (const [name, alone] of [
        ["window", searchWindow],
        ["walk", searchWalk],
      ] as const) {
        const tree = await planRows(alone(db(), ORG, USER, f, Date.now(), TERMS, cursor, 25, { window: SEARCH_WINDOW }));
        const steps = tree.map((r) => r.detail);
        noScan(steps);
        const one = steps.join("\n");
        expect(one, `${name}\n${one}`).not.toMatch(/MATERIALIZE counted|SEARCH f USING|SCAN f\b/);
        expect(one.match(/SEARCH conversations USING (COVERING )?INDEX conversations_/g)?.length, `${name}\n${one}`).toBe(1);
        const listWalk = tree.find((r) => /SEARCH conversations USING (COVERING )?INDEX conversations_/.test(r.detail))!;
        expect(
          tree.filter((r) => r.parent === listWalk.parent && /TEMP B-TREE FOR ORDER BY/.test(r.detail)),
          `${name}\n${one}`,
        ).toEqual([]);
        if (name === "window") {
          for (const cte of ["win", "hm", "hitw"]) expect(one.match(new RegExp(`MATERIALIZE ${cte}$`, "gm"))?.length, `${cte}\n${one}`).toBe(1);
          expect(one, one).toMatch(/SEARCH a USING COVERING INDEX activities_thread_idx \(conversation_id=\?\)/);
        }
      }
      // The few-matches plan alone: its counts, then the matches read by rowid; no walk of the list.
      const fewAlone = await plan(searchFew(db(), ORG, USER, f, Date.now(), TERMS, cursor, 25));
      noScan(fewAlone);
      expect(fewAlone.join("\n"), fewAlone.join("\n")).toMatch(/MATERIALIZE counted/);
      expect(fewAlone.join("\n"), fewAlone.join("\n")).not.toMatch(/INDEX conversations_(list|all|assignee|starred|unread|snoozed|waiting_sort)_idx/);
    }
  });

  it("a search binds each value once: every filter, ten labels and a cursor stay under D1's 100 parameters", async () => {
    const labels = Array.from({ length: 10 }, (_, i) => `01936c00-0000-7000-8000-0000000001${String(i).padStart(2, "0")}`);
    const f: ConversationFilter = {
      archived: false,
      scope: "mine",
      assigned_to: USER,
      starred: true,
      unread: true,
      overdue: false,
      snoozed: false,
      contact_id: USER,
      active_within_days: 7,
      label_ids: labels,
    };
    const { sql, params } = queryOf(searchAll(db(), ORG, USER, f, Date.now(), TERMS, CURSOR, 25));
    // Numbered parameters, one a value: the WHERE is in three plans, the terms in five places.
    expect(params.length, sql).toBeLessThan(40);
    expect(Math.max(...[...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])))).toBe(params.length);
    expect(sql).not.toMatch(/\?(?!\d)/);
    noScan(await plan(searchAll(db(), ORG, USER, f, Date.now(), TERMS, CURSOR, 25)));
  });

  it("a thread's matches, read by rowid and index", async () => {
    for (const order of ["asc", "desc"] as const) {
      const steps = await plan(
        listThread(db(), ORG, CURSOR[1], { order, includeSuggestions: false, after: CURSOR, limit: 25, match: threadMatch(ORG, CURSOR[1], TERMS) }),
      );
      noScan(steps);
      expect(steps.join("\n")).toMatch(/SEARCH activities USING (INDEX activities_thread_idx|INTEGER PRIMARY KEY)/);
    }
  });

  it("a contact search reads the contact index", async () => {
    for (const after of [undefined, CURSOR[1]]) {
      const steps = await plan(searchContacts(db(), ORG, { q: "maria 415", after, limit: 25 }));
      noScan(steps);
      expect(steps.join("\n")).toMatch(/contacts_fts/);
    }
  });
});
