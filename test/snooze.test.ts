import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { OrgInbox } from "../src/org-inbox/org-inbox";
import {
  connect,
  expectCountsExact,
  expectProblem,
  ingestOk,
  json,
  newOrg,
  type Socket,
  sleep,
  type TestOrg,
  twilioPost,
  until,
  walkConversations,
} from "./helpers";

// SPEC 17 snooze: archived until a time; woken (unarchived, unread, snoozed_until null, one
// conversation.updated) by OrgInbox's alarm at that time, by an inbound message, or by
// DELETE. The alarm is the object's one alarm (shared with moves), stored, so it survives
// eviction.

const inboxOf = (orgId: string) => env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
const iso = (ms: number) => new Date(ms).toISOString();

let phones = 0;
const nextPhone = () => `+1415558${String(1000 + ++phones).padStart(4, "0")}`;

/** A conversation with one inbound message (unread 1), read at once (unread 0), so a wake's unread is visible. */
async function thread(org: TestOrg, phone = nextPhone()) {
  const { message } = await ingestOk(org, { contact: { phone } });
  const read = await org.as(org.owner)(`/conversations/${message.conversation_id}/read`, { method: "POST" });
  expect(read.status).toBe(200);
  return { id: message.conversation_id as string, phone };
}

const snooze = (org: TestOrg, id: string, until: unknown) => org.as(org.owner)(`/conversations/${id}/snooze`, { body: until === undefined ? {} : { until } });
const unsnooze = (org: TestOrg, id: string) => org.as(org.owner)(`/conversations/${id}/snooze`, { method: "DELETE" });
const get = async (org: TestOrg, id: string) => json(await org.as(org.owner)(`/conversations/${id}`));

async function snoozed(org: TestOrg, id: string, until: number) {
  const res = await snooze(org, id, iso(until));
  expect(res.status, await res.clone().text()).toBe(200);
  const body = await json(res);
  expect(body).toMatchObject({ id, archived: true, snoozed_until: iso(until) });
  return body;
}

const expectAwake = (c: { archived: boolean; snoozed_until: string | null; unread_count: number }) => {
  expect(c.archived).toBe(false);
  expect(c.snoozed_until).toBeNull();
  expect(c.unread_count).toBeGreaterThanOrEqual(1);
};

const alarmOf = (orgId: string) => runInDurableObject(inboxOf(orgId), (_instance: OrgInbox, state) => state.storage.getAlarm());

