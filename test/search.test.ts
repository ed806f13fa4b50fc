import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { wrap } from "../src/db/client";
import { inbox } from "../src/org-inbox/client";
import { rememberedPlans, SEARCH_WINDOW, SPARSE_MATCHES, searchPlanOf } from "../src/search/queries";
import { fold, parseQuery } from "../src/search/query";
import { messageSnippet, SNIPPET_CHARS } from "../src/search/snippet";
import { call, expectProblem, ingestOk, json, minutesAgo, newOrgOn, shardNameOf, shardNames, shardOf, type TestOrg } from "./helpers";

// SPEC 16: search over message text and contacts, through the FTS5 indexes each shard
// keeps with triggers (migrations/shard/0008_search.sql).

const binding = (name: string) => (env as unknown as Record<string, D1Database>)[name];
const get = async (org: TestOrg, path: string) => {
  const res = await org.as(org.owner)(path);
  expect(res.status, await res.clone().text()).toBe(200);
  return json(res);
};
const search = (org: TestOrg, q: string, extra = "") => get(org, `/conversations?q=${encodeURIComponent(q)}${extra}`);

let seq = 0;
const sid = (p = "SM") => `${p}${Date.now()}${++seq}`;

/** Three threads with one of each kind of text, and a setter draft that must not be found. */
async function seeded(shard = "SHARD_0") {
  const org = await newOrgOn(shard, "Search Co");
  const made = async (body: Record<string, string>) => {
    const res = await org.as(org.owner)("/contacts", { body });
    expect(res.status).toBe(201);
    return (await json(res)).id as string;
  };
  const jose = await ingestOk(org, {
    contact: { id: await made({ phone: "+14155550142", name: "José García", email: "jose.garcia@acme.test" }) },
    body: "Can we move the cleaning to Tuesday?",
    provider_message_id: sid(),
    occurred_at: minutesAgo(50),
  });
  const note = await ingestOk(org, {
    contact: { id: jose.message.contact_id },
    type: "note",
    direction: undefined,
    provider: "crm",
    provider_message_id: undefined,
    body: "Prefers the zirconia crown",
    occurred_at: minutesAgo(45),
  });
  const maria = await ingestOk(org, {
    contact: { id: await made({ phone: "+16505550199", name: "Maria Lopez", email: "maria@lopez.example" }) },
    body: "Do you take walk-ins on Saturday?",
    provider_message_id: sid(),
    occurred_at: minutesAgo(40),
  });
  const email = await ingestOk(org, {
    contact: { id: maria.message.contact_id },
    type: "email",
    direction: "outbound",
    provider: "postmark",
    provider_message_id: sid("PM"),
    subject: "Invoice 2291 for your visit",
    body: "Attached.",
    occurred_at: minutesAgo(35),
  });
  const transcript = await ingestOk(org, {
    contact: { phone: "+12125550123", name: "Kim Park" },
    type: "call",
    body: undefined,
    provider_message_id: sid("CA"),
    call: { status: "completed", duration_seconds: 60, transcript: "My molar has been aching since Monday." },
    occurred_at: minutesAgo(30),
  });
  const summary = await ingestOk(org, {
    contact: { id: transcript.message.contact_id },
    type: "call",
    body: undefined,
    provider_message_id: sid("CA"),
    call: { status: "completed", duration_seconds: 30, summary: "Asked about whitening prices." },
    occurred_at: minutesAgo(25),
  });
  const draft = await org.as(org.owner)(`/conversations/${jose.message.conversation_id}/suggestions`, { body: { body: "A xylophone recital awaits" } });
  expect(draft.status, await draft.clone().text()).toBe(201);
  return { org, jose, note, maria, email, transcript, summary };
}

