import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import type { IngestInput } from "../src/org-inbox/ingest";
import { addMember, BASE, connect, count, expectProblem, ingest, json, newOrg, type Socket, shardOf, swapInboxShard, type TestOrg } from "./helpers";

// SPEC 15: OrgInbox commits queued ingests in groups, with exactly the results of one by
// one; POST /activities/batch hands many at once.

const stubOf = (orgId: string) => env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
type Groups = { commits: number; items: number; largest: number; retriedAlone: number };
const groupsOf = (orgId: string) => runInDurableObject(stubOf(orgId), (o) => ({ ...(o as unknown as { groups: Groups }).groups }));

const sms = (phone: string, extra: Record<string, unknown> = {}) => ({
  contact: { phone },
  type: "sms",
  direction: "inbound",
  body: `hello from ${phone}`,
  provider: "twilio",
  provider_message_id: `SM${crypto.randomUUID()}`,
  ...extra,
});

const batch = (org: TestOrg, activities: unknown, headers: Record<string, string> = {}) =>
  org.as(org.owner)("/activities/batch", { body: { activities }, headers });

describe("POST /activities/batch", () => {
  it("answers one result per item in order: stored, duplicates (inside the batch too), invalid and unknown items refused alone", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    expect((await as("/channels", { body: { kind: "sms", address: "+14155557200", provider: "log" } })).status).toBe(201);
    expect((await as("/channels", { body: { kind: "email", address: "help@acme.test", provider: "log" } })).status).toBe(201);
    const already = sms("+14155550301", { provider_message_id: "SM-already" });
    expect((await ingest(org, already)).status).toBe(201);
    const items = [
      sms("+14155550301", { to: "+14155557200" }), // 0: existing contact, a channel
      sms("+14155550302"), // 1: a new contact
      { ...sms("+14155550303"), provider_message_id: "SM-twice" }, // 2
      { ...sms("+14155550303"), provider_message_id: "SM-twice", body: "again" }, // 3: repeats 2
      already, // 4: stored before
      {
        contact: { email: "Priya@Example.org" },
        type: "email",
        direction: "inbound",
        subject: "Hi",
        to: "help@acme.test",
        provider: "postmark",
        provider_message_id: "pm-1",
      }, // 5
      { contact: { phone: "+14155550302" }, type: "note", body: "called back", provider: "crm" }, // 6: a note, same contact as 1
      { contact: { phone: "+14155550304" }, type: "sms" }, // 7: invalid (no direction, no provider)
      { contact: { phone: "not a phone" }, type: "sms", direction: "inbound", provider: "twilio" }, // 8: invalid number
      { contact: { id: crypto.randomUUID() }, type: "note", body: "x", provider: "crm" }, // 9: unknown contact
      sms("+14155550305", { media_ids: [crypto.randomUUID()] }), // 10: unknown media
      "not an object", // 11
    ];
    const res = await batch(org, items);
    expect(res.status, await res.clone().text()).toBe(200);
    const { results } = await json(res);
    expect(results.map((r: { index: number; status: number }) => [r.index, r.status])).toEqual([
      [0, 201],
      [1, 201],
      [2, 201],
      [3, 200],
      [4, 200],
      [5, 201],
      [6, 201],
      [7, 400],
      [8, 400],
      [9, 422],
      [10, 422],
      [11, 400],
    ]);
    expect(results[3]).toMatchObject({ duplicate: true, message: { id: results[2].message.id, body: "hello from +14155550303" } });
    expect(results[4].message.provider_message_id).toBe("SM-already");
    expect(results[7].error).toMatchObject({
      status: 400,
      code: "validation_failed",
      errors: expect.arrayContaining([expect.objectContaining({ path: "provider" })]),
    });
    expect(results[9].error).toMatchObject({ code: "unknown_contact" });
    expect(results[10].error).toMatchObject({ code: "unknown_media" });
    expect(results[6].message.contact_id).toBe(results[1].message.contact_id);
    expect(results[5].message.contact_id).not.toBe(results[1].message.contact_id);
    // Rows: one per stored item, nothing for the refused ones.
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(1 + 5);
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(4);
    const d = await shardOf(org.orgId);
    const row = await d.prepare("SELECT unread_count, last_sms_channel_id FROM conversations WHERE contact_id = ?").bind(results[0].message.contact_id).first();
    expect(row).toEqual({ unread_count: 2, last_sms_channel_id: expect.any(String) });
    const email = await d.prepare("SELECT last_email_channel_id FROM conversations WHERE contact_id = ?").bind(results[5].message.contact_id).first();
    expect(email).toEqual({ last_email_channel_id: expect.any(String) });
    // The counts agree with the list.
    const counts = (await json(await as("/conversations/views/counts"))).data;
    expect(counts.find((v: { key: string }) => v.key === "all").total).toBe(4);
    expect((await json(await as("/conversations?limit=100"))).data).toHaveLength(4);
  });

  it("refuses a bad envelope whole, with nothing stored; an agent may not; Idempotency-Key replays", async () => {
    const org = await newOrg();
    await expectProblem(await batch(org, []), 400, "validation_failed");
    await expectProblem(await batch(org, { a: 1 }), 400, "validation_failed");
    await expectProblem(
      await batch(
        org,
        Array.from({ length: 501 }, (_, i) => sms(`+1415555${String(1000 + (i % 100))}`)),
      ),
      400,
      "validation_failed",
    );
    await expectProblem(await org.as(org.owner)("/activities/batch", { body: { activities: [sms("+14155550401")], more: 1 } }), 400, "validation_failed");
    const big = Array.from({ length: 60 }, () => sms("+14155550402", { body: "x".repeat(90_000) }));
    await expectProblem(await batch(org, big), 413, "payload_too_large");
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/activities/batch", { body: { activities: [sms("+14155550403")] } }), 403, "forbidden");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
    const key = crypto.randomUUID();
    const items = [sms("+14155550404"), sms("+14155550405")];
    const first = await batch(org, items, { "idempotency-key": key });
    const again = await batch(org, items, { "idempotency-key": key });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await json(again)).toEqual(await json(first));
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(2);
  });

  it("stores 500 items in one call, in groups, and a rerun of the same items stores nothing more", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    const items = Array.from({ length: 500 }, (_, i) =>
      sms(`+1415556${String(1000 + (i % 150))}`, { provider_message_id: `SM-bulk-${i}`, occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }),
    );
    const { results } = await json(await batch(org, items));
    expect(results.filter((r: { status: number }) => r.status === 201)).toHaveLength(500);
    const groups = await groupsOf(org.orgId);
    expect(groups.largest).toBeGreaterThan(1);
    expect(groups.items).toBe(500);
    const rerun = await json(await batch(org, items));
    expect(rerun.results.every((r: { status: number; duplicate: boolean }) => r.status === 200 && r.duplicate)).toBe(true);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(500);
    const d = await shardOf(org.orgId);
    const sums = await d.prepare("SELECT count(*) AS conversations, sum(unread_count) AS unread FROM conversations WHERE org_id = ?").bind(org.orgId).first();
    expect(sums).toEqual({ conversations: 150, unread: 500 });
    const tallies = await d.prepare("SELECT sum(n) AS n FROM conversation_tallies WHERE org_id = ?").bind(org.orgId).first();
    expect(tallies).toEqual({ n: 150 });
  });
});

