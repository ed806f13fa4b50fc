import { createExecutionContext, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { rememberedShard, rememberShard } from "../src/db/shards";
import type { Bindings } from "../src/env";
import { ORG_TABLES } from "../src/org-inbox/move";
import {
  BASE,
  call,
  expectCountsExact,
  expectLabelTalliesExact,
  expectProblem,
  ingest,
  ingestOk,
  json,
  newOrgOn,
  orgWithOneOfEach,
  shardNameOf,
  shardNames,
  type TestOrg,
} from "./helpers";

// SPEC 14: moving an org to another shard. The org's OrgInbox holds its writes while it
// copies and verifies, flips orgs.shard, mirrors its writes to the old shard until every
// cache has expired (the alarm, run here at once), then deletes the old rows. A failure
// before the flip leaves the org where it was, whole.

const OPERATOR = env.OPERATOR_TOKEN!;
const binding = (name: string) => (env as unknown as Record<string, D1Database>)[name];
const other = (name: string) => shardNames().find((n) => n !== name)!;

const operator = (path: string, o: { body?: unknown; token?: string | null } = {}) =>
  call(path, { token: o.token === undefined ? OPERATOR : o.token, body: o.body, method: o.body === undefined ? "GET" : "POST" });

const startMove = async (orgId: string, shard: string) => {
  const res = await operator(`/operator/orgs/${orgId}/move`, { body: { shard } });
  expect(res.status, await res.clone().text()).toBe(202);
  return json(res);
};

async function settled(moveId: string) {
  for (let i = 0; i < 600; i++) {
    const move = await json(await operator(`/operator/moves/${moveId}`));
    if (move.status === "done" || move.status === "failed") return move;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`move ${moveId} did not settle`);
}

const inboxOf = (orgId: string) => env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));

/** The end of the cache grace: OrgInbox's alarm, run now instead of in 90 s. */
async function endGrace(orgId: string) {
  expect(await runDurableObjectAlarm(inboxOf(orgId))).toBe(true);
}

/** Every row of the org in one shard, table by table, in a stable order. */
async function orgRows(d: D1Database, orgId: string) {
  const out: Record<string, unknown[]> = {};
  for (const table of ORG_TABLES) {
    const { results } = await d.prepare(`SELECT * FROM ${table} WHERE org_id = ? ORDER BY 1, 2, 3, 4`).bind(orgId).all();
    out[table] = results;
  }
  return out;
}

const rowCount = async (d: D1Database, orgId: string) => Object.values(await orgRows(d, orgId)).reduce((n, rows) => n + rows.length, 0);
const fenceOf = (d: D1Database, orgId: string) => d.prepare("SELECT state FROM org_fences WHERE org_id = ?").bind(orgId).first<{ state: string }>();
const movesOf = async (orgId: string) =>
  (await env.DB.prepare("SELECT id, status FROM org_moves WHERE org_id = ?").bind(orgId).all<{ id: string; status: string }>()).results;

/** What a member sees: the conversation list, each thread's messages, the view counts, the contacts. */
async function memberView(org: TestOrg) {
  const as = org.as(org.owner);
  const conversations = (await json(await as("/conversations?limit=100"))).data;
  const threads: Record<string, unknown> = {};
  for (const c of conversations) threads[c.id] = (await json(await as(`/conversations/${c.id}/messages?limit=100`))).data;
  return {
    conversations,
    threads,
    counts: await json(await as("/conversations/views/counts")),
    contacts: (await json(await as("/contacts?limit=100"))).data,
  };
}

