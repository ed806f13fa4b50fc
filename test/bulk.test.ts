import { describe, expect, it } from "vitest";
import { type Actor, addMember, connect, count, expectCountsExact, expectProblem, ingestOk, json, newOrg, type TestOrg, walkConversations } from "./helpers";

// SPEC 17 bulk: POST /conversations/bulk, one action on up to 100 conversations in one
// OrgInbox turn; each id answered as its single route would answer it, in request order;
// one conversation.updated per conversation that changed; a bad envelope is 400 and
// changes nothing.

let phones = 0;
const nextPhone = () => `+1415557${String(1000 + ++phones).padStart(4, "0")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString();

/** `n` conversations, each with one inbound message (unread 1). */
async function threads(org: TestOrg, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await ingestOk(org, { contact: { phone: nextPhone() } })).message.conversation_id);
  return ids;
}

const bulk = (org: TestOrg, body: unknown, who: Actor = org.owner, headers?: Record<string, string>) => org.as(who)("/conversations/bulk", { body, headers });

async function bulkOk(org: TestOrg, body: unknown, who: Actor = org.owner) {
  const res = await bulk(org, body, who);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await json(res)).results as { conversation_id: string; status: number; conversation?: any; error?: any }[];
}

const get = async (org: TestOrg, id: string) => json(await org.as(org.owner)(`/conversations/${id}`));

async function createLabel(org: TestOrg, name: string) {
  const res = await org.as(org.owner)("/labels", { body: { name } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await json(res)).id as string;
}

/** The org's conversations as stored (nothing changed ⇔ equal). */
const snapshot = async (org: TestOrg, ids: string[]) => Promise.all(ids.map((id) => get(org, id)));

describe("POST /conversations/bulk", () => {
  it("answers each id in request order as the single route would: 200 with the conversation, 404 for a foreign or unknown id; a repeated id acts once", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const other = await newOrg("B");
    const [a, b] = await threads(org, 2);
    const [foreign] = await threads(other, 1);
    const unknown = crypto.randomUUID();
    const results = await bulkOk(org, { action: "star", conversation_ids: [a, foreign, b.toUpperCase(), unknown, a] }, agent);
    expect(results.map((r) => [r.conversation_id, r.status])).toEqual([
      [a, 200],
      [foreign, 404],
      [b, 200],
      [unknown, 404],
      [a, 200],
    ]);
    expect(results[0].conversation).toMatchObject({ id: a, starred: true, labels: [] });
    expect(results[4].conversation).toEqual(results[0].conversation);
    expect(results[1].error).toMatchObject({ status: 404, code: "not_found", type: "about:blank" });
    expect(results[1].conversation).toBeUndefined();
    // The single route answers the same.
    const single = await org.as(agent)(`/conversations/${foreign}/star`, { method: "POST" });
    await expectProblem(single, 404, "not_found");
    expect((await get(org, a)).starred).toBe(true);
    expect((await get(org, b)).starred).toBe(true);
    expect((await get(other, foreign)).starred).toBe(false);
  });

  it("does each action as its single route does", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const ids = await threads(org, 2);
    const label = await createLabel(org, "VIP");
    const until = Date.now() + 86_400_000;
    const steps: [Record<string, unknown>, (c: any) => void][] = [
      [{ action: "read" }, (c) => expect(c.unread_count).toBe(0)],
      [{ action: "unread" }, (c) => expect(c.unread_count).toBe(1)],
      [{ action: "star" }, (c) => expect(c.starred).toBe(true)],
      [{ action: "unstar" }, (c) => expect(c.starred).toBe(false)],
      [{ action: "archive" }, (c) => expect(c.archived).toBe(true)],
      [{ action: "unarchive" }, (c) => expect(c.archived).toBe(false)],
      [{ action: "assign", assigned_to: agent.userId }, (c) => expect(c.assigned_to).toBe(agent.userId)],
      [{ action: "assign", assigned_to: null }, (c) => expect(c.assigned_to).toBeNull()],
      [{ action: "snooze", until: iso(until) }, (c) => expect(c).toMatchObject({ archived: true, snoozed_until: iso(until) })],
      [{ action: "unarchive" }, (c) => expect(c).toMatchObject({ archived: false, snoozed_until: null })],
      [{ action: "add_labels", label_ids: [label] }, (c) => expect(c.labels.map((l: { id: string }) => l.id)).toEqual([label])],
      [{ action: "remove_labels", label_ids: [label] }, (c) => expect(c.labels).toEqual([])],
    ];
    for (const [body, check] of steps) {
      const results = await bulkOk(org, { ...body, conversation_ids: ids });
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      for (const r of results) {
        check(r.conversation);
        // The answer is the conversation as it is now.
        const { pending_suggestion: _, ...stored } = await get(org, r.conversation_id);
        expect(stored).toEqual(r.conversation);
      }
    }
    await expectCountsExact(org);
  });

  it("an assignee who is not a member: every id 422 assignee_not_member (a foreign one too, as the single route), nothing changed", async () => {
    const org = await newOrg();
    const other = await newOrg("B");
    const ids = await threads(org, 2);
    const [foreign] = await threads(other, 1);
    const before = await snapshot(org, ids);
    const stranger = crypto.randomUUID();
    const results = await bulkOk(org, { action: "assign", assigned_to: stranger, conversation_ids: [...ids, foreign] });
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      [422, "assignee_not_member"],
      [422, "assignee_not_member"],
      [422, "assignee_not_member"],
    ]);
    await expectProblem(await org.as(org.owner)(`/conversations/${foreign}/assign`, { body: { assigned_to: stranger } }), 422, "assignee_not_member");
    expect(await snapshot(org, ids)).toEqual(before);
  });

  it("add_labels and remove_labels: union and difference; an unknown label 422 unknown_label (404 first for a foreign id); past the limit 400", async () => {
    const org = await newOrg();
    const [a, b] = await threads(org, 2);
    const x = await createLabel(org, "x");
    const y = await createLabel(org, "y");
    await bulkOk(org, { action: "add_labels", label_ids: [x], conversation_ids: [a] });
    const added = await bulkOk(org, { action: "add_labels", label_ids: [y, y], conversation_ids: [a, b] });
    expect(added.map((r) => r.conversation.labels.map((l: { name: string }) => l.name))).toEqual([["x", "y"], ["y"]]);
    const removed = await bulkOk(org, { action: "remove_labels", label_ids: [x], conversation_ids: [a, b] });
    expect(removed.map((r) => r.conversation.labels.map((l: { name: string }) => l.name))).toEqual([["y"], ["y"]]);
    // b had no x: nothing written (updated_at kept).
    expect(removed[1].conversation.updated_at).toBe(added[1].conversation.updated_at);

    const before = await snapshot(org, [a, b]);
    const bad = crypto.randomUUID();
    for (const action of ["add_labels", "remove_labels"]) {
      const results = await bulkOk(org, { action, label_ids: [x, bad], conversation_ids: [a, crypto.randomUUID(), b] });
      expect(results.map((r) => [r.status, r.error?.code])).toEqual([
        [422, "unknown_label"],
        [404, "not_found"],
        [422, "unknown_label"],
      ]);
      expect(results[0].error.errors).toEqual([{ path: "label_ids.1", message: "not a label of this org" }]);
    }
    expect(await snapshot(org, [a, b])).toEqual(before);

    // A conversation may have at most 20 labels: an add past it is that id's 400.
    const many: string[] = [];
    for (let i = 0; i < 20; i++) many.push(await createLabel(org, `l${i}`));
    const full = await bulkOk(org, { action: "add_labels", label_ids: many, conversation_ids: [a, b] });
    expect(full.map((r) => [r.status, r.error?.code])).toEqual([
      [400, "validation_failed"],
      [400, "validation_failed"],
    ]);
    expect(await snapshot(org, [a, b])).toEqual(before);
  });

  it("snooze: each archived with snoozed_until; a second snooze moves the time", async () => {
    const org = await newOrg();
    const ids = await threads(org, 3);
    const until = iso(Date.now() + 3_600_000);
    const results = await bulkOk(org, { action: "snooze", until, conversation_ids: ids });
    for (const r of results) expect(r.conversation).toMatchObject({ archived: true, snoozed_until: until });
    expect((await walkConversations(org, "&snoozed=true&archived=true")).map((c) => c.id).sort()).toEqual([...ids].sort());
    // Snoozing again with another time moves it.
    const later = iso(Date.now() + 7_200_000);
    const moved = await bulkOk(org, { action: "snooze", until: later, conversation_ids: ids.slice(0, 1) });
    expect(moved[0].conversation.snoozed_until).toBe(later);
    await expectCountsExact(org);
  });

  it("a bad envelope is 400 for the request and changes nothing", async () => {
    const org = await newOrg();
    const ids = await threads(org, 2);
    const label = await createLabel(org, "x");
    const before = await snapshot(org, ids);
    const events = await count("webhook_events", "org_id = ?", org.orgId);
    const bad: unknown[] = [
      { action: "explode", conversation_ids: ids },
      { action: "star", conversation_ids: [] },
      { action: "star", conversation_ids: Array.from({ length: 101 }, () => crypto.randomUUID()) },
      { action: "star", conversation_ids: ["not-a-uuid"] },
      { action: "star" },
      { conversation_ids: ids },
      { action: "assign", conversation_ids: ids },
      { action: "snooze", conversation_ids: ids },
      { action: "snooze", conversation_ids: ids, until: "tomorrow" },
      { action: "snooze", conversation_ids: ids, until: iso(Date.now() - 60_000) },
      { action: "snooze", conversation_ids: ids, until: iso(Date.now() + 400 * 86_400_000) },
      { action: "add_labels", conversation_ids: ids },
      { action: "remove_labels", conversation_ids: ids, label_ids: [] },
      { action: "star", conversation_ids: ids, until: iso(Date.now() + 60_000) },
      { action: "star", conversation_ids: ids, label_ids: [label] },
      { action: "archive", conversation_ids: ids, assigned_to: null },
      { action: "star", conversation_ids: ids, extra: 1 },
    ];
    for (const body of bad) await expectProblem(await bulk(org, body), 400, "validation_failed");
    expect(await snapshot(org, ids)).toEqual(before);
    expect(await count("webhook_events", "org_id = ?", org.orgId)).toBe(events);
  });

  it("one conversation.updated per conversation that changed (none for an unchanged or refused id)", async () => {
    const org = await newOrg();
    const [a, b, c] = await threads(org, 3);
    await bulkOk(org, { action: "star", conversation_ids: [c] });
    const socket = await connect(org, org.owner);
    const results = await bulkOk(org, { action: "star", conversation_ids: [a, b, c, crypto.randomUUID(), a] });
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 404, 200]);
    await socket.next((e) => e.type === "conversation.updated" && e.data.id === a, "a's event");
    await socket.next((e) => e.type === "conversation.updated" && e.data.id === b, "b's event");
    await sleep(300);
    const updated = socket.seen.filter((e) => e.type === "conversation.updated");
    expect(updated.map((e) => e.data.id).sort()).toEqual([a, b].sort());
    expect(updated.every((e) => e.data.starred === true)).toBe(true);
    socket.close();
  });

  it("honours Idempotency-Key: the same request replays its first answer", async () => {
    const org = await newOrg();
    const ids = await threads(org, 2);
    const key = crypto.randomUUID();
    const first = await bulk(org, { action: "read", conversation_ids: ids }, org.owner, { "idempotency-key": key });
    expect(first.status).toBe(200);
    const body = await first.text();
    const again = await bulk(org, { action: "read", conversation_ids: ids }, org.owner, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.text()).toBe(body);
    await expectProblem(await bulk(org, { action: "unread", conversation_ids: ids }, org.owner, { "idempotency-key": key }), 422, "idempotency_key_reused");
  });

  it("races with single actions on the same ids end in a state some serial order gives, never a 5xx", async () => {
    const org = await newOrg();
    const ids = await threads(org, 4);
    for (let round = 0; round < 5; round++) {
      const [bulkRes, ...singles] = await Promise.all([
        bulk(org, { action: "archive", conversation_ids: ids }),
        ...ids.map((id) => org.as(org.owner)(`/conversations/${id}/archive`, { body: { archived: false } })),
      ]);
      expect(bulkRes.status, await bulkRes.clone().text()).toBe(200);
      const results = (await json(bulkRes)).results;
      // The bulk is one turn: every id of it answered archived, each single unarchived.
      expect(results.map((r: any) => [r.status, r.conversation.archived])).toEqual(ids.map(() => [200, true]));
      const singleAnswers: any[] = [];
      for (const s of singles) {
        expect(s.status).toBe(200);
        singleAnswers.push(await json(s));
      }
      expect(singleAnswers.every((c) => c.archived === false)).toBe(true);
      // Serial orders: for each id, its single before the bulk (archived) or after it (not);
      // what is stored is what the last of the two answered.
      for (const [i, id] of ids.entries()) {
        const now = await get(org, id);
        const last = now.archived ? results[i].conversation : singleAnswers[i];
        expect({ archived: now.archived, updated_at: now.updated_at }).toEqual({ archived: last.archived, updated_at: last.updated_at });
      }
      await expectCountsExact(org);
      // Back to open for the next round.
      await bulkOk(org, { action: "unarchive", conversation_ids: ids });
    }
  });
});