describe("GET /conversations?q=", () => {
  it("finds words, phrases, prefixes, accents, case, phone runs, email parts, transcripts, summaries, notes and subjects; never a draft", async () => {
    const s = await seeded();
    const J = s.jose.message.conversation_id;
    const M = s.maria.message.conversation_id;
    const K = s.transcript.message.conversation_id;
    // q → [conversation, message id (null: the contact matched)] in list order.
    const table: [string, [string, string | null][]][] = [
      ["tuesday", [[J, s.jose.message.id]]],
      ["TUESDAY", [[J, s.jose.message.id]]],
      ["move tuesday", [[J, s.jose.message.id]]],
      ['"move the cleaning"', [[J, s.jose.message.id]]],
      ['"cleaning the move"', []],
      ["clean*", [[J, s.jose.message.id]]],
      ["zirconia", [[J, s.note.message.id]]],
      ["walk-ins", [[M, s.maria.message.id]]],
      ["invoice", [[M, s.email.message.id]]],
      ["2291", [[M, s.email.message.id]]],
      ["molar", [[K, s.transcript.message.id]]],
      ["whitening", [[K, s.summary.message.id]]],
      ["jose", [[J, null]]],
      ["JOSÉ garcía", [[J, null]]],
      ["garc*", [[J, null]]],
      ["acme", [[J, null]]],
      ["jose.garcia@acme.test", [[J, null]]],
      ["lopez.example", [[M, null]]],
      ["415 555", [[J, null]]],
      ["4155550142", [[J, null]]],
      ["+1 415", [[J, null]]],
      ["(415) 555-0142", [[J, null]]],
      ["650", [[M, null]]],
      ["xylophone", []],
      ["tuesday molar", []],
      ["nothing-like-this", []],
    ];
    for (const [q, expected] of table) {
      const { data, next_cursor } = await search(s.org, q);
      expect(
        data.map((c: { id: string; match: { message_id: string | null } }) => [c.id, c.match.message_id]),
        q,
      ).toEqual(expected);
      expect(next_cursor).toBeNull();
    }
    const [hit] = (await search(s.org, "tuesday")).data;
    expect(hit.match.snippet).toBe("Can we move the cleaning to «Tuesday»?");
    expect((await search(s.org, "jose")).data[0].match.snippet).toBe("«José» García · «jose».garcia@acme.test · +14155550142");
    expect((await search(s.org, "415 555")).data[0].match.snippet).toContain("«14155550142»");
    expect((await search(s.org, "molar")).data[0].match.snippet).toBe("My «molar» has been aching since Monday.");
    // The item is the list's item, plus match; the list without q has no match key.
    const plain = (await get(s.org, "/conversations")).data.find((c: { id: string }) => c.id === J);
    expect(plain).not.toHaveProperty("match");
    const { match, ...rest } = hit;
    expect(rest).toEqual(plain);
    expect(match.message_id).toBe(s.jose.message.id);
  });

  it("q is 1–200 characters (400 otherwise); punctuation only lists nothing; FTS5 syntax is text", async () => {
    const org = await newOrgOn("SHARD_1");
    await ingestOk(org, { body: "NEAR the OR gate, column: AND not -minus ^caret (paren) 'quote'", provider_message_id: sid() });
    for (const path of ["/conversations", "/contacts", "/conversations/00000000-0000-7000-8000-000000000000/messages"]) {
      await expectProblem(await org.as(org.owner)(`${path}?q=`), 400, "validation_failed");
      await expectProblem(await org.as(org.owner)(`${path}?q=${"a".repeat(201)}`), 400, "validation_failed");
      await expectProblem(await org.as(org.owner)(`${path}?q=%20%20`), 400, "validation_failed");
    }
    expect((await search(org, "a".repeat(200))).data).toEqual([]);
    expect(await search(org, "!!! ... ---")).toEqual({ data: [], next_cursor: null });
    expect(await get(org, "/contacts?q=%22%22")).toEqual({ data: [], next_cursor: null });
    for (const q of ["NEAR", "OR gate", "column:", "-minus", "^caret", "(paren)", "'quote'", 'gate"', '"gate', "NEAR(the gate)", "AND", "not"]) {
      expect((await search(org, q)).data, q).toHaveLength(1);
    }
    for (const q of ["gate NOT the", "col*:x", "body:gate", "{body}:gate", "gate*x", "* gate", '"" gate', "NEAR(gate column, 2)"]) {
      const res = await org.as(org.owner)(`/conversations?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
    }
  });

  it("tenancy: another org's words never show, on the same shard or the other", async () => {
    const [s0, s1] = shardNames();
    const a = await newOrgOn(s0);
    const same = await newOrgOn(s0);
    const other = await newOrgOn(s1);
    expect(await shardNameOf(same.orgId)).toBe(s0);
    await ingestOk(a, { body: "our own wombat", provider_message_id: sid() });
    for (const b of [same, other]) {
      await ingestOk(b, { contact: { phone: "+14155550177", name: "Quokka Person" }, body: "a quokka and a wombat", provider_message_id: sid() });
    }
    expect((await search(a, "quokka")).data).toEqual([]);
    expect((await get(a, "/contacts?q=quokka")).data).toEqual([]);
    expect((await get(a, "/contacts?q=0177")).data).toEqual([]);
    expect((await search(a, "wombat")).data).toHaveLength(1);
    for (const b of [same, other]) {
      expect((await search(b, "quokka")).data).toHaveLength(1);
      expect((await search(b, "wombat")).data).toHaveLength(1);
    }
  });
});

describe("search with the list's filters, order and cursors", () => {
  /** `n` threads that say `word`, every third unread (the others read), newest last. */
  async function threads(org: TestOrg, n: number, word: string) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { message } = await ingestOk(org, {
        contact: { phone: `+1415555${String(1000 + i)}`, name: `Person ${i}` },
        body: `about the ${word} number ${i}`,
        provider_message_id: sid(),
        occurred_at: minutesAgo(100 - i),
      });
      ids.push(message.conversation_id);
      if (i % 3) expect((await org.as(org.owner)(`/conversations/${message.conversation_id}/read`, { method: "POST" })).status).toBe(200);
    }
    return ids;
  }

  async function walk(org: TestOrg, query: string, limit: number) {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { id: string }[]; next_cursor: string | null } = await get(
        org,
        `/conversations?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(page.data.length).toBeLessThanOrEqual(limit);
      seen.push(...page.data.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    return seen;
  }

  it("unread=true&q=, view=&q=, archived: the list's filters narrow the search; a cursor walk gives each result once, in list order", async () => {
    const org = await newOrgOn("SHARD_1");
    const ids = await threads(org, 9, "harbor");
    await ingestOk(org, { contact: { phone: "+14155559999", name: "Unrelated" }, body: "nothing here", provider_message_id: sid() });
    const listOrder = (await get(org, "/conversations?limit=100")).data.map((c: { id: string }) => c.id);
    const expected = listOrder.filter((id: string) => ids.includes(id));
    expect(expected).toHaveLength(9);
    for (const limit of [1, 2, 4, 25]) expect(await walk(org, "q=harbor", limit)).toEqual(expected);
    const unread = ids.filter((_, i) => i % 3 === 0);
    expect(await walk(org, "q=harbor&unread=true", 2)).toEqual(expected.filter((id: string) => unread.includes(id)));
    expect(await walk(org, "q=harbor&unread=false", 2)).toEqual(expected.filter((id: string) => !unread.includes(id)));
    const views = (await get(org, "/conversations/views")).data as { id: string; key: string }[];
    const unreadView = views.find((v) => v.key === "unread")!;
    expect(await walk(org, `q=harbor&view=${unreadView.id}`, 2)).toEqual(expected.filter((id: string) => unread.includes(id)));
    // Archived threads leave the default list and its search; archived=true finds them.
    expect((await org.as(org.owner)(`/conversations/${ids[0]}/archive`, { body: { archived: true } })).status).toBe(200);
    expect(await walk(org, "q=harbor", 3)).toEqual(expected.filter((id: string) => id !== ids[0]));
    expect(await walk(org, "q=harbor&archived=true", 3)).toEqual([ids[0]]);
  });

  it(`more than ${SPARSE_MATCHES} matches: the list is walked in order, each result once (POST /activities/batch findable at once)`, async () => {
    const org = await newOrgOn("SHARD_0");
    const contacts = 40;
    const items = Array.from({ length: SPARSE_MATCHES + 100 }, (_, i) => ({
      contact: { phone: `+1415556${String(1000 + (i % contacts))}`, name: `Batch ${i % contacts}` },
      type: "sms",
      direction: "inbound",
      body: i % 50 === 7 ? `lighthouse keeper ${i}` : `pelican report ${i}`,
      provider: "twilio",
      provider_message_id: `BATCH-${i}`,
      occurred_at: new Date(Date.now() - (10_000 - i) * 1000).toISOString(),
    }));
    for (let i = 0; i < items.length; i += 500) {
      const res = await org.as(org.owner)("/activities/batch", { body: { activities: items.slice(i, i + 500) } });
      expect(res.status).toBe(200);
      expect((await json(res)).results.every((r: { status: number }) => r.status === 201)).toBe(true);
    }
    const listOrder = (await get(org, "/conversations?limit=100")).data.map((c: { id: string }) => c.id);
    expect(listOrder).toHaveLength(contacts);
    // "pelican" is in more than SPARSE_MATCHES messages (the walk); "lighthouse" in a few (the matches read by rowid).
    expect(await walk(org, "q=pelican", 7)).toEqual(listOrder);
    const few = await walk(org, "q=lighthouse", 3);
    expect(few.length).toBeGreaterThan(0);
    expect(few).toEqual(listOrder.filter((id: string) => few.includes(id)));
    // Each hit's match is its newest matching message: by when it happened, not when it was
    // stored (an older message imported now has the higher rowid), in both plans: the window
    // (pelican: all 40 conversations are in it) finds it in the thread, the few-matches plan
    // with its matches.
    const plan = (await searchPlanOf(
      wrap(await shardOf(org.orgId)),
      org.orgId,
      org.owner.userId,
      { archived: false },
      Date.now(),
      parseQuery("pelican"),
      null,
      1,
    ).get())!;
    expect([plan.few, plan.wide, plan.needed].map(Boolean)).toEqual([false, true, false]);
    const [first] = (await search(org, "pelican", "&limit=1")).data;
    const thread = (await get(org, `/conversations/${first.id}/messages?q=pelican&limit=100`)).data;
    expect(first.match.message_id).toBe(thread[0].id);
    const phone = (await get(org, `/conversations/${first.id}`)).contact.phone;
    const more = { contact: { phone }, type: "sms", direction: "inbound", provider: "twilio" };
    const recent = await ingestOk(org, { ...more, body: "lighthouse beam tonight", provider_message_id: sid(), occurred_at: minutesAgo(1) });
    const late = await ingestOk(org, { ...more, body: "pelican and lighthouse, said long ago", provider_message_id: sid(), occurred_at: minutesAgo(100_000) });
    const [again] = (await search(org, "pelican", "&limit=1")).data;
    expect(again.id).toBe(first.id);
    expect(again.match.message_id).toBe(thread[0].id);
    expect(again.match.message_id).not.toBe(late.message.id);
    // The few-matches plan (lighthouse): the newest, stored before the late one.
    const found = (await search(org, "lighthouse", "&limit=1")).data[0];
    expect(found.id).toBe(first.id);
    expect(found.match.message_id).toBe(recent.message.id);
  });

  /**
   * An org whose list has more than a window of conversations with few matches of "walrus" on
   * top and many below: OLD ones (more than SPARSE_MATCHES) all say "walrus" and their contacts
   * are all "Osprey"; the NEW ones, more than a window of them, say "walrus" 24 times, and one
   * contact is named Walrus.
   */
  async function windowOrg() {
    const org = await newOrgOn("SHARD_1");
    const old = SPARSE_MATCHES + 20;
    const fresh = SEARCH_WINDOW + 80;
    // List positions 0, 20, …, 460: 24 inside the window; and at position 2 a contact named Walrus
    // (the window's 25th match, by its contact only).
    const walrusInNew = new Set(Array.from({ length: 24 }, (_, k) => fresh - 1 - k * 20));
    const walrusContact = fresh - 3;
    const items = Array.from({ length: old + fresh }, (_, i) => {
      const isOld = i < old;
      const j = i - old;
      return {
        contact: { phone: `+1415700${String(i).padStart(4, "0")}`, name: isOld ? `Osprey ${i}` : j === walrusContact ? `Heron Walrus ${j}` : `Heron ${j}` },
        type: "sms",
        direction: "inbound",
        body: isOld || walrusInNew.has(j) ? `walrus sighting ${i}` : `plain update ${i}`,
        provider: "twilio",
        provider_message_id: `WIN-${i}`,
        occurred_at: new Date(Date.now() - (old + fresh - i) * 60_000).toISOString(),
      };
    });
    for (let i = 0; i < items.length; i += 500) {
      const res = await org.as(org.owner)("/activities/batch", { body: { activities: items.slice(i, i + 500) } });
      expect(res.status).toBe(200);
      const bad = (await json(res)).results.filter((r: { status: number }) => r.status !== 201);
      expect(bad, JSON.stringify(bad.slice(0, 2))).toEqual([]);
    }
    const list: { id: string; contact: { name: string }; last_activity: { preview: string } }[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: typeof list; next_cursor: string | null } = await get(
        org,
        `/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      list.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    expect(list).toHaveLength(old + fresh);
    const walrus = list.filter((c) => c.last_activity.preview.startsWith("walrus") || c.contact.name.includes("Walrus")).map((c) => c.id);
    const osprey = list.filter((c) => c.contact.name.startsWith("Osprey")).map((c) => c.id);
    expect(walrus).toHaveLength(old + 25);
    return { org, list, walrus, osprey, old, walrusContact };
  }

  it(`many matches beyond the list's first ${SEARCH_WINDOW}: the window answers when it holds a page, the walk when it does not, each result once`, async () => {
    const { org, list, walrus, osprey, old, walrusContact } = await windowOrg();
    // The window (the newest SEARCH_WINDOW) holds 25 matches: a page of 10 (11 rows) comes from it,
    // a page of 25 (26 rows) does not (the walk); both walks give every match once, in list order.
    expect(walrus.indexOf(list[SEARCH_WINDOW].id)).toBe(-1);
    expect(walrus.slice(0, 25).every((id) => list.findIndex((c) => c.id === id) < SEARCH_WINDOW)).toBe(true);
    // Which plan answers a first page (the statement's own CTEs, read apart).
    const db = wrap(await shardOf(org.orgId));
    const plan = async (q: string, limit: number) => {
      const row = (await searchPlanOf(db, org.orgId, org.owner.userId, { archived: false }, Date.now(), parseQuery(q), null, limit).get())!;
      return { few: Boolean(row.few), wide: Boolean(row.wide), walk: Boolean(row.needed) };
    };
    expect(await plan("walrus", 10)).toEqual({ few: false, wide: true, walk: false });
    expect(await plan("walrus", 25)).toEqual({ few: false, wide: true, walk: true });
    expect(await plan("osprey", 25)).toEqual({ few: false, wide: false, walk: true });
    expect(await plan("heron", 25)).toEqual({ few: false, wide: false, walk: true });
    expect(await plan("sighting 5", 25)).toEqual({ few: true, wide: false, walk: false });
    expect(await walk(org, "q=walrus", 10)).toEqual(walrus);
    expect(await walk(org, "q=walrus", 25)).toEqual(walrus);
    expect(await walk(org, "q=walrus", 100)).toEqual(walrus);
    // Each page's match is the conversation's matching message; the window's contact-only match has none.
    const top3 = (await search(org, "walrus", "&limit=3")).data;
    expect(top3.map((c: { id: string }) => c.id)).toEqual(walrus.slice(0, 3));
    expect(top3[0].match.snippet).toMatch(/^«walrus» sighting \d+$/);
    expect(top3[0].match.message_id).toEqual(expect.any(String));
    expect(top3[1].match).toEqual({ message_id: null, snippet: `Heron «Walrus» ${walrusContact} · +1415700${String(old + walrusContact).padStart(4, "0")}` });
    // Many contact matches: the walk from the start (the window is for message matches).
    expect(await walk(org, "q=osprey", 50)).toEqual(osprey);
    // A filter applies to every plan: starred narrows the window and the walk alike.
    const starred = [walrus[3], walrus[30], walrus[40]];
    for (const id of starred) expect((await org.as(org.owner)(`/conversations/${id}/star`, { method: "POST" })).status).toBe(200);
    const starredList = (await get(org, "/conversations?starred=true&limit=100")).data.map((c: { id: string }) => c.id);
    expect(await walk(org, "q=walrus&starred=true", 2)).toEqual(starredList);
  });

  it("a search's plan is remembered, and decides the cost, never the page", async () => {
    const { org, list, walrus, osprey } = await windowOrg();
    // Remembered per isolate; the plan's statement alone runs next time.
    const heron = list.filter((c) => c.contact.name.startsWith("Heron")).map((c) => c.id);
    const sighting5 = list.filter((c) => / 5$/.test(c.last_activity.preview)).map((c) => c.id);
    const expected: [string, number, string[]][] = [
      ["walrus", 10, walrus],
      ["walrus", 25, walrus],
      ["osprey", 50, osprey],
      ["heron", 25, heron],
      ["sighting 5", 25, sighting5],
    ];
    const remembered = () =>
      [...rememberedPlans].filter(([key]) => key.includes(org.orgId)).map(([key, v]) => [JSON.parse(key)[3], JSON.parse(key)[4], v.plan]);
    rememberedPlans.clear();
    for (const [q, limit] of expected) await search(org, q, `&limit=${limit}`);
    expect(remembered()).toEqual([
      [["walrus"], 10, "window"],
      [["walrus"], 25, "wider"],
      [["osprey"], 50, "walk"],
      [["heron"], 25, "walk"],
      [["sighting", "5"], 25, "few"],
    ]);
    // Case aside, the same search: WALRUS takes walrus's remembered plan (no new entry).
    await search(org, "WALRUS", "&limit=10");
    expect(remembered()).toHaveLength(5);
    // Every page whole (ids, matches, whether more follow): searchAll's, then each plan forced on every query.
    const pages = async (q: string, limit: number) => {
      const out: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: { id: string; match: unknown }[]; next_cursor: string | null } = await get(
          org,
          `/conversations?q=${encodeURIComponent(q)}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        );
        out.push(
          page.data.map((c) => ({ id: c.id, match: c.match })),
          page.next_cursor ? "more" : "end",
        );
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    const forcing = async <T>(plan: "few" | "window" | "wider" | "walk" | null, run: () => Promise<T>) => {
      const spy = vi.spyOn(rememberedPlans, "get").mockReturnValue(plan ? { plan, until: Number.POSITIVE_INFINITY } : undefined);
      try {
        return await run();
      } finally {
        expect(spy).toHaveBeenCalled();
        spy.mockRestore();
      }
    };
    const byAll = await forcing(null, () => Promise.all(expected.map(([q, limit]) => pages(q, limit))));
    const idsOf = (p: unknown[]) => (p.filter((x) => Array.isArray(x)) as { id: string }[][]).flat().map((c) => c.id);
    for (const [i, [q, limit, ids]] of expected.entries()) expect(idsOf(byAll[i]), `${q} ${limit}`).toEqual(ids);
    for (const plan of ["few", "window", "wider", "walk"] as const) {
      const forced = await forcing(plan, () => Promise.all(expected.map(([q, limit]) => pages(q, limit))));
      for (const [i, [q, limit]] of expected.entries()) expect(forced[i], `${plan}: ${q} ${limit}`).toEqual(byAll[i]);
    }
    // A remembered window that no longer answers (a page of 25 needs 26 rows; it holds 25) is run
    // again with all three plans, which take the walk and remember the wider window; that one
    // answers (the old walruses are in the list's first 1,000) and stays remembered.
    rememberedPlans.clear();
    await search(org, "walrus", "&limit=10");
    const key = [...rememberedPlans.keys()].find((k) => k.includes(org.orgId))!;
    const limit25 = key.replace(/,10,false\]$/, ",25,false]");
    expect(limit25).not.toBe(key);
    rememberedPlans.set(limit25, { plan: "window", until: Date.now() + 60_000 });
    expect((await search(org, "walrus", "&limit=25")).data.map((c: { id: string }) => c.id)).toEqual(walrus.slice(0, 25));
    expect(rememberedPlans.get(limit25)?.plan).toBe("wider");
    expect((await search(org, "walrus", "&limit=25")).data.map((c: { id: string }) => c.id)).toEqual(walrus.slice(0, 25));
    expect(rememberedPlans.get(limit25)?.plan).toBe("wider");
    // A wider window that does not answer either (sighting 5's one match is past the list's first
    // 1,000): the walk gives the page and is remembered.
    const sighting = JSON.stringify([...JSON.parse(key).slice(0, 3), ["sighting", "5"], 25, false]);
    rememberedPlans.set(sighting, { plan: "wider", until: Date.now() + 60_000 });
    expect((await search(org, "sighting 5", "&limit=25")).data.map((c: { id: string }) => c.id)).toEqual(sighting5);
    expect(rememberedPlans.get(sighting)?.plan).toBe("walk");
    // Forgotten after PLAN_MEMORY_MS: searchAll runs again.
    rememberedPlans.set(key, { plan: "walk", until: Date.now() - 1 });
    await search(org, "walrus", "&limit=10");
    expect(rememberedPlans.get(key)?.plan).toBe("window");
  });
});

describe("GET /conversations/{id}/messages?q= and GET /contacts?q=", () => {
  it("a thread's matching messages, in the thread's order, with its cursors", async () => {
    const org = await newOrgOn("SHARD_0");
    const first = await ingestOk(org, { body: "first parcel arrived", provider_message_id: sid(), occurred_at: minutesAgo(9) });
    const id = first.message.conversation_id;
    await ingestOk(org, { body: "unrelated", provider_message_id: sid(), occurred_at: minutesAgo(8) });
    const second = await ingestOk(org, { body: "second parcel", provider_message_id: sid(), occurred_at: minutesAgo(7) });
    const third = await ingestOk(org, { body: "Parcels? one more parcel", provider_message_id: sid(), occurred_at: minutesAgo(6) });
    const ids = async (query: string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: { id: string }[]; next_cursor: string | null } = await get(
          org,
          `/conversations/${id}/messages?${query}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        );
        out.push(...page.data.map((m) => m.id));
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    expect(await ids("q=parcel")).toEqual([third.message.id, second.message.id, first.message.id]);
    expect(await ids("q=parcel&order=asc")).toEqual([first.message.id, second.message.id, third.message.id]);
    expect(await ids("q=parcel*")).toEqual([third.message.id, second.message.id, first.message.id]);
    expect(await ids("q=%22second%20parcel%22")).toEqual([second.message.id]);
    expect(await get(org, `/conversations/${id}/messages?q=...`)).toEqual({ data: [], next_cursor: null });
    // Another org's thread stays 404.
    const stranger = await newOrgOn("SHARD_0");
    expect((await stranger.as(stranger.owner)(`/conversations/${id}/messages?q=parcel`)).status).toBe(404);
  });

  it("contacts: through the index, same shape and cursor; a changed name is found by its new name only", async () => {
    const org = await newOrgOn("SHARD_1");
    const made: { id: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await org.as(org.owner)("/contacts", { body: { name: `Renée Dupont ${i}`, phone: `+1415557${String(1000 + i)}` } });
      expect(res.status).toBe(201);
      made.push(await json(res));
    }
    const walk = async (q: string) => {
      const out: Record<string, unknown>[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: Record<string, unknown>[]; next_cursor: string | null } = await get(
          org,
          `/contacts?q=${encodeURIComponent(q)}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        );
        out.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    const all = (await get(org, "/contacts?limit=100")).data;
    expect(await walk("renee")).toEqual(all);
    expect(await walk("dupont 415 557")).toEqual(all);
    expect((await walk("5571002")).map((c) => c.id)).toEqual([made[2].id]);
    expect(await walk("nobody")).toEqual([]);
    const patched = await org.as(org.owner)(`/contacts/${made[0].id}`, { method: "PATCH", body: { name: "Zelda Fitz" } });
    expect(patched.status).toBe(200);
    expect((await walk("zelda")).map((c) => c.id)).toEqual([made[0].id]);
    expect((await walk("renee")).map((c) => c.id)).not.toContain(made[0].id);
  });
});

describe("the index is written with its row", () => {
  it("a message is findable as soon as POST /activities answers; a late transcript and summary as soon as they are stored", async () => {
    const org = await newOrgOn("SHARD_0");
    for (let i = 0; i < 5; i++) {
      const { message } = await ingestOk(org, { body: `marmalade batch ${i}`, provider_message_id: sid() });
      expect((await search(org, `marmalade ${i}`)).data.map((c: { match: { message_id: string } }) => c.match.message_id)).toEqual([message.id]);
    }
    const callMsg = await ingestOk(org, {
      contact: { phone: "+14155550111" },
      type: "call",
      body: undefined,
      provider_message_id: sid("CA"),
      call: { status: "completed", duration_seconds: 10 },
    });
    expect((await search(org, "periodontal")).data).toEqual([]);
    await inbox(env, org.orgId).applyCallDetails(callMsg.message.id, { transcript: "A periodontal question." });
    expect((await search(org, "periodontal")).data.map((c: { match: { message_id: string } }) => c.match.message_id)).toEqual([callMsg.message.id]);
    await inbox(env, org.orgId).setCallSummary(callMsg.message.id, "Gum care follow-up.");
    const thread = (await get(org, `/conversations/${callMsg.message.conversation_id}/messages`)).data;
    if (thread[0].call.summary === "Gum care follow-up.") {
      expect((await search(org, "gum care")).data).toHaveLength(1);
    }
  });

  it("a moved org's messages are found on its new shard and gone from the old one's index", async () => {
    const [from, to] = shardNames();
    const org = await newOrgOn(from);
    await ingestOk(org, { contact: { phone: "+14155550122", name: "Nomad Nora" }, body: "the caravan leaves at dawn", provider_message_id: sid() });
    const hex = org.orgId.replaceAll("-", "");
    const indexed = async (shard: string) => {
      const d = binding(shard);
      const m = await d.prepare("SELECT count(*) AS n FROM activities_fts WHERE activities_fts MATCH ?").bind(`org : "${hex}"`).first<{ n: number }>();
      const k = await d.prepare("SELECT count(*) AS n FROM contacts_fts WHERE contacts_fts MATCH ?").bind(`org : "${hex}"`).first<{ n: number }>();
      return [m?.n, k?.n];
    };
    expect(await indexed(from)).toEqual([1, 1]);
    const operator = (path: string, body?: unknown) => call(path, { token: env.OPERATOR_TOKEN, body, method: body === undefined ? "GET" : "POST" });
    const started = await operator(`/operator/orgs/${org.orgId}/move`, { shard: to });
    expect(started.status).toBe(202);
    const { move_id } = await json(started);
    for (let i = 0; i < 400; i++) {
      const move = await json(await operator(`/operator/moves/${move_id}`));
      if (move.status === "done") break;
      expect(move.status).not.toBe("failed");
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await shardNameOf(org.orgId)).toBe(to);
    expect(await indexed(to)).toEqual([1, 1]);
    expect((await search(org, "caravan")).data).toHaveLength(1);
    expect((await search(org, "nora")).data).toHaveLength(1);
    // The grace ends (OrgInbox's alarm, run now): the old rows, and their index entries, are gone.
    expect(await runDurableObjectAlarm(env.ORG_INBOX.get(env.ORG_INBOX.idFromName(org.orgId)))).toBe(true);
    expect(await indexed(from)).toEqual([0, 0]);
    expect((await search(org, "caravan")).data).toHaveLength(1);
  });
});

describe("the query parser and the snippet", () => {
  it("quotes every term; operators and punctuation are text", () => {
    expect(parseQuery('hello "big world" wor* NEAR(x) col:y -z ^w "unbalanced')).toEqual([
      { tokens: ["hello"], prefix: false },
      { tokens: ["big", "world"], prefix: false },
      { tokens: ["wor"], prefix: true },
      { tokens: ["NEAR", "x"], prefix: false },
      { tokens: ["col", "y"], prefix: false },
      { tokens: ["z"], prefix: false },
      { tokens: ["w"], prefix: false },
      { tokens: ["unbalanced"], prefix: false },
    ]);
  });

  it("cuts at most 160 characters around the first hit, marks every hit", () => {
    const long = `${"lorem ipsum ".repeat(30)}the needle is here ${"dolor sit ".repeat(30)} needle again`;
    const s = messageSnippet([long], parseQuery("needle"));
    expect(s.length).toBeLessThanOrEqual(SNIPPET_CHARS);
    expect(s.startsWith("…")).toBe(true);
    expect(s.endsWith("…")).toBe(true);
    expect(s).toContain("the «needle» is here");
    expect(messageSnippet([null, "Re: Café"], parseQuery("cafe"))).toBe("Re: «Café»");
  });

  it("cuts a long text with 2,000 hits as it cuts its first 400 characters", () => {
    // The cut stops looking 160 characters past the first hit: nothing after it could be shown.
    const long = `${"lorem ipsum ".repeat(10)}the needle is here ${"and a needle ".repeat(2000)}`;
    const q = parseQuery("needle");
    const s = messageSnippet([long], q);
    expect(s).toBe(messageSnippet([long.slice(0, 400)], q));
    expect(s.length).toBeLessThanOrEqual(SNIPPET_CHARS);
    expect(s).toMatch(/^…lorem ipsum .*the «needle» is here and a «needle» .*…$/);
  });

  it("folds ASCII by lowercasing and anything else as the tokenizer does (NFD, marks removed, lowercase)", () => {
    const nfd = (t: string) => t.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
    expect(fold("JOSÉ")).toBe("jose");
    expect(fold("Ångström")).toBe("angstrom");
    expect(fold("MiXeD42")).toBe("mixed42");
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" })), (t) => fold(t) === nfd(t)));
    // The snippet splits ASCII text with [A-Za-z0-9]+: the tokenizer's classes (letters, numbers, private use) on ASCII.
    fc.assert(fc.property(fc.string(), (t) => String(t.match(/[\p{L}\p{N}\p{Co}]+/gu)) === String(t.match(/[A-Za-z0-9]+/g))));
    expect(messageSnippet(["Invoice #42, INVOICE-7 and invoices"], parseQuery("invoice"))).toBe("«Invoice» #42, «INVOICE»-7 and invoices");
  });
});
