import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Actor,
  addMember,
  connect,
  count,
  expectCountsExact,
  expectLabelTalliesExact,
  expectProblem,
  ingestOk,
  json,
  newOrg,
  shardOf,
  type TestOrg,
} from "./helpers";

// SPEC 17: labels. CRUD (owner/admin writes), a conversation's labels through OrgInbox,
// the labels on every conversation shape, the label= filter, label_ids in views and their
// counts, and a label's delete from every conversation.

type View = { id: string; name: string; filters: Record<string, unknown> };
type Conv = { id: string; unread_count: number; archived: boolean; labels: { id: string; name: string; color: string | null }[] };

async function createLabel(org: TestOrg, body: Record<string, unknown>) {
  const res = await org.as(org.owner)("/labels", { body });
  expect(res.status, await res.clone().text()).toBe(201);
  return json(res);
}

const setLabels = (org: TestOrg, who: Actor, conversationId: string, labelIds: string[]) =>
  org.as(who)(`/conversations/${conversationId}/labels`, { method: "PUT", body: { label_ids: labelIds } });

async function threads(org: TestOrg, n: number, base: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await ingestOk(org, { contact: { phone: `+1415555${base + i}` } })).message.conversation_id);
  return ids;
}

/** Every conversation of a list query, walked page by page. */
async function walk(org: TestOrg, query: string, limit = 4): Promise<Conv[]> {
  const out: Conv[] = [];
  let cursor: string | null = null;
  do {
    const res = await org.as(org.owner)(`/conversations?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page: { data: Conv[]; next_cursor: string | null } = await json(res);
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

describe("labels CRUD", () => {
  it("creates, reads, lists in name order, changes and deletes; colors are #rrggbb", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const b = await createLabel(org, { name: "billing" });
    const a = await createLabel(org, { name: "Urgent", color: "#FF0000" });
    const c = await createLabel(org, { name: "VIP", color: null });
    expect(a).toMatchObject({ name: "Urgent", color: "#ff0000" });
    expect(b.color).toBeNull();
    expect(c.color).toBeNull();
    expect(await json(await as(`/labels/${a.id}`))).toEqual(a);
    const first = await json(await as("/labels?limit=2"));
    expect(first.data.map((l: { name: string }) => l.name)).toEqual(["billing", "Urgent"]);
    const second = await json(await as(`/labels?limit=2&cursor=${first.next_cursor}`));
    expect(second.data.map((l: { name: string }) => l.name)).toEqual(["VIP"]);
    expect(second.next_cursor).toBeNull();

    const patched = await json(await as(`/labels/${c.id}`, { method: "PATCH", body: { name: "Aaa VIP", color: "#00aa00" } }));
    expect(patched).toMatchObject({ id: c.id, name: "Aaa VIP", color: "#00aa00" });
    // A GET's answer is accepted back by PATCH.
    expect((await as(`/labels/${c.id}`, { method: "PATCH", body: patched })).status).toBe(200);
    // Renaming to its own name in another case is not a conflict.
    expect((await as(`/labels/${c.id}`, { method: "PATCH", body: { name: "AAA vip" } })).status).toBe(200);

    await expectProblem(await as("/labels", { body: { name: "x", color: "red" } }), 400, "validation_failed");
    await expectProblem(await as("/labels", { body: { name: "" } }), 400, "validation_failed");
    await expectProblem(await as("/labels", { body: { name: "x".repeat(41) } }), 400, "validation_failed");
    expect((await as("/labels", { body: { name: "y".repeat(40) } })).status).toBe(201);

    expect((await as(`/labels/${b.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await as(`/labels/${b.id}`), 404, "not_found");
    await expectProblem(await as(`/labels/${b.id}`, { method: "DELETE" }), 404, "not_found");
  });

  it("a taken name is 409 conflict case-insensitively, on create and rename", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    await createLabel(org, { name: "Urgent" });
    const other = await createLabel(org, { name: "Later" });
    await expectProblem(await as("/labels", { body: { name: "uRGENT" } }), 409, "conflict");
    await expectProblem(await as(`/labels/${other.id}`, { method: "PATCH", body: { name: "URGENT" } }), 409, "conflict");
    // Another org may use the name.
    const org2 = await newOrg();
    await createLabel(org2, { name: "urgent" });
  });

  it("agents read, owners and admins write; another org's label is 404", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const admin = await addMember(org, "admin");
    const label = await createLabel(org, { name: "One" });
    expect((await org.as(agent)("/labels")).status).toBe(200);
    expect((await org.as(agent)(`/labels/${label.id}`)).status).toBe(200);
    await expectProblem(await org.as(agent)("/labels", { body: { name: "Two" } }), 403, "forbidden");
    await expectProblem(await org.as(agent)(`/labels/${label.id}`, { method: "PATCH", body: { name: "Two" } }), 403, "forbidden");
    await expectProblem(await org.as(agent)(`/labels/${label.id}`, { method: "DELETE" }), 403, "forbidden");
    expect((await org.as(admin)("/labels", { body: { name: "Two" } })).status).toBe(201);

    const foreign = await newOrg();
    const fas = foreign.as(foreign.owner);
    await expectProblem(await fas(`/labels/${label.id}`), 404, "not_found");
    await expectProblem(await fas(`/labels/${label.id}`, { method: "PATCH", body: { name: "Mine" } }), 404, "not_found");
    await expectProblem(await fas(`/labels/${label.id}`, { method: "DELETE" }), 404, "not_found");
    expect((await fas("/labels")).status).toBe(200);
    expect((await json(await fas("/labels"))).data).toEqual([]);
  });

  it("an org has at most 200 labels (409 after)", async () => {
    const org = await newOrg();
    const shard = await shardOf(org.orgId);
    const now = Date.now();
    const rows = Array.from({ length: 199 }, (_, i) => [crypto.randomUUID(), org.orgId, `L${i}`, `l${i}`, null, now, now]);
    await shard.batch(
      rows.map((r) => shard.prepare("INSERT INTO labels (id, org_id, name, name_key, color, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)").bind(...r)),
    );
    await createLabel(org, { name: "The 200th" });
    await expectProblem(await org.as(org.owner)("/labels", { body: { name: "One too many" } }), 409, "conflict");
  });

  it("POST honours Idempotency-Key: a repeat replays the first answer, one label stored", async () => {
    const org = await newOrg();
    const send = () => org.as(org.owner)("/labels", { body: { name: "Once" }, headers: { "idempotency-key": "lbl-1" } });
    const first = await send();
    expect(first.status).toBe(201);
    const again = await send();
    expect(again.status).toBe(201);
    expect(await json(again)).toEqual(await json(first));
    expect(await count("labels", "org_id = ?", org.orgId)).toBe(1);
  });

  it("two POSTs of one name at once: one 201, one 409", async () => {
    for (let round = 0; round < 5; round++) {
      const org = await newOrg();
      const [a, b] = await Promise.all([org.as(org.owner)("/labels", { body: { name: "Race" } }), org.as(org.owner)("/labels", { body: { name: "RACE" } })]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expect(await count("labels", "org_id = ?", org.orgId)).toBe(1);
    }
  });
});