/** An org on `shard` with three labels on six conversations in every (archived, unread) state, and views of them. */
async function labelledOrg(shard: string, base: number) {
  const org = await newOrgOn(shard, "Labelled");
  const as = org.as(org.owner);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await ingestOk(org, { contact: { phone: `+1415555${base + i}` } })).message.conversation_id);
  const labels: string[] = [];
  for (const name of ["red", "green", "blue"]) labels.push((await json(await as("/labels", { body: { name } }))).id);
  for (const [i, id] of ids.entries()) {
    expect((await as(`/conversations/${id}/labels`, { method: "PUT", body: { label_ids: labels.filter((_, l) => (i + l) % 2 === 0) } })).status).toBe(200);
    if (i % 3 === 0) await as(`/conversations/${id}/archive`, { body: { archived: true } });
    if (i % 2 === 0) await as(`/conversations/${id}/read`, { method: "POST" });
  }
  const { data: sys } = await json(await as("/conversations/views"));
  const res = await as("/conversations/views", {
    method: "PUT",
    body: {
      views: [
        ...sys.map((v: { id: string; name: string; filters: unknown }) => ({ id: v.id, name: v.name, filters: v.filters })),
        ...labels.flatMap((l, i) => [
          { name: `L${i}`, filters: { label_ids: [l] } },
          { name: `L${i} open unread`, filters: { label_ids: [l], archived: false, unread: true } },
        ]),
        { name: "L0+L1", filters: { label_ids: [labels[0], labels[1]] } },
      ],
    },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return { org, ids, labels };
}

describe("the operator routes", () => {
  it("answer 404 without OPERATOR_TOKEN, 401 without the token, and refuse bad moves with nothing changed", async () => {
    const org = await newOrgOn("SHARD_0");
    const path = `/operator/orgs/${org.orgId}/move`;
    const without = { ...env, OPERATOR_TOKEN: undefined } as unknown as Bindings;
    const post = (e: Bindings, init: RequestInit) => app.fetch(new Request(`${BASE}${path}`, { method: "POST", ...init }), e, createExecutionContext());
    const body = JSON.stringify({ shard: "SHARD_1" });
    const headers = { "content-type": "application/json", authorization: `Bearer ${OPERATOR}` };
    await expectProblem(await post(without, { body, headers }), 404, "not_found");
    await expectProblem(await post({ ...env, OPERATOR_TOKEN: "short" } as unknown as Bindings, { body, headers }), 404, "not_found");
    await expectProblem(await operator(path, { body: { shard: "SHARD_1" }, token: null }), 401, "unauthenticated");
    await expectProblem(await operator(path, { body: { shard: "SHARD_1" }, token: `${OPERATOR}x` }), 401, "unauthenticated");
    // A member's token is not the operator's.
    await expectProblem(await operator(path, { body: { shard: "SHARD_1" }, token: org.owner.token }), 401, "unauthenticated");
    await expectProblem(await operator(path, { body: {} }), 400, "validation_failed");
    await expectProblem(await operator(path, { body: { shard: "SHARD_1", extra: 1 } }), 400, "validation_failed");
    const unknown = await expectProblem(await operator(path, { body: { shard: "SHARD_9" } }), 422, "unknown_shard");
    expect(unknown.errors).toEqual([expect.objectContaining({ path: "shard" })]);
    await expectProblem(await operator(path, { body: { shard: "SHARD_0" } }), 422, "unknown_shard");
    await expectProblem(await operator(`/operator/orgs/${crypto.randomUUID()}/move`, { body: { shard: "SHARD_1" } }), 404, "not_found");
    await expectProblem(await operator(`/operator/moves/${crypto.randomUUID()}`), 404, "not_found");
    await expectProblem(await operator("/operator/moves/not-a-uuid"), 404, "not_found");
    expect(await movesOf(org.orgId)).toEqual([]);
    expect(await shardNameOf(org.orgId)).toBe("SHARD_0");
    expect(await fenceOf(binding("SHARD_0"), org.orgId)).toBeNull();
  });

  it("documents both routes with the operatorToken scheme", async () => {
    const doc = await json(await call("/openapi.json"));
    expect(doc.components.securitySchemes.operatorToken).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/operator/orgs/{org_id}/move"].post.security).toEqual([{ operatorToken: [] }]);
    expect(doc.paths["/operator/moves/{move_id}"].get.responses["200"]).toBeDefined();
  });
});

describe("a move", () => {
  it("copies every row, verifies, flips, mirrors until the caches expire, then deletes the old rows", async () => {
    const { org, ids } = await orgWithOneOfEach("Mover", "+14155557101", "SHARD_0");
    const as = org.as(org.owner);
    // A setter config, an SLA and a star, so those tables have rows too.
    expect((await as("/setter/config", { method: "PUT", body: { mode: "off", instructions: "Be brief." } })).status).toBe(200);
    expect((await as(`/conversations/${ids.conversation_id}/star`, { method: "POST" })).status).toBe(200);
    const seen = await memberView(org);
    const before = await orgRows(binding("SHARD_0"), org.orgId);
    expect(Object.values(before).filter((rows) => rows.length).length).toBeGreaterThanOrEqual(9);

    const started = await startMove(org.orgId, "SHARD_1");
    expect(started).toMatchObject({ org_id: org.orgId, from: "SHARD_0", to: "SHARD_1", status: "copying", error: null, switched_at: null });
    const done = await settled(started.move_id);
    expect(done.status).toBe("done");
    expect(done.switched_at).not.toBeNull();
    expect(done.old_rows_deleted_at).toBeNull();
    for (const table of ORG_TABLES) expect(done.tables[table], table).toEqual({ copied: before[table].length, total: before[table].length });

    // Everything is in the new shard, the same; the org answers from there, unchanged.
    expect(await shardNameOf(org.orgId)).toBe("SHARD_1");
    expect(await orgRows(binding("SHARD_1"), org.orgId)).toEqual(before);
    expect(await memberView(org)).toEqual(seen);

    // Until the caches expire the old shard keeps a copy, fenced against other writers,
    // and OrgInbox's writes reach it too (a reader with a stale cache sees them).
    expect(await fenceOf(binding("SHARD_0"), org.orgId)).toEqual({ state: "held" });
    await expect(binding("SHARD_0").prepare("UPDATE contacts SET name = 'stale writer' WHERE org_id = ?").bind(org.orgId).run()).rejects.toThrow(/org_moving/);
    const after = await ingestOk(org, { contact: { phone: "+14155559402" }, body: "after the move" });
    for (const shard of ["SHARD_0", "SHARD_1"]) {
      const row = await binding(shard).prepare("SELECT body FROM activities WHERE id = ?").bind(after.message.id).first();
      expect(row, shard).toEqual({ body: "after the move" });
    }
    expect(await fenceOf(binding("SHARD_0"), org.orgId)).toEqual({ state: "moved" });

    await endGrace(org.orgId);
    expect(await rowCount(binding("SHARD_0"), org.orgId)).toBe(0);
    // The fence stays, for requests that started on the old shard before the move.
    expect(await fenceOf(binding("SHARD_0"), org.orgId)).toEqual({ state: "moved" });
    await expect(
      binding("SHARD_0").prepare("INSERT INTO setter_configs (org_id, mode, updated_at) VALUES (?, 'off', 0)").bind(org.orgId).run(),
    ).rejects.toThrow(/org_moving/);
    const finished = await json(await operator(`/operator/moves/${started.move_id}`));
    expect(finished).toMatchObject({ status: "done", old_rows_deleted_at: expect.any(String) });
    // The org works on its new shard, and can move back.
    const back = await startMove(org.orgId, "SHARD_0");
    expect((await settled(back.move_id)).status).toBe("done");
    await endGrace(org.orgId);
    expect(await shardNameOf(org.orgId)).toBe("SHARD_0");
    expect(await rowCount(binding("SHARD_1"), org.orgId)).toBe(0);
    expect(await fenceOf(binding("SHARD_0"), org.orgId)).toBeNull();
    expect(await fenceOf(binding("SHARD_1"), org.orgId)).toEqual({ state: "moved" });
    expect((await orgRows(binding("SHARD_0"), org.orgId)).activities).toHaveLength(before.activities.length + 1);
  });

  it("keeps label tallies exact: the target's are the source's (not counted twice by its triggers), both stay exact while writes are mirrored, the old rows go", async () => {
    const { org, labels } = await labelledOrg("SHARD_0", 7800);
    const source = binding("SHARD_0");
    const target = binding("SHARD_1");
    const tallies = await expectLabelTalliesExact(source, org.orgId);
    expect(tallies.length).toBeGreaterThanOrEqual(4);
    await expectCountsExact(org);
    const seen = await memberView(org);

    const started = await startMove(org.orgId, "SHARD_1");
    const done = await settled(started.move_id);
    expect(done.status).toBe("done");
    expect(done.tables.label_tallies).toEqual({ copied: tallies.length, total: tallies.length });
    expect(await expectLabelTalliesExact(target, org.orgId)).toEqual(tallies);
    expect(await memberView(org)).toEqual(seen);
    await expectCountsExact(org);

    // Mirrored to the old shard until the caches expire: the triggers run on both.
    const as = org.as(org.owner);
    const { data: list } = await json(await as("/conversations?limit=100"));
    expect((await as(`/conversations/${list[0].id}/archive`, { body: { archived: true } })).status).toBe(200);
    expect((await as(`/conversations/${list[1].id}/labels`, { method: "PUT", body: { label_ids: [labels[1]] } })).status).toBe(200);
    await ingestOk(org, { contact: { phone: "+14155557802" } });
    const moved = await expectLabelTalliesExact(target, org.orgId);
    expect(moved).not.toEqual(tallies);
    expect(await expectLabelTalliesExact(source, org.orgId)).toEqual(moved);
    await expectCountsExact(org);

    // The old rows go (label_tallies first, so the links' delete triggers find nothing to move).
    await endGrace(org.orgId);
    expect(await rowCount(source, org.orgId)).toBe(0);
    expect(await source.prepare("SELECT count(*) AS n FROM label_tallies WHERE org_id = ?").bind(org.orgId).first("n")).toBe(0);
    expect(await expectLabelTalliesExact(target, org.orgId)).toEqual(moved);
    await expectCountsExact(org);
  });

  it("a write through a stale cache, refused by the old shard's fence, lands on the new shard", async () => {
    const org = await newOrgOn("SHARD_0");
    const as = org.as(org.owner);
    await ingestOk(org);
    const move = await startMove(org.orgId, "SHARD_1");
    expect((await settled(move.move_id)).status).toBe("done");
    // An isolate that has not heard of the move: its cache still names the old shard.
    const stale = () => rememberShard(org.orgId, "SHARD_0");
    stale();
    // The setter config (not an OrgInbox write) is made on the shard the cache names: the fence refuses it, and it is made again where the org is.
    const put = await as("/setter/config", { method: "PUT", body: { mode: "off", instructions: "After the move." } });
    expect(put.status, await put.clone().text()).toBe(200);
    const config = "SELECT instructions FROM setter_configs WHERE org_id = ?";
    expect(await binding("SHARD_1").prepare(config).bind(org.orgId).first()).toEqual({ instructions: "After the move." });
    expect(await binding("SHARD_0").prepare(config).bind(org.orgId).first()).toBeNull();
    // An idempotent create, the same way: its record is in the new shard and replays.
    stale();
    const key = crypto.randomUUID();
    const body = { contact: { phone: "+14155550177" }, type: "sms", direction: "inbound", body: "keyed", provider: "twilio", provider_message_id: `SM${key}` };
    const first = await as("/activities", { body, headers: { "idempotency-key": key } });
    expect(first.status, await first.clone().text()).toBe(201);
    stale();
    const again = await as("/activities", { body, headers: { "idempotency-key": key } });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await json(again)).toEqual(await json(first));
    const record = "SELECT state FROM idempotency_keys WHERE org_id = ? AND key = ?";
    expect(await binding("SHARD_1").prepare(record).bind(org.orgId, key).first()).toEqual({ state: "done" });
    expect(await binding("SHARD_0").prepare(record).bind(org.orgId, key).first()).toBeNull();
    // An upload the same way.
    stale();
    const form = new FormData();
    form.append("file", new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])], "a.png", { type: "image/png" }));
    const upload = await call("/conversations/media", { token: org.owner.token, org: org.orgId, method: "POST", raw: form });
    expect(upload.status, await upload.clone().text()).toBe(201);
    const { id: mediaId } = await json(upload);
    expect(await binding("SHARD_1").prepare("SELECT status FROM media WHERE id = ?").bind(mediaId).first()).toEqual({ status: "ready" });
    // And the isolate has learned where the org is: the next request goes straight there.
    expect(rememberedShard(org.orgId)?.shard).toBe("SHARD_1");
    await endGrace(org.orgId);
  });

  it("holds, never refuses, 200 ingests and 50 state changes that arrive while it runs: each lands once, on the new shard", { timeout: 120_000 }, async () => {
    const org = await newOrgOn("SHARD_0");
    // 50 threads to star while the move runs.
    const threads: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { message } = await ingestOk(org, { contact: { phone: `+1415555${String(1000 + i)}` }, body: `seed ${i}` });
      threads.push(message.conversation_id);
    }
    const as = org.as(org.owner);
    // History to copy, so the copy takes a while: 6,000 old messages in the first thread.
    const first = await binding("SHARD_0").prepare("SELECT contact_id FROM conversations WHERE id = ?").bind(threads[0]).first<{ contact_id: string }>();
    const old = Array.from({ length: 6000 }, (_, i) => ({
      id: crypto.randomUUID(),
      body: `history ${i} ${"x".repeat(200)}`,
      at: Date.now() - 86_400_000 + i,
    }));
    await binding("SHARD_0")
      .prepare(
        `INSERT INTO activities (id, org_id, conversation_id, contact_id, type, direction, status, body, occurred_at, created_at, updated_at)
         SELECT json_extract(value, '$.id'), ?1, ?2, ?3, 'sms', 'inbound', 'received', json_extract(value, '$.body'), json_extract(value, '$.at'), json_extract(value, '$.at'), json_extract(value, '$.at') FROM json_each(?4)`,
      )
      .bind(org.orgId, threads[0], first!.contact_id, JSON.stringify(old))
      .run();

    const writes: Promise<Response>[] = [];
    const answeredAt: number[] = [];
    const firedWhileCopying: number[] = [];
    const timed = (r: Promise<Response>) => r.then((res) => (answeredAt.push(Date.now()), res));
    const ids = Array.from({ length: 200 }, (_, i) => `SMmove${i}-${crypto.randomUUID()}`);
    const fire = (i: number) => {
      writes.push(timed(ingest(org, { contact: { phone: `+1415556${String(1000 + (i % 80))}` }, provider_message_id: ids[i], body: `during ${i}` })));
      if (i % 4 === 0) writes.push(timed(as(`/conversations/${threads[i / 4]}/star`, { method: "POST" })));
    };
    // Writes before, during and after: in waves while the move reports progress.
    for (let i = 0; i < 20; i++) fire(i);
    const { move_id } = await startMove(org.orgId, "SHARD_1");
    let next = 20;
    while (next < 200) {
      const now = await json(await operator(`/operator/moves/${move_id}`));
      const wave = Math.min(200, next + 15);
      if (now.status === "copying" || now.status === "verifying") for (let i = next; i < wave; i++) firedWhileCopying.push(i);
      for (; next < wave; next++) fire(next);
      await new Promise((r) => setTimeout(r, 20));
    }
    const answers = await Promise.all(writes);
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s >= 400)).toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(200);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    const done = await settled(move_id);
    expect(done.status).toBe("done");
    expect(done.tables.activities.total).toBeGreaterThanOrEqual(6000);
    // Writes came while it copied; they waited, and were answered after the switch.
    expect(firedWhileCopying.length).toBeGreaterThan(0);
    expect(answeredAt.filter((t) => t >= Date.parse(done.switched_at)).length).toBeGreaterThan(0);
    await endGrace(org.orgId);

    const target = binding("SHARD_1");
    expect(await rowCount(binding("SHARD_0"), org.orgId)).toBe(0);
    const { results } = await target
      .prepare("SELECT provider_message_id AS sid, count(*) AS n FROM activities WHERE org_id = ? AND provider_message_id LIKE 'SMmove%' GROUP BY 1")
      .bind(org.orgId)
      .all<{ sid: string; n: number }>();
    expect(results.map((r) => r.sid).sort()).toEqual([...ids].sort());
    expect(results.every((r) => r.n === 1)).toBe(true);
    const starred = await target.prepare("SELECT count(*) AS n FROM conversations WHERE org_id = ? AND starred = 1").bind(org.orgId).first<{ n: number }>();
    expect(starred!.n).toBe(50);
    // Counts equal lists.
    const list: unknown[] = [];
    let cursor: string | null = null;
    do {
      const res = await as(`/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status, await res.clone().text()).toBe(200);
      const page: { data: unknown[]; next_cursor: string | null } = await json(res);
      list.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    const counts = (await json(await as("/conversations/views/counts"))).data;
    const all = counts.find((v: { key: string }) => v.key === "all");
    expect(list).toHaveLength(130);
    expect(all.total).toBe(list.length);
    expect(counts.find((v: { key: string }) => v.key === "starred").total).toBe(50);
    const rows = await target.prepare("SELECT count(*) AS n FROM conversations WHERE org_id = ?").bind(org.orgId).first<{ n: number }>();
    expect(rows!.n).toBe(130);
  });
});

describe("a move that fails", () => {
  /** Makes inserts of the org's activities into `d` fail after `after` rows (a D1 error half-way through the copy). */
  const breakAfter = (d: D1Database, orgId: string, after: number) =>
    d
      .prepare(
        `CREATE TRIGGER inject_move_failure BEFORE INSERT ON activities WHEN NEW.org_id = '${orgId}' AND (SELECT count(*) FROM activities WHERE org_id = '${orgId}') >= ${after} BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END`,
      )
      .run();
  const unbreak = (d: D1Database) => d.prepare("DROP TRIGGER IF EXISTS inject_move_failure").run();
  /** The org is on SHARD_0 as it was (`before`), nothing of it on SHARD_1, no fence left. */
  const expectUnmoved = async (orgId: string, before: Awaited<ReturnType<typeof orgRows>>) => {
    expect(await shardNameOf(orgId)).toBe("SHARD_0");
    expect(await orgRows(binding("SHARD_0"), orgId)).toEqual(before);
    expect(await rowCount(binding("SHARD_1"), orgId)).toBe(0);
    expect(await fenceOf(binding("SHARD_0"), orgId)).toBeNull();
  };

  it("half-way through the copy leaves the org where it was, whole, and writable; a later move succeeds", async () => {
    const org = await newOrgOn("SHARD_0");
    for (let i = 0; i < 6; i++) await ingestOk(org, { contact: { phone: `+1415557${String(1000 + i)}` } });
    const source = binding("SHARD_0");
    const target = binding("SHARD_1");
    const seen = await memberView(org);
    const before = await orgRows(source, org.orgId);
    await breakAfter(target, org.orgId, 3);
    try {
      const { move_id } = await startMove(org.orgId, "SHARD_1");
      const failed = await settled(move_id);
      expect(failed).toMatchObject({ status: "failed", switched_at: null, old_rows_deleted_at: null });
      expect(failed.error).toMatch(/injected D1 failure/);
      // The copy got as far as the activities before it failed.
      expect(failed.tables.contacts).toEqual({ copied: 6, total: 6 });
    } finally {
      await unbreak(target);
    }
    await expectUnmoved(org.orgId, before);
    expect(await memberView(org)).toEqual(seen);
    // Writable where it is, by OrgInbox and by the rest.
    await ingestOk(org, { body: "after the failed move" });
    expect((await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "off" } })).status).toBe(200);
    expect(await rowCount(target, org.orgId)).toBe(0);
    // Not stuck: the next move goes through.
    const again = await startMove(org.orgId, "SHARD_1");
    expect((await settled(again.move_id)).status).toBe("done");
    await endGrace(org.orgId);
    expect((await orgRows(target, org.orgId)).activities).toHaveLength(before.activities.length + 1);
  });

  it("failing half-way through the links (their triggers filling the target's tallies) leaves no tally row in the target", async () => {
    const { org } = await labelledOrg("SHARD_0", 7810);
    const source = binding("SHARD_0");
    const target = binding("SHARD_1");
    const before = await orgRows(source, org.orgId);
    await target
      .prepare(
        `CREATE TRIGGER inject_move_failure BEFORE INSERT ON conversation_labels WHEN NEW.org_id = '${org.orgId}' AND (SELECT count(*) FROM conversation_labels WHERE org_id = '${org.orgId}') >= 3 BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END`,
      )
      .run();
    try {
      const failed = await settled((await startMove(org.orgId, "SHARD_1")).move_id);
      expect(failed.status).toBe("failed");
      expect(failed.error).toMatch(/injected D1 failure/);
    } finally {
      await unbreak(target);
    }
    await expectUnmoved(org.orgId, before);
    expect(await target.prepare("SELECT count(*) AS n FROM label_tallies WHERE org_id = ?").bind(org.orgId).first("n")).toBe(0);
    await expectLabelTalliesExact(source, org.orgId);
    await expectCountsExact(org);
  });

  it("when the copy differs from the source (checksum), it fails the same way", async () => {
    const org = await newOrgOn("SHARD_0");
    await ingestOk(org, { body: "the original" });
    const source = binding("SHARD_0");
    const target = binding("SHARD_1");
    const before = await orgRows(source, org.orgId);
    // The target changes a row as it is written: counts agree, contents do not.
    await target
      .prepare(
        `CREATE TRIGGER inject_move_failure AFTER INSERT ON activities WHEN NEW.org_id = '${org.orgId}' BEGIN UPDATE activities SET body = 'tampered' WHERE id = NEW.id; END`,
      )
      .run();
    try {
      const failed = await settled((await startMove(org.orgId, "SHARD_1")).move_id);
      expect(failed.status).toBe("failed");
      expect(failed.error).toMatch(/activities: .*checksum/);
    } finally {
      await unbreak(target);
    }
    await expectUnmoved(org.orgId, before);
  });
});

describe("starting a move", () => {
  /** The env with OrgInbox's startMove answered by `startMove(real)` instead. */
  const withStart = (startMove: (real: (...a: unknown[]) => Promise<unknown>, args: unknown[]) => Promise<unknown>) => {
    const real = env.ORG_INBOX;
    const ns = {
      idFromName: (name: string) => real.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = real.get(id) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return new Proxy(stub, {
          get: (target, prop) =>
            prop === "startMove" ? (...args: unknown[]) => startMove((...a: unknown[]) => target.startMove(...a), args) : Reflect.get(target, prop),
        });
      },
    };
    return { ...env, ORG_INBOX: ns } as unknown as Bindings;
  };
  const post = (e: Bindings, orgId: string) =>
    app.fetch(
      new Request(`${BASE}/operator/orgs/${orgId}/move`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR}` },
        body: JSON.stringify({ shard: "SHARD_1" }),
      }),
      e,
      createExecutionContext(),
    );

  it("an answer lost after OrgInbox took the move: 202, and the move runs to the end", async () => {
    const org = await newOrgOn("SHARD_0");
    await ingestOk(org);
    let calls = 0;
    const lossy = withStart(async (startMove, args) => {
      const answer = await startMove(...args);
      if (++calls === 1) throw new Error("network connection lost");
      return answer;
    });
    const res = await post(lossy, org.orgId);
    expect(res.status, await res.clone().text()).toBe(202);
    const { move_id } = await json(res);
    expect((await settled(move_id)).status).toBe("done");
    expect(await shardNameOf(org.orgId)).toBe("SHARD_1");
    await endGrace(org.orgId);
  });

  it("an OrgInbox that cannot be reached: 500, the move failed and closed, the org untouched, a later move possible", async () => {
    const org = await newOrgOn("SHARD_0");
    await ingestOk(org);
    const before = await orgRows(binding("SHARD_0"), org.orgId);
    const down = withStart(async () => {
      throw new Error("object unavailable");
    });
    await expectProblem(await post(down, org.orgId), 500, "internal");
    expect(await movesOf(org.orgId)).toEqual([{ id: expect.any(String), status: "failed" }]);
    expect(await shardNameOf(org.orgId)).toBe("SHARD_0");
    expect(await orgRows(binding("SHARD_0"), org.orgId)).toEqual(before);
    const again = await startMove(org.orgId, "SHARD_1");
    expect((await settled(again.move_id)).status).toBe("done");
    await endGrace(org.orgId);
  });
});