async function withSnoozeViews(org: TestOrg) {
  const { data: sys } = await json(await org.as(org.owner)("/conversations/views"));
  const res = await org.as(org.owner)("/conversations/views", {
    method: "PUT",
    body: {
      views: [
        ...sys.map((v: any) => ({ id: v.id, name: v.name, filters: v.filters })),
        { name: "Snoozed", filters: { snoozed: true } },
        { name: "Snoozed, unread", filters: { snoozed: true, unread: true } },
        { name: "Archived, not snoozed", filters: { archived: true, snoozed: false } },
        { name: "Not snoozed", filters: { snoozed: false } },
        { name: "Not snoozed, recent", filters: { snoozed: false, active_within_days: 30 } },
        { name: "Snoozed, starred", filters: { snoozed: true, starred: true } },
      ],
    },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("POST /conversations/{id}/snooze", () => {
  it("archives it with snoozed_until; lists filter on snoozed; the alarm is set for it", async () => {
    const org = await newOrg();
    const a = await thread(org);
    const b = await thread(org);
    const at = Date.now() + 3_600_000;
    await snoozed(org, a.id, at);
    expect((await get(org, a.id)).snoozed_until).toBe(iso(at));
    expect((await get(org, b.id)).snoozed_until).toBeNull();
    expect((await walkConversations(org, "")).map((c) => c.id)).toEqual([b.id]);
    // snoozed=true drops the archived=false default (every snoozed one is archived).
    expect((await walkConversations(org, "&snoozed=true")).map((c) => c.id)).toEqual([a.id]);
    expect((await walkConversations(org, "&snoozed=true&archived=false")).map((c) => c.id)).toEqual([]);
    expect((await walkConversations(org, "&archived=true&snoozed=false")).map((c) => c.id)).toEqual([]);
    expect((await walkConversations(org, "&snoozed=false")).map((c) => c.id)).toEqual([b.id]);
    expect(await alarmOf(org.orgId)).toBe(at);
  });

  it("snoozing a snoozed conversation moves its time, and the alarm with it", async () => {
    const org = await newOrg();
    const a = await thread(org);
    const b = await thread(org);
    const first = Date.now() + 3_600_000;
    await snoozed(org, a.id, first);
    await snoozed(org, b.id, first + 60_000);
    expect(await alarmOf(org.orgId)).toBe(first);
    const later = first + 7_200_000;
    await snoozed(org, a.id, later);
    expect(await alarmOf(org.orgId)).toBe(first + 60_000);
    const sooner = Date.now() + 60_000;
    await snoozed(org, a.id, sooner);
    expect(await alarmOf(org.orgId)).toBe(sooner);
    // The same time again changes nothing.
    const before = await get(org, a.id);
    const again = await json(await snooze(org, a.id, iso(sooner)));
    expect(again.updated_at).toBe(before.updated_at);
  });

  it("refuses a past time, more than 365 days ahead, a missing or malformed until: 400, nothing changed", async () => {
    const org = await newOrg();
    const a = await thread(org);
    const before = await get(org, a.id);
    for (const bad of [iso(Date.now() - 1000), iso(Date.now() + 366 * 86_400_000), undefined, "tomorrow", 1700000000000, null]) {
      await expectProblem(await snooze(org, a.id, bad), 400, "validation_failed");
    }
    await expectProblem(
      await org.as(org.owner)(`/conversations/${a.id}/snooze`, { body: { until: iso(Date.now() + 60_000), extra: 1 } }),
      400,
      "validation_failed",
    );
    expect(await get(org, a.id)).toEqual(before);
    expect(await alarmOf(org.orgId)).toBeNull();
    // 365 days ahead is allowed.
    await snoozed(org, a.id, Date.now() + 364 * 86_400_000);
  });

  it("a conversation of another org (or none) is 404, for POST and DELETE", async () => {
    const org = await newOrg();
    const other = await newOrg();
    const a = await thread(org);
    await expectProblem(await snooze(other, a.id, iso(Date.now() + 60_000)), 404, "not_found");
    await expectProblem(await unsnooze(other, a.id), 404, "not_found");
    await expectProblem(await snooze(org, crypto.randomUUID(), iso(Date.now() + 60_000)), 404, "not_found");
    expect((await get(org, a.id)).archived).toBe(false);
  });
});

describe("DELETE /conversations/{id}/snooze", () => {
  it("wakes it now: unarchived, unread, snoozed_until null, one event; on one not snoozed it changes nothing", async () => {
    const org = await newOrg();
    const a = await thread(org);
    await snoozed(org, a.id, Date.now() + 3_600_000);
    const s = await connect(org, org.owner);
    const res = await unsnooze(org, a.id);
    expect(res.status).toBe(200);
    const woken = await json(res);
    expectAwake(woken);
    expect(woken.unread_count).toBe(1);
    const event = await s.next((e) => e.type === "conversation.updated" && e.conversation_id === a.id);
    expectAwake(event.data);
    expect(await alarmOf(org.orgId)).toBeNull();
    // Idempotent: a second DELETE (and one on a never-snoozed thread) answers it unchanged.
    const again = await json(await unsnooze(org, a.id));
    expect(again).toEqual(woken);
    await sleep(200);
    expect(s.seen.filter((e) => e.type === "conversation.updated")).toHaveLength(1);
    s.close();
  });

  it("unarchiving a snoozed conversation ends its snooze", async () => {
    const org = await newOrg();
    const a = await thread(org);
    await snoozed(org, a.id, Date.now() + 3_600_000);
    const res = await json(await org.as(org.owner)(`/conversations/${a.id}/archive`, { body: { archived: false } }));
    expect(res).toMatchObject({ archived: false, snoozed_until: null });
    expect(await alarmOf(org.orgId)).toBeNull();
  });
});

describe("waking at until", () => {
  it("the alarm fires on its own at until and wakes it, with its event", async () => {
    const org = await newOrg();
    const a = await thread(org);
    const s = await connect(org, org.owner);
    await snoozed(org, a.id, Date.now() + 1200);
    const event = await s.next((e) => e.type === "conversation.updated" && e.conversation_id === a.id && e.data.snoozed_until === null, "the wake-up");
    expectAwake(event.data);
    expectAwake(await get(org, a.id));
    expect(await alarmOf(org.orgId)).toBeNull();
    s.close();
  });

  it("run by the test runtime before its time: what was due by the alarm's time wakes, every due one in one run, one event each, then it re-arms", async () => {
    const org = await newOrg();
    const due = [await thread(org), await thread(org), await thread(org)];
    const later = await thread(org);
    const at = Date.now() + 600_000;
    for (const [i, t] of due.entries()) await snoozed(org, t.id, at - i * 1000);
    await snoozed(org, later.id, at + 3_600_000);
    await withSnoozeViews(org);
    await expectCountsExact(org);
    const s = await connect(org, org.owner);
    // First run: only the earliest (the alarm is set for it).
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    expectAwake(await get(org, due[2].id));
    expect((await get(org, due[0].id)).archived).toBe(true);
    expect(await alarmOf(org.orgId)).toBe(at - 1000);
    // Snooze the woken one again with the others: all at `at`.
    await snoozed(org, due[2].id, at);
    await snoozed(org, due[1].id, at);
    expect(await alarmOf(org.orgId)).toBe(at);
    const seenBefore = s.seen.length;
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    for (const t of due) expectAwake(await get(org, t.id));
    expect((await get(org, later.id)).snoozed_until).toBe(iso(at + 3_600_000));
    expect(await alarmOf(org.orgId)).toBe(at + 3_600_000);
    for (const t of due) await s.next((e) => e.type === "conversation.updated" && e.conversation_id === t.id && e.data.snoozed_until === null);
    await sleep(200);
    const woken = s.seen.slice(seenBefore).filter((e) => e.type === "conversation.updated");
    expect(woken.map((e) => e.conversation_id).sort()).toEqual(due.map((t) => t.id).sort());
    await expectCountsExact(org);
    s.close();
  });

  it("an evicted object still wakes it on time (alarm and storage survive)", async () => {
    const org = await newOrg();
    const a = await thread(org);
    const at = Date.now() + 1500;
    await snoozed(org, a.id, at);
    await evictDurableObject(inboxOf(org.orgId));
    const woken = await until(
      () => get(org, a.id),
      (c) => c.snoozed_until === null,
      "the wake-up after eviction",
    );
    expectAwake(woken);
    expect(Date.parse(woken.updated_at)).toBeGreaterThanOrEqual(at);
  });

  it("evicted, then run by the test runtime: the object reads the org and the time from storage", async () => {
    const org = await newOrg();
    const a = await thread(org);
    await snoozed(org, a.id, Date.now() + 600_000);
    await evictDurableObject(inboxOf(org.orgId));
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    expectAwake(await get(org, a.id));
  });
});

describe("an inbound message wakes a snoozed conversation at once", () => {
  const check = async (org: TestOrg, id: string, s: Socket) => {
    const c = await get(org, id);
    expectAwake(c);
    await s.next((e) => e.type === "conversation.updated" && e.conversation_id === id && e.data.snoozed_until === null, "the woken thread's event");
    await expectCountsExact(org);
  };

  it("POST /activities", async () => {
    const org = await newOrg();
    await withSnoozeViews(org);
    const a = await thread(org);
    await snoozed(org, a.id, Date.now() + 3_600_000);
    const s = await connect(org, org.owner);
    await ingestOk(org, { contact: { phone: a.phone } });
    await check(org, a.id, s);
    // An outbound one does not wake it.
    await snoozed(org, a.id, Date.now() + 3_600_000);
    await ingestOk(org, { contact: { phone: a.phone }, direction: "outbound", body: "sent elsewhere" });
    expect((await get(org, a.id)).archived).toBe(true);
    s.close();
  });

  it("the Twilio webhook", async () => {
    const org = await newOrg();
    await withSnoozeViews(org);
    const number = `+1415557${String(5000 + Math.floor(Math.random() * 4000))}`;
    expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
    const a = await thread(org);
    await snoozed(org, a.id, Date.now() + 3_600_000);
    const s = await connect(org, org.owner);
    const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
    const res = await twilioPost("/webhooks/twilio/messages", { MessageSid: sid, SmsSid: sid, From: a.phone, To: number, Body: "Still on?", NumMedia: "0" });
    expect(res.status).toBe(200);
    await check(org, a.id, s);
    s.close();
  });

  it("POST /activities/batch (the group commit), several snoozed threads at once", async () => {
    const org = await newOrg();
    await withSnoozeViews(org);
    const ts = [await thread(org), await thread(org), await thread(org)];
    for (const t of ts) await snoozed(org, t.id, Date.now() + 3_600_000);
    const s = await connect(org, org.owner);
    const activities = ts.flatMap((t) =>
      [1, 2].map((n) => ({
        contact: { phone: t.phone },
        type: "sms",
        direction: "inbound",
        body: `again ${n}`,
        provider: "twilio",
        provider_message_id: `SM${crypto.randomUUID()}`,
      })),
    );
    const res = await org.as(org.owner)("/activities/batch", { body: { activities } });
    expect(res.status, await res.clone().text()).toBe(200);
    for (const t of ts) {
      await check(org, t.id, s);
      expect((await get(org, t.id)).unread_count).toBe(2);
    }
    s.close();
  });
});

describe("snooze racing inbound messages", () => {
  it("many rounds: each ends as some serial order would (snoozed, or woken by the message); never a 5xx; counts exact", async () => {
    const org = await newOrg();
    await withSnoozeViews(org);
    const ts = [await thread(org), await thread(org), await thread(org), await thread(org)];
    for (let round = 0; round < 6; round++) {
      const at = Date.now() + 3_600_000 + round;
      const answers = await Promise.all(
        ts.flatMap((t) => [
          snooze(org, t.id, iso(at)),
          org.as(org.owner)("/activities", {
            body: {
              contact: { phone: t.phone },
              type: "sms",
              direction: "inbound",
              body: `r${round}`,
              provider: "twilio",
              provider_message_id: `SM${crypto.randomUUID()}`,
            },
          }),
          ...(round % 2 ? [unsnooze(org, t.id)] : []),
        ]),
      );
      for (const r of answers) expect(r.status, await r.clone().text()).toBeLessThan(500);
      for (const t of ts) {
        const c = await get(org, t.id);
        expect(c.unread_count).toBeGreaterThanOrEqual(1);
        // Snoozed last (archived, until) or woken last (open, no time): never in between.
        if (c.archived) expect(c.snoozed_until).toBe(iso(at));
        else expect(c.snoozed_until).toBeNull();
      }
    }
    await expectCountsExact(org);
    const alarm = await alarmOf(org.orgId);
    const snoozedNow = await walkConversations(org, "&snoozed=true");
    // Set for the earliest wake-up, or earlier (a message that wakes a thread does not re-arm:
    // the alarm then finds nothing due and re-arms).
    if (snoozedNow.length) expect(alarm).toBeLessThanOrEqual(Math.min(...snoozedNow.map((c) => Date.parse(c.snoozed_until))));
  });
});