describe("PUT /conversations/{id}/labels", () => {
  it("sets, reorders by name, clears; the same set writes nothing; the shape shows them on list, detail and events", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const [id] = await threads(org, 1, 7100);
    const z = await createLabel(org, { name: "zeta", color: "#123456" });
    const a = await createLabel(org, { name: "Alpha" });
    const socket = await connect(org, org.owner);
    const res = await setLabels(org, agent, id, [z.id, a.id, z.id]);
    expect(res.status, await res.clone().text()).toBe(200);
    const conv = await json(res);
    const want = [
      { id: a.id, name: "Alpha", color: null },
      { id: z.id, name: "zeta", color: "#123456" },
    ];
    expect(conv.labels).toEqual(want);
    const event = await socket.next((e) => e.type === "conversation.updated" && e.data.id === id && e.data.labels.length === 2, "the labels' event");
    expect(event.data.labels).toEqual(want);
    expect((await json(await org.as(agent)(`/conversations/${id}`))).labels).toEqual(want);
    expect((await json(await org.as(agent)("/conversations"))).data[0].labels).toEqual(want);
    // A search's page reads its labels in the same statement (src/search/queries.ts): the same order.
    expect((await json(await org.as(agent)("/conversations?q=4155557100"))).data.map((c: Conv) => [c.id, c.labels])).toEqual([[id, want]]);
    // A rename shows at once.
    await org.as(org.owner)(`/labels/${a.id}`, { method: "PATCH", body: { name: "omega" } });
    expect((await json(await org.as(agent)(`/conversations/${id}`))).labels.map((l: { name: string }) => l.name)).toEqual(["omega", "zeta"]);

    // The same set: nothing written, updated_at kept, no event.
    const before = await count("webhook_events", "org_id = ?", org.orgId);
    const seen = socket.seen.length;
    const same = await json(await setLabels(org, agent, id, [a.id, z.id]));
    expect(same.updated_at).toBe(conv.updated_at);
    expect(await count("webhook_events", "org_id = ?", org.orgId)).toBe(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(socket.seen.slice(seen).filter((e) => e.type === "conversation.updated")).toEqual([]);

    const cleared = await json(await setLabels(org, agent, id, []));
    expect(cleared.labels).toEqual([]);
    await socket.next((e) => e.type === "conversation.updated" && e.data.id === id && e.data.labels.length === 0, "the clearing event");
    socket.close();
    // Other conversation shapes carry labels too: a conversation without any shows [].
    expect((await json(await org.as(agent)(`/conversations/${id}/star`, { method: "POST" }))).labels).toEqual([]);
    expect((await json(await org.as(agent)("/conversations?q=4155557100"))).data[0].labels).toEqual([]);
  });

  it("an unknown or foreign label id is 422 unknown_label and changes nothing; a foreign conversation is 404; more than 20 is 400", async () => {
    const org = await newOrg();
    const [id] = await threads(org, 1, 7200);
    const mine = await createLabel(org, { name: "Mine" });
    const org2 = await newOrg();
    const theirs = await createLabel(org2, { name: "Theirs" });
    expect((await setLabels(org, org.owner, id, [mine.id])).status).toBe(200);
    const r1 = await setLabels(org, org.owner, id, [theirs.id]);
    const p1 = await expectProblem(r1, 422, "unknown_label");
    expect(p1.errors).toEqual([{ path: "label_ids.0", message: expect.any(String) }]);
    const p2 = await expectProblem(await setLabels(org, org.owner, id, [crypto.randomUUID(), mine.id]), 422, "unknown_label");
    expect(p2.errors?.map((e: { path: string }) => e.path)).toEqual(["label_ids.0"]);
    expect((await json(await org.as(org.owner)(`/conversations/${id}`))).labels.map((l: { id: string }) => l.id)).toEqual([mine.id]);
    await expectProblem(await setLabels(org2, org2.owner, id, [theirs.id]), 404, "not_found");
    const many = Array.from({ length: 21 }, () => crypto.randomUUID());
    await expectProblem(await setLabels(org, org.owner, id, many), 400, "validation_failed");
    await expectProblem(await setLabels(org, org.owner, id, ["nope"]), 400, "validation_failed");
  });

  it("two clients setting one conversation's labels at once, many rounds: the final set is one of the two, never a 5xx", async () => {
    const org = await newOrg();
    const [id] = await threads(org, 1, 7300);
    const ls = await Promise.all(["a", "b", "c", "d"].map((name) => createLabel(org, { name })));
    const setA = [ls[0].id, ls[1].id];
    const setB = [ls[2].id, ls[3].id, ls[0].id];
    const sorted = (ids: string[]) => [...ids].sort();
    for (let round = 0; round < 10; round++) {
      const [x, y] = await Promise.all([setLabels(org, org.owner, id, round % 2 ? setA : setB), setLabels(org, org.owner, id, round % 2 ? setB : setA)]);
      expect([x.status, y.status]).toEqual([200, 200]);
      const now = (await json(await org.as(org.owner)(`/conversations/${id}`))).labels.map((l: { id: string }) => l.id);
      expect([JSON.stringify(sorted(setA)), JSON.stringify(sorted(setB))]).toContain(JSON.stringify(sorted(now)));
    }
  });
});