describe("one move at a time", () => {
  it("two POSTs at once: one starts, the other is 409 move_in_progress; so is a move whose old rows are not yet deleted", async () => {
    for (let round = 0; round < 5; round++) {
      const org = await newOrgOn("SHARD_0");
      await ingestOk(org);
      const [a, b] = await Promise.all([
        operator(`/operator/orgs/${org.orgId}/move`, { body: { shard: "SHARD_1" } }),
        operator(`/operator/orgs/${org.orgId}/move`, { body: { shard: "SHARD_1" } }),
      ]);
      expect([a.status, b.status].sort()).toEqual([202, 409]);
      const loser = a.status === 409 ? a : b;
      await expectProblem(loser, 409, "move_in_progress");
      const winner = await json(a.status === 202 ? a : b);
      expect((await settled(winner.move_id)).status).toBe("done");
      // Done, but the old rows wait out the caches: still one move at a time.
      await expectProblem(await operator(`/operator/orgs/${org.orgId}/move`, { body: { shard: "SHARD_0" } }), 409, "move_in_progress");
      expect(await movesOf(org.orgId)).toEqual([{ id: winner.move_id, status: "done" }]);
      await endGrace(org.orgId);
    }
  });
});

describe("the fence covers every table", () => {
  it("each shard table with org rows is copied by a move and has its three fence triggers", async () => {
    const d = binding(other("SHARD_0"));
    const { results: tables } = await d
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('org_fences') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY 1",
      )
      .all<{ name: string }>();
    const names: string[] = [];
    for (const { name } of tables) {
      const { results: columns } = await d.prepare(`PRAGMA table_info(${name})`).all<{ name: string }>();
      if (columns.some((c) => c.name === "org_id")) names.push(name);
    }
    expect([...ORG_TABLES].sort()).toEqual(names);
    const { results: triggers } = await d.prepare("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_fence_%'").all<{
      tbl_name: string;
      name: string;
    }>();
    for (const name of names) {
      expect(
        triggers
          .filter((t) => t.tbl_name === name)
          .map((t) => t.name)
          .sort(),
        name,
      ).toEqual([`${name}_fence_delete`, `${name}_fence_insert`, `${name}_fence_update`]);
    }
  });
});
