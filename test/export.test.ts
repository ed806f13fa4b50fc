import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { exportLineToActivities } from "../scripts/export-map.mjs";
import { app } from "../src/app";
import { EXPORT_CONVERSATION_PAGE, EXPORT_MESSAGE_PAGE, type ExportStats, exportLines, nextPageSize } from "../src/conversations/export";
import { wrap } from "../src/db/client";
import type { Bindings } from "../src/env";
import { addMember, BASE, count, expectProblem, ingestOk, json, newOrg, shardNameOf, shardOf, type TestOrg } from "./helpers";

// GET /conversations/export (SPEC 20): NDJSON, one line per conversation with its
// messages oldest first, read a page at a time; and the round trip through the importer's
// mapping (scripts/export-map.mjs) into another org.

type Line = Record<string, any> & { id: string; contact: { id: string; name: string | null; phone: string | null; email: string | null }; messages: any[] };

async function exportOf(org: TestOrg, query = "") {
  const res = await org.as(org.owner)(`/conversations/export${query}`);
  expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
  // (Decoded as UTF-8 by the test: workerd warns on .text() of a type it does not know as text.)
  const text = new TextDecoder().decode(await res.arrayBuffer());
  if (text) expect(text.endsWith("\n")).toBe(true);
  const lines = text.split("\n").filter(Boolean);
  return lines.map((l) => JSON.parse(l) as Line);
}

const batch = async (org: TestOrg, activities: unknown[]) => {
  for (let i = 0; i < activities.length; i += 500) {
    const res = await org.as(org.owner)("/activities/batch", { body: { activities: activities.slice(i, i + 500) } });
    expect(res.status, await res.clone().text()).toBe(200);
    const { results } = await json(res);
    for (const r of results) expect([200, 201], JSON.stringify(r)).toContain(r.status);
  }
};

const at = (base: number, s: number) => new Date(base + s * 1000).toISOString();
const sms = (phone: string, i: number, occurred: string, extra: Record<string, unknown> = {}) => ({
  contact: { phone, name: `Person ${phone.slice(-4)}` },
  type: "sms",
  direction: i % 2 ? "outbound" : "inbound",
  body: `message ${i} with ${phone}`,
  provider: "twilio",
  provider_message_id: `SM-${phone}-${i}`,
  occurred_at: occurred,
  ...extra,
});

/** An org with sms, email, call and note history, out-of-order ingests, a setter draft, a label and a conversation without messages. */
async function historyOrg() {
  const org = await newOrg("Exporter");
  const as = org.as(org.owner);
  const base = Date.now() - 86_400_000;
  // Ingested newest first: the export orders by occurred_at, not by arrival.
  const maria = await ingestOk(org, sms("+14155550101", 3, at(base, 30)));
  await ingestOk(org, sms("+14155550101", 2, at(base, 20)));
  await ingestOk(org, sms("+14155550101", 1, at(base, 10)));
  await ingestOk(org, {
    contact: { phone: "+14155550101" },
    type: "note",
    direction: undefined,
    body: "called back",
    provider: "crm",
    occurred_at: at(base, 40),
  });
  await ingestOk(org, {
    contact: { phone: "+14155550101" },
    type: "call",
    direction: "inbound",
    body: null,
    provider: "twilio",
    provider_message_id: "CA-1",
    occurred_at: at(base, 50),
    call: { duration_seconds: 42, status: "completed", transcript: "hello there", summary: "wants a cleaning" },
  });
  await ingestOk(org, {
    contact: { email: "priya@example.org", name: "Priya" },
    type: "email",
    direction: "inbound",
    subject: "Invoice",
    body: "Where is my invoice?",
    from: "priya@example.org",
    to: "help@acme.test",
    provider: "postmark",
    provider_message_id: "pm-1",
    occurred_at: at(base, 5),
  });
  const conversationId = maria.message.conversation_id;
  const draft = await as(`/conversations/${conversationId}/suggestions`, { body: { body: "Sure, Tuesday?" } });
  expect(draft.status, await draft.clone().text()).toBe(201);
  const label = await json(await as("/labels", { body: { name: "VIP", color: "#aa00ff" } }));
  expect((await as(`/conversations/${conversationId}/labels`, { method: "PUT", body: { label_ids: [label.id] } })).status).toBe(200);
  // A conversation opened with no message yet.
  const quiet = await json(await as("/contacts", { body: { phone: "+14155550199", name: "Quiet" } }));
  expect((await as(`/contacts/${quiet.id}/conversations`, { method: "POST" })).status).toBe(201);
  return { org, conversationId };
}