describe("label filters and view counts", () => {
  it("label= with one and two labels (all must match)", async () => {
    const org = await newOrg();
    const ids = await threads(org, 5, 7400);
    const [x, y] = [await createLabel(org, { name: "x" }), await createLabel(org, { name: "y" })];
    await setLabels(org, org.owner, ids[0], [x.id]);
    await setLabels(org, org.owner, ids[1], [x.id, y.id]);
    await setLabels(org, org.owner, ids[2], [y.id]);
    await setLabels(org, org.owner, ids[3], [x.id, y.id]);
    const of = async (q: string) => (await walk(org, q, 1)).map((c) => c.id).sort();
    expect(await of(`label=${x.id}`)).toEqual([ids[0], ids[1], ids[3]].sort());
    expect(await of(`label=${x.id}&label=${y.id}`)).toEqual([ids[1], ids[3]].sort());
    expect(await of(`label=${y.id}&label=${y.id}`)).toEqual([ids[1], ids[2], ids[3]].sort());
    expect(await of(`label=${crypto.randomUUID()}`)).toEqual([]);
    await expectProblem(await org.as(org.owner)("/conversations?label=nope"), 400, "validation_failed");
  });

  it("views with label_ids: counts equal the walked list after random label, archive, read, assign operations and a label's delete", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(org.owner);
    const ids = await threads(org, 10, 7500);
    const ls = await Promise.all(["red", "green", "blue"].map((name) => createLabel(org, { name })));
    const sys: View[] = (await json(await as("/conversations/views"))).data;
    const res = await as("/conversations/views", {
      method: "PUT",
      body: {
        views: [
          ...sys.map((v) => ({ id: v.id, name: v.name, filters: v.filters })),
          { name: "Red", filters: { label_ids: [ls[0].id] } },
          { name: "Red open", filters: { label_ids: [ls[0].id], archived: false } },
          { name: "Red+Green", filters: { label_ids: [ls[0].id, ls[1].id] } },
          { name: "Blue unread mine", filters: { label_ids: [ls[2].id], unread: true, assigned_to: agent.userId } },
          { name: "Green snoozed", filters: { label_ids: [ls[1].id], snoozed: false } },
          { name: "Blue recent", filters: { label_ids: [ls[2].id], active_within_days: 7 } },
        ],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const check = async (label: string) => {
      const { data: counts } = await json(await as("/conversations/views/counts"));
      const mine: View[] = (await json(await as("/conversations/views"))).data;
      for (const v of mine.filter((v) => v.filters.label_ids)) {
        const walked = await walk(org, `view=${v.id}`, 3);
        const c = counts.find((x: { view_id: string }) => x.view_id === v.id);
        expect({ at: label, view: v.name, total: c.total, unread: c.unread }).toEqual({
          at: label,
          view: v.name,
          total: walked.length,
          unread: walked.filter((w) => w.unread_count > 0).length,
        });
        // Each listed conversation has the view's labels.
        for (const w of walked) for (const l of v.filters.label_ids as string[]) expect(w.labels.map((x) => x.id)).toContain(l);
      }
      return counts;
    };
    for (let step = 0; step < 30; step++) {
      const id = ids[rand(ids.length)];
      switch (rand(6)) {
        case 0:
        case 1:
          expect(
            (
              await setLabels(
                org,
                org.owner,
                id,
                ls.filter(() => rand(2) === 0).map((l) => l.id),
              )
            ).status,
          ).toBe(200);
          break;
        case 2:
          await as(`/conversations/${id}/archive`, { body: { archived: rand(2) === 0 } });
          break;
        case 3:
          await as(`/conversations/${id}/${rand(2) ? "read" : "unread"}`, { method: "POST" });
          break;
        case 4:
          await as(`/conversations/${id}/assign`, { body: { assigned_to: rand(2) ? agent.userId : null } });
          break;
        case 5:
          await ingestOk(org, { contact: { phone: `+1415555${7500 + ids.indexOf(id)}` } });
          break;
      }
      if (step % 10 === 9) await check(`step ${step}`);
    }
    // Every conversation red, then red goes: gone from every conversation, its views count 0.
    for (const id of ids) await setLabels(org, org.owner, id, [ls[0].id, ls[1].id]);
    const before = await check("all red");
    expect(before[4].total).toBe(10);
    const socket = await connect(org, org.owner);
    expect((await as(`/labels/${ls[0].id}`, { method: "DELETE" })).status).toBe(204);
    for (const id of ids) {
      await socket.next(
        (e) => e.type === "conversation.updated" && e.data.id === id && e.data.labels.every((l: { id: string }) => l.id !== ls[0].id),
        `${id}'s event`,
      );
    }
    socket.close();
    expect(await count("conversation_labels", "org_id = ? AND label_id = ?", org.orgId, ls[0].id)).toBe(0);
    for (const c of await walk(org, "archived=true", 100)) expect(c.labels.map((l) => l.name)).toEqual(["green"]);
    for (const c of await walk(org, "archived=false", 100)) expect(c.labels.map((l) => l.name)).toEqual(["green"]);
    const after = await check("after delete");
    expect(after[4].total).toBe(0);
    // The views saved with the deleted label still round-trip.
    const mine: View[] = (await json(await as("/conversations/views"))).data;
    expect((await as("/conversations/views", { method: "PUT", body: { views: mine } })).status).toBe(200);
  });

  it("deleting a label on more conversations than one batch (and one turn) removes it from all", async () => {
    const org = await newOrg();
    const label = await createLabel(org, { name: "Bulk" });
    const [id] = await threads(org, 1, 7600);
    const shard = await shardOf(org.orgId);
    // 950 more conversations carrying it (one contact each), written straight to the shard.
    const now = Date.now();
    const rows = Array.from({ length: 950 }, () => ({ ct: crypto.randomUUID(), cv: crypto.randomUUID() }));
    for (let i = 0; i < rows.length; i += 50) {
      const slice = rows.slice(i, i + 50);
      await shard.batch(
        slice.flatMap((r) => [
          shard.prepare("INSERT INTO contacts (id, org_id, created_at, updated_at) VALUES (?, ?, ?, ?)").bind(r.ct, org.orgId, now, now),
          shard
            .prepare("INSERT INTO conversations (id, org_id, contact_id, sort_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(r.cv, org.orgId, r.ct, now, now, now),
          shard
            .prepare("INSERT INTO conversation_labels (org_id, conversation_id, label_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(org.orgId, r.cv, label.id, now),
        ]),
      );
    }
    await setLabels(org, org.owner, id, [label.id]);
    expect(await count("conversation_labels", "org_id = ?", org.orgId)).toBe(951);
    expect((await org.as(org.owner)(`/labels/${label.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await count("conversation_labels", "org_id = ?", org.orgId)).toBe(0);
    expect(await count("labels", "org_id = ?", org.orgId)).toBe(0);
  });
});

// Issue 20: view counts of one label (and archived/unread) come from label_tallies, kept by
// triggers in the statement of every change (migrations/shard/0016). Every writer that moves a
// labelled conversation between (archived, unread), adds or removes a link, or deletes a label.
type Op =
  | { kind: "set"; c: number; labels: number[] }
  | { kind: "bulk_labels"; op: "add_labels" | "remove_labels"; cs: number[]; labels: number[] }
  | { kind: "archive"; c: number; archived: boolean }
  | { kind: "read"; c: number; read: boolean }
  | { kind: "inbound"; c: number }
  | { kind: "batch_inbound"; cs: number[] }
  | { kind: "note"; c: number }
  | { kind: "assign"; c: number; mine: boolean }
  | { kind: "snooze"; c: number; hours: number }
  | { kind: "wake"; c: number; by: "delete" | "alarm" }
  | { kind: "bulk"; action: "read" | "unread" | "archive" | "unarchive" | "snooze"; cs: number[] }
  | { kind: "delete_label"; l: number };

const N = 6;
const conv = fc.nat(N - 1);
const convs = fc.uniqueArray(conv, { minLength: 1, maxLength: N });
const labelSet = fc.subarray([0, 1, 2]);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), c: conv, labels: labelSet }),
  fc.record({
    kind: fc.constant("bulk_labels" as const),
    op: fc.constantFrom("add_labels" as const, "remove_labels" as const),
    cs: convs,
    labels: fc.subarray([0, 1, 2], { minLength: 1 }),
  }),
  fc.record({ kind: fc.constant("archive" as const), c: conv, archived: fc.boolean() }),
  fc.record({ kind: fc.constant("read" as const), c: conv, read: fc.boolean() }),
  fc.record({ kind: fc.constant("inbound" as const), c: conv }),
  fc.record({ kind: fc.constant("batch_inbound" as const), cs: convs }),
  fc.record({ kind: fc.constant("note" as const), c: conv }),
  fc.record({ kind: fc.constant("assign" as const), c: conv, mine: fc.boolean() }),
  fc.record({ kind: fc.constant("snooze" as const), c: conv, hours: fc.integer({ min: 1, max: 48 }) }),
  fc.record({ kind: fc.constant("wake" as const), c: conv, by: fc.constantFrom("delete" as const, "alarm" as const) }),
  fc.record({
    kind: fc.constant("bulk" as const),
    action: fc.constantFrom("read" as const, "unread" as const, "archive" as const, "unarchive" as const, "snooze" as const),
    cs: convs,
  }),
  fc.record({ kind: fc.constant("delete_label" as const), l: fc.nat(2) }),
);

/** Custom views over the three current labels: the first five from the label tallies, the rest counted on the links. */
const labelViews = (ls: string[], agent: string) => [
  { name: "L0", filters: { label_ids: [ls[0]] } },
  { name: "L0 open", filters: { label_ids: [ls[0]], archived: false } },
  { name: "L1 archived unread", filters: { label_ids: [ls[1]], archived: true, unread: true } },
  { name: "L2 read", filters: { label_ids: [ls[2], ls[2]], unread: false, scope: "team" } },
  { name: "L1 not snoozed", filters: { label_ids: [ls[1]], snoozed: false } },
  { name: "L0 snoozed", filters: { label_ids: [ls[0]], snoozed: true } },
  { name: "L0+L1", filters: { label_ids: [ls[0], ls[1]] } },
  { name: "L2 assigned open", filters: { label_ids: [ls[2]], assigned_to: agent, archived: false } },
];

describe("label tallies", () => {
  it("fast-check: after random label, archive, read, inbound, note, assign, snooze/wake, bulk and label-delete steps, label view counts equal the walked lists and the tallies a recount", {
    timeout: 300_000,
  }, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 8, maxLength: 24 }), async (ops) => {
        run++;
        const org = await newOrg(`Tallies ${run}`);
        const agent = await addMember(org, "agent");
        const as = org.as(org.owner);
        const shard = await shardOf(org.orgId);
        const phone = (c: number) => `+1415556${String(run).padStart(2, "0")}${String(c).padStart(2, "0")}`;
        const ids: string[] = [];
        for (let c = 0; c < N; c++) ids.push((await ingestOk(org, { contact: { phone: phone(c) } })).message.conversation_id as string);
        let made = 0;
        const newLabel = async () => (await createLabel(org, { name: `label ${++made}` })).id as string;
        const ls = [await newLabel(), await newLabel(), await newLabel()];
        const sys: View[] = (await json(await as("/conversations/views"))).data;
        const putViews = async () => {
          const res = await as("/conversations/views", {
            method: "PUT",
            body: {
              views: [...sys.filter((v) => v.name !== "").map((v) => ({ id: v.id, name: v.name, filters: v.filters })), ...labelViews(ls, agent.userId)],
            },
          });
          expect(res.status, await res.clone().text()).toBe(200);
        };
        await putViews();
        const ok = async (res: Response | Promise<Response>, ...statuses: number[]) => {
          const r = await res;
          expect(statuses.length ? statuses : [200], await r.clone().text()).toContain(r.status);
        };
        const later = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
        for (const [step, op] of ops.entries()) {
          switch (op.kind) {
            case "set":
              await ok(
                setLabels(
                  org,
                  org.owner,
                  ids[op.c],
                  op.labels.map((l) => ls[l]),
                ),
              );
              break;
            case "bulk_labels":
              await ok(
                as("/conversations/bulk", { body: { action: op.op, conversation_ids: op.cs.map((c) => ids[c]), label_ids: op.labels.map((l) => ls[l]) } }),
              );
              break;
            case "archive":
              await ok(as(`/conversations/${ids[op.c]}/archive`, { body: { archived: op.archived } }));
              break;
            case "read":
              await ok(as(`/conversations/${ids[op.c]}/${op.read ? "read" : "unread"}`, { method: "POST" }));
              break;
            case "inbound":
              await ingestOk(org, { contact: { phone: phone(op.c) } });
              break;
            case "batch_inbound": {
              const activities = op.cs.map((c, i) => ({
                contact: { phone: phone(c) },
                type: "sms",
                direction: "inbound",
                body: "again",
                provider: "twilio",
                provider_message_id: `SMtally${run}x${step}x${i}`,
              }));
              const res = await as("/activities/batch", { body: { activities } });
              expect(res.status, await res.clone().text()).toBe(200);
              for (const r of (await json(res)).results) expect(r.status).toBe(201);
              break;
            }
            case "note":
              await ok(as(`/conversations/${ids[op.c]}/messages`, { body: { type: "note", body: "a note" } }), 201);
              break;
            case "assign":
              await ok(as(`/conversations/${ids[op.c]}/assign`, { body: { assigned_to: op.mine ? agent.userId : null } }));
              break;
            case "snooze":
              await ok(as(`/conversations/${ids[op.c]}/snooze`, { body: { until: later(op.hours) } }));
              break;
            case "wake":
              if (op.by === "delete") await ok(as(`/conversations/${ids[op.c]}/snooze`, { method: "DELETE" }));
              else await runDurableObjectAlarm(env.ORG_INBOX.get(env.ORG_INBOX.idFromName(org.orgId)));
              break;
            case "bulk":
              await ok(
                as("/conversations/bulk", {
                  body: { action: op.action, conversation_ids: op.cs.map((c) => ids[c]), ...(op.action === "snooze" ? { until: later(2) } : {}) },
                }),
              );
              break;
            case "delete_label": {
              const gone = ls[op.l];
              await ok(as(`/labels/${gone}`, { method: "DELETE" }), 204);
              const { n } = (await shard
                .prepare("SELECT count(*) AS n FROM label_tallies WHERE org_id = ? AND label_id = ?")
                .bind(org.orgId, gone)
                .first<{ n: number }>())!;
              expect(n, "the deleted label's tally rows").toBe(0);
              ls[op.l] = await newLabel();
              await putViews();
              break;
            }
          }
          await expectLabelTalliesExact(shard, org.orgId);
          if (step === Math.floor(ops.length / 2)) await expectCountsExact(org);
        }
        await expectCountsExact(org);
      }),
      { numRuns: 8, seed: 20261128 },
    );
  });

  it("a label's delete removes its tally rows; the other labels' rows are untouched", async () => {
    const org = await newOrg();
    const shard = await shardOf(org.orgId);
    const ids = await threads(org, 4, 7700);
    const [a, b] = [await createLabel(org, { name: "a" }), await createLabel(org, { name: "b" })];
    await org.as(org.owner)(`/conversations/${ids[0]}/archive`, { body: { archived: true } });
    await org.as(org.owner)(`/conversations/${ids[1]}/read`, { method: "POST" });
    for (const id of ids) expect((await setLabels(org, org.owner, id, [a.id, b.id])).status).toBe(200);
    const rows = await expectLabelTalliesExact(shard, org.orgId);
    expect(rows.filter((r) => r.label_id === a.id).map((r) => [r.archived, r.unread, r.n])).toEqual([
      [0, 0, 1],
      [0, 1, 2],
      [1, 1, 1],
    ]);
    expect((await org.as(org.owner)(`/labels/${a.id}`, { method: "DELETE" })).status).toBe(204);
    const after = await expectLabelTalliesExact(shard, org.orgId);
    expect(after.map((r) => r.label_id)).toEqual([b.id, b.id, b.id]);
    await expectCountsExact(org);
  });
});