describe("the bench's ceiling route", () => {
  it("is 404 unless BENCH_CEILING=1, and then writes two bare rows an item", async () => {
    const org = await newOrg();
    const { message } = await json(await ingest(org));
    const body = { conversation_id: message.conversation_id, activities: [{ body: "a" }, { body: "b" }, { body: "c" }] };
    await expectProblem(await org.as(org.owner)("/bench/ceiling", { body }), 404, "not_found");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(1);
    const bench = { ...env, BENCH_CEILING: "1" } as unknown as Bindings;
    const headers = { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId, "content-type": "application/json" };
    const res = await app.fetch(new Request(`${BASE}/bench/ceiling`, { method: "POST", headers, body: JSON.stringify(body) }), bench, createExecutionContext());
    expect(await res.json()).toEqual({ stored: 3 });
    expect(await count("activities", "org_id = ? AND provider = 'bench'", org.orgId)).toBe(3);
    const d = await shardOf(org.orgId);
    expect(await d.prepare("SELECT n FROM conversation_tallies WHERE org_id = ? AND assignee = 'bench-ceiling'").bind(org.orgId).first()).toEqual({ n: 3 });
  });
});

describe("group commit", () => {
  it("a D1 failure in a group write: the group is retried one by one, so only the bad item fails", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    await json(await ingest(org)); // the org's shard has rows, so its OrgInbox is resolved
    const d = await shardOf(org.orgId);
    await d
      .prepare(
        `CREATE TRIGGER poison_${org.orgId.replaceAll("-", "")} BEFORE INSERT ON activities WHEN NEW.body = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`,
      )
      .run();
    try {
      const items = Array.from({ length: 10 }, (_, i) => sms(`+1415557${String(1000 + i)}`, i === 4 ? { body: "poison" } : {}));
      const { results } = await json(await batch(org, items));
      expect(results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 201, 500, 201, 201, 201, 201, 201]);
      expect(results[4].error).toMatchObject({ code: "internal" });
      expect((await groupsOf(org.orgId)).retriedAlone).toBe(10);
      expect(await count("activities", "org_id = ? AND body LIKE 'hello from%'", org.orgId)).toBe(9);
      expect(await count("activities", "org_id = ? AND body = 'poison'", org.orgId)).toBe(0);
    } finally {
      await d.prepare(`DROP TRIGGER poison_${org.orgId.replaceAll("-", "")}`).run();
    }
    // Concurrent single requests too: the poisoned one fails alone.
    await d
      .prepare(
        `CREATE TRIGGER poison_${org.orgId.replaceAll("-", "")} BEFORE INSERT ON activities WHEN NEW.body = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`,
      )
      .run();
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => ingest(org, sms(`+1415557${String(2000 + i)}`, i === 7 ? { body: "poison" } : {}))),
      );
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(11);
      expect(statuses[7]).toBe(500);
      await expectProblem(answers[7], 500, "internal");
    } finally {
      await d.prepare(`DROP TRIGGER poison_${org.orgId.replaceAll("-", "")}`).run();
    }
  });

  /** The org's OrgInbox on a D1 whose `nth` batch from now commits and then throws (its answer lost); `probeFails`: reads fail afterwards too. */
  async function loseAnswerOfBatch(orgId: string, nth: number, probeFails: boolean) {
    let calls = 0;
    let broken = false;
    return swapInboxShard(orgId, (real) => {
      const lying = Object.create(real) as D1Database;
      lying.prepare = (query: string) => {
        if (broken && probeFails) throw new Error("D1 unreachable");
        return real.prepare(query);
      };
      lying.batch = (async (statements: D1PreparedStatement[]) => {
        const results = await real.batch(statements);
        if (++calls === nth) {
          broken = true;
          throw new Error("connection reset (after the commit)");
        }
        return results;
      }) as D1Database["batch"];
      return lying;
    });
  }

  it("a group write whose answer is lost after it committed is not replayed: stored once, answered 201, or 500 when D1 cannot tell", async () => {
    for (const probeFails of [false, true]) {
      const org = await newOrg();
      await json(await ingest(org));
      // The batch's group: reads (batch 1: new contacts only, so no reply-wait reads), then the write (batch 2).
      const repair = await loseAnswerOfBatch(org.orgId, 2, probeFails);
      try {
        const items = Array.from({ length: 10 }, (_, i) => sms(`+1415559${String(100 + i)}${probeFails ? 1 : 0}`));
        const { results } = await json(await batch(org, items));
        const statuses = results.map((r: { status: number }) => r.status);
        expect(statuses).toEqual(Array(10).fill(probeFails ? 500 : 201));
        if (probeFails) expect(results[0].error).toMatchObject({ code: "internal" });
        expect((await groupsOf(org.orgId)).retriedAlone).toBe(0);
      } finally {
        await repair();
      }
      expect(await count("activities", "org_id = ? AND body LIKE 'hello from +1415559%'", org.orgId)).toBe(10);
    }
  });

  it("an answer too big to keep for replay frees its Idempotency-Key: the retry runs again and finds duplicates", async () => {
    const org = await newOrg();
    const key = crypto.randomUUID();
    const items = Array.from({ length: 300 }, (_, i) => sms(`+1415553${String(1000 + i)}`, { body: "x".repeat(4_000) }));
    const first = await batch(org, items, { "idempotency-key": key });
    expect(first.status).toBe(200);
    expect((await json(first)).results.every((r: { status: number }) => r.status === 201)).toBe(true);
    const again = await batch(org, items, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect((await json(again)).results.every((r: { status: number; duplicate: boolean }) => r.status === 200 && r.duplicate)).toBe(true);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(300);
    expect(await count("idempotency_keys", "org_id = ?", org.orgId)).toBe(0);
  });

  // The property of SPEC 15: whatever groups the arrivals fall into, the outcome is the
  // outcome of the same arrivals one by one. Two orgs get the same operations: one waits
  // for each answer before sending the next (no group ever forms), the other sends them
  // all without waiting (they queue, and group as they arrive). Everything a client can
  // see must then be the same: every thread, the tallies, the counts, and the events in
  // seq order.
  const PHONES = ["+14155558001", "+14155558002", "+14155558003", "+14155558004"];
  type Op =
    | { op: "ingest"; who: number; type: "sms" | "email" | "call" | "note"; direction: "inbound" | "outbound"; missed: boolean; at: number; sid: number | null }
    | { op: "star" | "read" | "unread"; who: number }
    | { op: "archive"; who: number; archived: boolean }
    | { op: "note"; who: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("ingest" as const),
        who: fc.nat(3),
        type: fc.constantFrom("sms" as const, "email" as const, "call" as const, "note" as const),
        direction: fc.constantFrom("inbound" as const, "outbound" as const),
        missed: fc.boolean(),
        at: fc.integer({ min: -600, max: 600 }),
        sid: fc.option(fc.nat(5), { nil: null }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("star" as const, "read" as const, "unread" as const), who: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("archive" as const), who: fc.nat(3), archived: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("note" as const), who: fc.nat(3) }) },
  );

  const base = Date.UTC(2026, 10, 1, 12);
  const toInput = (o: Extract<Op, { op: "ingest" }>, run: number): IngestInput => ({
    contact: { phone: PHONES[o.who] },
    type: o.type,
    direction: o.type === "note" ? null : o.direction,
    status: o.type === "note" ? "logged" : o.type === "call" ? (o.missed ? "no-answer" : "completed") : o.direction === "inbound" ? "received" : "sent",
    body: `${o.type} ${o.direction} ${o.at}`,
    provider: o.type === "email" ? "postmark" : "twilio",
    providerMessageId: o.sid === null ? null : `run${run}-sid${o.sid}`,
    occurredAt: base + o.at * 1000,
    mediaIds: [],
    call: o.type === "call" ? { durationSeconds: 10 } : null,
  });

  /** Sends every operation to the org's OrgInbox; `wait`: each answer before the next. */
  async function play(org: TestOrg, userId: string, ops: Op[], run: number, threads: string[], wait: boolean) {
    const stub = stubOf(org.orgId) as unknown as Record<string, (...args: unknown[]) => Promise<{ ok?: unknown; error?: { code: string } }>>;
    const pending: Promise<unknown>[] = [];
    for (const o of ops) {
      const call =
        o.op === "ingest"
          ? stub.ingest(org.orgId, toInput(o, run))
          : o.op === "note"
            ? stub.sendMessage(org.orgId, { conversationId: threads[o.who], type: "note", body: "a note", mediaIds: [], authorId: userId })
            : stub.changeState(
                org.orgId,
                threads[o.who],
                o.op === "archive" ? { kind: "archive", archived: o.archived } : o.op === "star" ? { kind: "star", starred: true } : { kind: o.op },
              );
      pending.push(wait ? Promise.resolve(await call) : call);
    }
    // What each operation answered, without its ids: stored or duplicate, or the refusal.
    return (await Promise.all(pending)).map((a) => {
      const answer = a as { ok?: { duplicate?: boolean; activity?: { body: string | null } }; error?: { code: string } };
      return answer.error ? answer.error.code : { duplicate: answer.ok?.duplicate ?? null, body: answer.ok?.activity?.body ?? null };
    });
  }

  /** What a client can see of the org, with its ids replaced by the contact they belong to. */
  async function seen(org: TestOrg, socket: Socket, expected: number | null) {
    const d = await shardOf(org.orgId);
    const { results: threads } = await d
      .prepare(
        `SELECT ct.phone, cv.unread_count, cv.archived, cv.starred, cv.last_activity_type, cv.last_activity_direction, cv.last_activity_preview,
                cv.last_activity_at, cv.sort_at, cv.awaiting_reply_since, cv.sla_due_at
         FROM conversations cv JOIN contacts ct ON ct.id = cv.contact_id WHERE cv.org_id = ? ORDER BY ct.phone`,
      )
      .bind(org.orgId)
      .all();
    const { results: timeline } = await d
      .prepare(
        "SELECT ct.phone, a.type, a.direction, a.status, a.body, a.provider_message_id, a.occurred_at FROM activities a JOIN contacts ct ON ct.id = a.contact_id WHERE a.org_id = ? ORDER BY ct.phone, a.occurred_at, a.body, a.type",
      )
      .bind(org.orgId)
      .all();
    const { results: tallies } = await d
      .prepare("SELECT archived, starred, unread, assignee, n FROM conversation_tallies WHERE org_id = ? AND n != 0 ORDER BY 1, 2, 3, 4")
      .bind(org.orgId)
      .all();
    const { results: days } = await d
      .prepare("SELECT archived, unread, day, n FROM activity_day_tallies WHERE org_id = ? AND n != 0 ORDER BY 1, 2, 3")
      .bind(org.orgId)
      .all();
    const counts = (await json(await org.as(org.owner)("/conversations/views/counts"))).data.map((v: { key: string; total: number; unread: number }) => [
      v.key,
      v.total,
      v.unread,
    ]);
    const phoneOf = new Map<string, string>();
    const { results: ids } = await d
      .prepare("SELECT cv.id, ct.phone FROM conversations cv JOIN contacts ct ON ct.id = cv.contact_id WHERE cv.org_id = ?")
      .bind(org.orgId)
      .all<{ id: string; phone: string }>();
    for (const r of ids) phoneOf.set(r.id, r.phone);
    // The events of the last writes may still be on the wire: wait for as many as the other org got (or a quiet 100 ms).
    for (let i = 0, last = -1; i < 300; i++) {
      const n = socket.seen.filter((e) => e.seq && e.type !== "hello").length;
      if (expected === null ? n === last && i >= 10 : n >= expected) break;
      last = n;
      await new Promise((r) => setTimeout(r, 10));
    }
    const events = socket.seen
      .filter((e) => e.seq && e.type !== "hello")
      .map((e) => ({
        type: e.type,
        phone: phoneOf.get(e.conversation_id),
        data:
          e.type === "conversation.updated"
            ? {
                unread: e.data.unread_count,
                archived: e.data.archived,
                starred: e.data.starred,
                preview: e.data.last_activity?.preview ?? e.data.last_activity_preview ?? null,
                waiting: e.data.awaiting_reply_since,
                due: e.data.sla_due_at,
              }
            : { body: e.data.body, type: e.data.type, direction: e.data.direction, status: e.data.status },
      }));
    // A member's note is stamped with the clock, not the scenario: its times read "now".
    const clock = (rows: Record<string, unknown>[]) =>
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" && v > base + 86_400_000 ? "now" : v])));
    return {
      threads: clock(threads),
      timeline: clock(timeline),
      tallies,
      days: days.map((d) => ({ ...d, day: (d as { day: number }).day > (base + 86_400_000) / 86_400_000 ? "today" : d.day })),
      counts,
      events,
    };
  }

  it("any grouping of the same arrivals gives the state and events of one by one", { timeout: 240_000 }, async () => {
    let run = 0;
    let grouped = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 25 }), async (ops) => {
        run++;
        const outcome: Record<string, Awaited<ReturnType<typeof seen>> & { answers: unknown[] }> = {};
        for (const mode of ["one by one", "grouped"] as const) {
          const org = await newOrg();
          // Every contact has its thread before the run (state changes name it).
          const threads: string[] = [];
          for (const phone of PHONES) {
            const opened = await stubOf(org.orgId).ingest(org.orgId, {
              contact: { phone },
              type: "note",
              direction: null,
              status: "logged",
              body: "start",
              provider: "crm",
              providerMessageId: null,
              occurredAt: base - 3_600_000,
              mediaIds: [],
            });
            threads.push((opened as { ok: { activity: { conversationId: string } } }).ok.activity.conversationId);
          }
          const socket = await connect(org, org.owner);
          const answers = await play(org, org.owner.userId, ops, run, threads, mode === "one by one");
          const expected = mode === "grouped" ? outcome["one by one"].events.length + 4 : null;
          outcome[mode] = { answers, ...(await seen(org, socket, expected)) };
          socket.close();
          const groups = await groupsOf(org.orgId);
          if (mode === "one by one") expect(groups.largest).toBeLessThanOrEqual(1);
          else if (groups.largest > 1) grouped++;
        }
        expect(outcome.grouped).toEqual(outcome["one by one"]);
      }),
      { numRuns: 10, endOnFailure: true },
    );
    // The arrivals did fall into groups (else this proved nothing).
    expect(grouped).toBeGreaterThanOrEqual(5);
  });

  it("under concurrent load a lone ingest waits a millisecond for the next one and they commit together; alone, or after a batch, it does not wait", async () => {
    const org = await newOrg();
    const stub = stubOf(org.orgId);
    const input = (phone: string): IngestInput => ({
      contact: { phone },
      type: "sms",
      direction: "inbound",
      status: "received",
      body: "linger",
      provider: "twilio",
      providerMessageId: `SM${crypto.randomUUID()}`,
      occurredAt: Date.now(),
      mediaIds: [],
    });
    // Inside the object (no RPC latency): one ingest, then another a timer tick later (0 ms,
    // which fires before the wait's 1 ms). Whether they shared a commit is what `groups` counts
    // (commits of two or more items).
    const pairCommits = (a: string, b: string) =>
      runInDurableObject(stub, async (o) => {
        const inbox = o as unknown as { ingest(orgId: string, i: IngestInput): Promise<unknown>; groups: Groups };
        const before = { ...inbox.groups };
        const first = inbox.ingest(org.orgId, input(a));
        await new Promise((r) => setTimeout(r, 0));
        await Promise.all([first, inbox.ingest(org.orgId, input(b))]);
        return { commits: inbox.groups.commits - before.commits, items: inbox.groups.items - before.items };
      });
    const one = (phone: string) => stub.ingest(org.orgId, input(phone));
    // One by one: each alone.
    for (let i = 0; i < 4; i++) await one(`+1415555070${i}`);
    expect((await groupsOf(org.orgId)).commits).toBe(0);
    expect(await pairCommits("+14155550710", "+14155550711")).toEqual({ commits: 0, items: 0 });
    // A batch of 20 is one caller: no load, no wait.
    const batched = await stub.ingestMany(
      org.orgId,
      Array.from({ length: 20 }, (_, i) => input(`+141555509${String(i).padStart(2, "0")}`)),
    );
    expect(batched).toHaveLength(20);
    expect(await pairCommits("+14155550712", "+14155550713")).toEqual({ commits: 0, items: 0 });
    // Concurrent load: bursts of 10 callers at once make the recent groups large; the same pair now shares one commit.
    for (let burst = 0; burst < 3; burst++) await Promise.all(Array.from({ length: 10 }, (_, i) => one(`+141555508${burst}${i}`)));
    expect(await pairCommits("+14155550720", "+14155550721")).toEqual({ commits: 1, items: 2 });
    expect(await count("activities", "org_id = ? AND body = 'linger'", org.orgId)).toBe(4 + 2 + 20 + 2 + 30 + 2);
  });
});