describe("GET /conversations/export", () => {
  it("streams one NDJSON line per conversation of the org: the Conversation as GET shows it, its messages oldest first, no drafts", async () => {
    const { org, conversationId } = await historyOrg();
    const other = await newOrg("Elsewhere");
    await ingestOk(other, sms("+14155550101", 0, new Date().toISOString()));
    const lines = await exportOf(org);
    expect(lines).toHaveLength(await count("conversations", "org_id = ?", org.orgId));
    expect(lines).toHaveLength(3);
    // Contact id order, each conversation once.
    const contactIds = lines.map((l) => l.contact.id);
    expect(contactIds).toEqual([...contactIds].sort());
    expect(new Set(lines.map((l) => l.id)).size).toBe(3);
    for (const line of lines) {
      const { messages, ...conversation } = line;
      const { pending_suggestion: _, ...shown } = await json(await org.as(org.owner)(`/conversations/${line.id}`));
      expect(conversation).toEqual(shown);
      const thread = await json(await org.as(org.owner)(`/conversations/${line.id}/messages?order=asc&limit=100`));
      expect(messages).toEqual(thread.data);
      const order = messages.map((m: { occurred_at: string; id: string }) => `${m.occurred_at} ${m.id}`);
      expect(order).toEqual([...order].sort());
    }
    const maria = lines.find((l) => l.id === conversationId)!;
    expect(maria.labels.map((l: { name: string }) => l.name)).toEqual(["VIP"]);
    expect(maria.messages.map((m: { type: string; body: string | null }) => [m.type, m.body])).toEqual([
      ["sms", "message 1 with +14155550101"],
      ["sms", "message 2 with +14155550101"],
      ["sms", "message 3 with +14155550101"],
      ["note", "called back"],
      ["call", null],
    ]);
    expect(maria.messages.some((m: { type: string }) => m.type === "suggestion")).toBe(false);
    expect(lines.find((l) => l.contact.phone === "+14155550199")!.messages).toEqual([]);
    // Another org's conversation with the same number is not in this export.
    const theirs = await exportOf(other);
    expect(theirs).toHaveLength(1);
    expect(lines.map((l) => l.id)).not.toContain(theirs[0].id);
    // Resume after a line: the lines after it, as they were.
    expect(await exportOf(org, `?after=${lines[0].contact.id}`)).toEqual(lines.slice(1));
    expect(await exportOf(org, `?after=${lines[2].contact.id}`)).toEqual([]);
  });

  it("is for owners and admins: an agent is refused 403 forbidden; export is not read as a conversation id", async () => {
    const org = await newOrg();
    await ingestOk(org);
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/conversations/export"), 403, "forbidden");
    const admin = await addMember(org, "admin");
    const res = await org.as(admin)("/conversations/export");
    expect(res.status).toBe(200);
    expect(
      new TextDecoder()
        .decode(await res.arrayBuffer())
        .split("\n")
        .filter(Boolean),
    ).toHaveLength(1);
    await expectProblem(await org.as(org.owner)("/conversations/export?after=nope"), 400, "validation_failed");
  });

  it("a D1 failure before the first line is an error answer (problem+json), not a 200 whose body breaks off", async () => {
    const { org } = await historyOrg();
    const name = await shardNameOf(org.orgId);
    const real = (env as unknown as Record<string, D1Database>)[name];
    // The org's shard, failing every statement (the control database stays up: auth passes).
    const down = new Proxy(real, {
      get(target, prop) {
        if (prop === "prepare" || prop === "batch" || prop === "exec")
          return () => {
            throw new Error("D1_ERROR: the shard is down");
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await app.fetch(
      new Request(`${BASE}/conversations/export`, { headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } }),
      { ...env, [name]: down } as Bindings,
      createExecutionContext(),
    );
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect((await json(res)).code).toBe("internal");
  });

  it("the page size follows the messages a conversation: their messages fill about 80 % of one message read", () => {
    expect(nextPageSize(90, 0)).toBe(EXPORT_CONVERSATION_PAGE);
    expect(nextPageSize(90, 900)).toBe(Math.floor((EXPORT_MESSAGE_PAGE * 0.8) / 10));
    expect(nextPageSize(90, 90 * 30)).toBe(Math.floor((EXPORT_MESSAGE_PAGE * 0.8) / 30));
    expect(nextPageSize(3, 100_000)).toBe(1);
    for (const [c, m] of [
      [90, 900],
      [90, 2700],
      [40, 4000],
    ]) {
      // Threads of that average length, a page of that size: one message read holds them.
      expect(nextPageSize(c, m) * (m / c)).toBeLessThanOrEqual(EXPORT_MESSAGE_PAGE);
    }
  });

  it(`pages: more than ${EXPORT_CONVERSATION_PAGE} conversations and a thread longer than ${EXPORT_MESSAGE_PAGE} messages come out whole, once, in order, in bounded reads`, async () => {
    const org = await newOrg("Big");
    const base = Date.now() - 10 * 86_400_000;
    const small = (from: number, n: number) => Array.from({ length: n }, (_, i) => sms(`+1415600${String(from + i).padStart(4, "0")}`, 0, at(base, i)));
    // Threads before and after the long one (ids are time-ordered): the page's message read
    // is cut inside the long thread, with whole threads before it and unread ones after.
    await batch(org, small(0, 20));
    const long = Array.from({ length: EXPORT_MESSAGE_PAGE + 10 }, (_, i) => sms("+14157770000", i, at(base, i % 500 === 7 ? 7 : i)));
    await batch(org, long.reverse());
    await batch(org, small(20, EXPORT_CONVERSATION_PAGE + 10));
    const conversations = EXPORT_CONVERSATION_PAGE + 31;
    const lines = await exportOf(org);
    expect(lines).toHaveLength(conversations);
    expect(new Set(lines.map((l) => l.id)).size).toBe(conversations);
    const contactIds = lines.map((l) => l.contact.id);
    expect(contactIds).toEqual([...contactIds].sort());
    const thread = lines.find((l) => l.contact.phone === "+14157770000")!;
    expect(thread.messages).toHaveLength(EXPORT_MESSAGE_PAGE + 10);
    expect(new Set(thread.messages.map((m: { id: string }) => m.id)).size).toBe(EXPORT_MESSAGE_PAGE + 10);
    const key = (m: { occurred_at: string; id: string }) => `${m.occurred_at} ${m.id}`;
    expect(thread.messages.map(key)).toEqual(thread.messages.map(key).sort());
    for (const l of lines) if (l !== thread) expect(l.messages).toHaveLength(1);

    // The reads themselves: lazy (one page before the first piece), each bounded.
    const db = wrap(await shardOf(org.orgId));
    const stats: ExportStats = { conversations: 0, messages: 0, reads: 0, max_rows: 0 };
    const pieces = exportLines(env, db, org.orgId, { stats });
    const first = await pieces.next();
    expect(stats.reads).toBeLessThanOrEqual(4);
    expect(stats.conversations).toBeLessThanOrEqual(EXPORT_CONVERSATION_PAGE);
    let text = first.value ?? "";
    for await (const piece of pieces) text += piece;
    expect(
      text
        .split("\n")
        .filter(Boolean)
        .map((l: string) => JSON.parse(l)),
    ).toEqual(lines);
    expect(stats).toMatchObject({ conversations, messages: EXPORT_MESSAGE_PAGE + 10 + conversations - 1 });
    expect(stats.max_rows).toBeLessThanOrEqual(EXPORT_MESSAGE_PAGE);
    // 3 conversation page reads (the last one empty), a label read and a message read for
    // each full one, the long thread's follow-up reads, and one read for each (one-message)
    // thread after it in its page.
    expect(stats.reads).toBeLessThanOrEqual(3 + 2 * 2 + 2 + EXPORT_CONVERSATION_PAGE);
  });

  it("round trip: each line mapped by the importer's mapping into another org gives the same conversations and messages", async () => {
    const { org } = await historyOrg();
    // Two sends that never went out (SPEC 20): one still scheduled, one canceled. Exported, not imported.
    const as = org.as(org.owner);
    expect((await as("/channels", { body: { kind: "sms", address: "+14155559990", provider: "log" } })).status).toBe(201);
    const maria = (await exportOf(org)).find((l) => l.contact.phone === "+14155550101")!;
    const later = (body: string) =>
      as(`/conversations/${maria.id}/messages`, { body: { type: "sms", body, send_at: new Date(Date.now() + 86_400_000).toISOString() } }).then(json);
    await later("still scheduled");
    const canceled = await later("canceled");
    expect((await as(`/conversations/${maria.id}/messages/${canceled.id}`, { method: "DELETE" })).status).toBe(200);
    const exported = await exportOf(org);
    expect(exported.find((l) => l.id === maria.id)!.messages.map((m) => m.status)).toEqual(expect.arrayContaining(["scheduled", "canceled"]));
    const mapped = exported.map((l) => exportLineToActivities(l));
    expect(mapped.reduce((n, m) => n + m.unsent_skipped, 0)).toBe(2);
    // The history: the export without them.
    const lines = exported.map((l) => ({ ...l, messages: l.messages.filter((m) => m.status !== "scheduled" && m.status !== "canceled") }));
    const target = await newOrg("Target");
    expect(mapped.every((m) => m.error === null)).toBe(true);
    const items = mapped.flatMap((m) => m.activities);
    await batch(target, items);
    const again = await exportOf(target);
    const withMessages = lines.filter((l) => l.messages.length > 0);
    expect(again).toHaveLength(withMessages.length);
    expect(await count("activities", "org_id = ? AND type <> 'suggestion'", target.orgId)).toBe(withMessages.reduce((n, l) => n + l.messages.length, 0));
    const byContact = (ls: Line[]) =>
      Object.fromEntries(
        ls.map((l) => [
          l.contact.phone ?? l.contact.email,
          { name: l.contact.name, messages: l.messages.map((m) => [m.type, m.direction, m.body, m.subject, m.occurred_at, m.call?.summary ?? null]) },
        ]),
      );
    expect(byContact(again)).toEqual(byContact(withMessages));
    // A second import of the same lines stores nothing new (provider ids, or export:<id>).
    const res = await target.as(target.owner)("/activities/batch", { body: { activities: items } });
    expect((await json(res)).results.map((r: { status: number }) => r.status)).toEqual(items.map(() => 200));
  });
});
