import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OrgInbox } from "../src/org-inbox/org-inbox";
import { handleAiJob } from "../src/setter/jobs";
import { count, expectProblem, json, newOrg, rowById, sleep, type TestOrg, twilioPost, until } from "./helpers";

// SPEC 20 scheduled send: stored `scheduled`, released by OrgInbox's alarm at its time
// (checked again: consent, address, channel), canceled by DELETE while still scheduled.
// Twilio lies outside this Worker: answered here at the HTTP boundary; D1, the send queue
// and OrgInbox (its alarm included) are real. The test runtime's runDurableObjectAlarm
// runs the alarm before its time: what was due by the time it was set for is released.

// Requests to Twilio, each test's by its contact's number (a send of an earlier test may reach the fake late).
let sent: URLSearchParams[] = [];
let prompts: string[] = [];
const sentTo = (phone: string) => sent.filter((p) => p.get("To") === phone);
beforeEach(() => {
  sent = [];
  prompts = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const host = new URL(req.url).host;
    if (host === "twilio.fake") {
      sent.push(new URLSearchParams(await req.text()));
      return Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 });
    }
    if (host === "postmark.fake") return Response.json({ MessageID: crypto.randomUUID(), ErrorCode: 0, Message: "OK" });
    if (host === "llm.fake") {
      prompts.push(await req.text());
      return Response.json({ choices: [{ message: { content: "Sure, 9 works" } }] });
    }
    return real(input as RequestInfo, init);
  });
});
afterEach(() => vi.restoreAllMocks());

const inboxOf = (orgId: string) => env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
const alarmOf = (orgId: string) => runInDurableObject(inboxOf(orgId), (_i: OrgInbox, state) => state.storage.getAlarm());
const iso = (ms: number) => new Date(ms).toISOString();

let numbers = 0;
/** An org with an sms channel and a contact who wrote once (so the thread waits for a reply). */
async function setup() {
  const org = await newOrg();
  const n = ++numbers;
  const number = `+1415557${String(5000 + n)}`;
  const phone = `+1415550${String(5000 + n)}`;
  expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
  let k = 0;
  const text = (body: string) =>
    twilioPost("/webhooks/twilio/messages", {
      MessageSid: `SMsched${n}x${++k}x${crypto.randomUUID().slice(0, 8)}`,
      From: phone,
      To: number,
      Body: body,
      NumMedia: "0",
      AccountSid: env.TWILIO_ACCOUNT_SID!,
    });
  expect((await text("When can you come by?")).status).toBe(200);
  const { data } = await json(await org.as(org.owner)("/conversations"));
  return { org, text, phone, conversationId: data[0].id as string, contactId: data[0].contact.id as string };
}

const schedule = (org: TestOrg, conversationId: string, sendAt: unknown, body = "Tomorrow at 9 works") =>
  org.as(org.owner)(`/conversations/${conversationId}/messages`, { body: { type: "sms", body, send_at: sendAt } });
const cancel = (org: TestOrg, conversationId: string, id: string) => org.as(org.owner)(`/conversations/${conversationId}/messages/${id}`, { method: "DELETE" });
const conversation = async (org: TestOrg, id: string) => json(await org.as(org.owner)(`/conversations/${id}`));
const messageOf = async (org: TestOrg, conversationId: string, id: string) => {
  const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
  return data.find((m: { id: string }) => m.id === id);
};

async function scheduled(org: TestOrg, conversationId: string, at: number | string, body?: string) {
  const res = await schedule(org, conversationId, typeof at === "number" ? iso(at) : at, body);
  expect(res.status, await res.clone().text()).toBe(202);
  const m = await json(res);
  expect(m.status).toBe("scheduled");
  return m;
}

describe("scheduling", () => {
  it("202 scheduled, in the thread at its time; the conversation (reply wait, last activity) is untouched until it is sent", async () => {
    const { org, conversationId, phone } = await setup();
    const before = await conversation(org, conversationId);
    expect(before.awaiting_reply_since).not.toBeNull();
    const at = Date.now() + 60_000;
    const m = await scheduled(org, conversationId, at);
    expect(m).toMatchObject({ type: "sms", direction: "outbound", send_at: iso(at), occurred_at: iso(at), to: expect.any(String), error: null });
    // The thread (newest first) shows it first, at its time; the conversation has not moved.
    const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
    expect(data[0]).toMatchObject({ id: m.id, status: "scheduled", send_at: iso(at) });
    const after = await conversation(org, conversationId);
    expect(after.awaiting_reply_since).toBe(before.awaiting_reply_since);
    expect(after.sla_due_at).toBe(before.sla_due_at);
    expect(after.last_activity.id).toBe(before.last_activity.id);
    expect(after.unread_count).toBe(before.unread_count);
    // The alarm is set for it.
    expect(await alarmOf(org.orgId)).toBe(at);
    expect(sentTo(phone)).toHaveLength(0);
  }, 60_000);

  it("sent at its time: queued by the alarm, delivered through Twilio once; the reply wait ends then", async () => {
    const { org, conversationId, phone } = await setup();
    const at = Date.now() + 60_000;
    const m = await scheduled(org, conversationId, at);
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    const done = await until(
      () => messageOf(org, conversationId, m.id),
      (x) => x.status === "sent",
      "the send",
    );
    expect(done.send_at).toBe(iso(at));
    expect(Date.parse(done.occurred_at)).toBeLessThanOrEqual(Date.now());
    expect(sentTo(phone)).toHaveLength(1);
    expect(sentTo(phone)[0].get("Body")).toBe("Tomorrow at 9 works");
    const c = await conversation(org, conversationId);
    expect(c.awaiting_reply_since).toBeNull();
    expect(c.sla_due_at).toBeNull();
    expect(c.last_activity.id).toBe(m.id);
    // Nothing else is due: the alarm is gone.
    expect(await alarmOf(org.orgId)).toBeNull();
  }, 60_000);

  it("the alarm firing twice (even at once) sends it once", async () => {
    const { org, conversationId, phone } = await setup();
    const m = await scheduled(org, conversationId, Date.now() + 60_000);
    await runInDurableObject(inboxOf(org.orgId), async (instance: OrgInbox) => {
      await Promise.all([instance.alarm(), instance.alarm()]);
      await instance.alarm();
    });
    await until(
      () => messageOf(org, conversationId, m.id),
      (x) => x.status === "sent",
      "the send",
    );
    await sleep(500);
    expect(sentTo(phone)).toHaveLength(1);
    expect(await rowById("activities", m.id, "send_attempts")).toEqual({ send_attempts: 1 });
  }, 60_000);

  it("several due together (two in one thread) go out in order, each once; one not yet due stays scheduled", async () => {
    const { org, conversationId, phone } = await setup();
    const t = Date.now() + 60_000;
    const a = await scheduled(org, conversationId, t, "first");
    const b = await scheduled(org, conversationId, t + 1, "second");
    const later = await scheduled(org, conversationId, t + 3_600_000, "later");
    expect(await alarmOf(org.orgId)).toBe(t);
    // Run as if the alarm had been set for t + 1 (both due).
    await runInDurableObject(inboxOf(org.orgId), (_i: OrgInbox, state) => state.storage.put("alarm_at", t + 1));
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    for (const m of [a, b]) {
      await until(
        () => messageOf(org, conversationId, m.id),
        (x) => x.status === "sent",
        "the sends",
      );
    }
    expect(
      sentTo(phone)
        .map((p) => p.get("Body"))
        .sort(),
    ).toEqual(["first", "second"]);
    expect((await messageOf(org, conversationId, later.id)).status).toBe("scheduled");
    expect(await alarmOf(org.orgId)).toBe(t + 3_600_000);
  }, 60_000);

  it("an evicted object still sends it on time (the alarm and the org survive in storage)", async () => {
    const { org, conversationId, phone } = await setup();
    const at = Date.now() + 1500;
    const m = await scheduled(org, conversationId, at);
    await evictDurableObject(inboxOf(org.orgId));
    const done = await until(
      () => messageOf(org, conversationId, m.id),
      (x) => x.status === "sent",
      "the send after eviction",
    );
    expect(Date.parse(done.occurred_at)).toBeGreaterThanOrEqual(at);
    expect(sentTo(phone)).toHaveLength(1);
  }, 60_000);

  it("next_business_open: the next opening of the org's hours; with none kept, at once", async () => {
    const { org, conversationId } = await setup();
    // Open only on the weekday two days from now, 09:00–17:00 UTC.
    const day = new Date(Date.now() + 2 * 86_400_000);
    const weekday = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][day.getUTCDay()];
    const put = await org.as(org.owner)("/conversations/sla", {
      method: "PUT",
      body: { enabled: true, first_response_minutes: 60, business_hours: { timezone: "UTC", days: { [weekday]: [{ start: "09:00", end: "17:00" }] } } },
    });
    expect(put.status, await put.clone().text()).toBe(200);
    const m = await scheduled(org, conversationId, "next_business_open");
    expect(m.send_at).toBe(iso(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 9)));

    // No hours: always open, so it goes now.
    const none = await org.as(org.owner)("/conversations/sla", { method: "PUT", body: { enabled: true, first_response_minutes: 60, business_hours: null } });
    expect(none.status).toBe(200);
    const before = Date.now();
    const now = await scheduled(org, conversationId, "next_business_open", "right away");
    expect(Date.parse(now.send_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(now.send_at)).toBeLessThanOrEqual(Date.now());
    await until(
      () => messageOf(org, conversationId, now.id),
      (x) => x.status === "sent",
      "the send at once",
    );
    expect((await messageOf(org, conversationId, m.id)).status).toBe("scheduled");
  }, 60_000);
});

describe("what a send that never went out is not", () => {
  it("not the thread's newest message for the setter (a draft for a later inbound is stored), nor a line of its prompt", async () => {
    const { org, conversationId, text } = await setup();
    expect((await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "suggestive", instructions: "Be brief." } })).status).toBe(200);
    await scheduled(org, conversationId, Date.now() + 3_600_000, "SCHEDULED-LATER");
    const canceled = await scheduled(org, conversationId, Date.now() + 3_600_000, "CANCELED-LATER");
    expect((await cancel(org, conversationId, canceled.id)).status).toBe(200);
    expect((await text("Is 9 still free?")).status).toBe(200);
    const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
    const trigger = data.find((m: { body: string }) => m.body === "Is 9 still free?");
    await handleAiJob(env, { kind: "draft", orgId: org.orgId, conversationId, triggerId: trigger.id });
    expect((await conversation(org, conversationId)).pending_suggestion).toMatchObject({ body: "Sure, 9 works", channel: "sms" });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toContain("Is 9 still free?");
    expect(prompts[0]).not.toContain("SCHEDULED-LATER");
    expect(prompts[0]).not.toContain("CANCELED-LATER");
  }, 60_000);
});

describe("refusals", () => {
  it("bad send_at → 400 validation_failed, nothing stored", async () => {
    const { org, conversationId } = await setup();
    const stored = await count("activities", "conversation_id = ?", conversationId);
    const nextYear = new Date();
    nextYear.setUTCFullYear(nextYear.getUTCFullYear() + 1);
    for (const bad of [iso(Date.now() - 1000), iso(nextYear.getTime() + 60_000), "tomorrow", 1700000000000, null]) {
      await expectProblem(await schedule(org, conversationId, bad), 400, "validation_failed");
    }
    const note = await org.as(org.owner)(`/conversations/${conversationId}/messages`, {
      body: { type: "note", body: "later", send_at: iso(Date.now() + 60_000) },
    });
    await expectProblem(note, 400, "validation_failed");
    expect(await count("activities", "conversation_id = ?", conversationId)).toBe(stored);
    expect(await alarmOf(org.orgId)).toBeNull();
    // A calendar year ahead, less a minute, is taken.
    expect((await schedule(org, conversationId, iso(nextYear.getTime() - 60_000))).status).toBe(202);
  }, 60_000);

  it("to an opted-out contact → 422 contact_opted_out, nothing stored", async () => {
    const { org, conversationId, text } = await setup();
    expect((await text("STOP")).status).toBe(200);
    const stored = await count("activities", "conversation_id = ?", conversationId);
    await expectProblem(await schedule(org, conversationId, iso(Date.now() + 60_000)), 422, "contact_opted_out");
    expect(await count("activities", "conversation_id = ?", conversationId)).toBe(stored);
  }, 60_000);

  it("a STOP after scheduling: failed with contact_opted_out at send time, nothing sent", async () => {
    const { org, conversationId, text, phone } = await setup();
    const m = await scheduled(org, conversationId, Date.now() + 60_000);
    expect((await text("STOP")).status).toBe(200);
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    const failed = await messageOf(org, conversationId, m.id);
    expect(failed).toMatchObject({ status: "failed", error: { code: "contact_opted_out" } });
    await sleep(300);
    expect(sentTo(phone)).toHaveLength(0);
    // Not a reply: the thread still waits, from its first message (a later inbound does not restart the wait).
    const waiting = (await conversation(org, conversationId)).awaiting_reply_since;
    expect(waiting).not.toBeNull();
    expect((await text("hello?")).status).toBe(200);
    expect((await conversation(org, conversationId)).awaiting_reply_since).toBe(waiting);
  }, 60_000);

  it("the contact's phone removed, or the org's channel deleted, before the time: failed with that code", async () => {
    const { org, conversationId, contactId, phone } = await setup();
    const m = await scheduled(org, conversationId, Date.now() + 60_000);
    const patch = await org.as(org.owner)(`/contacts/${contactId}`, { method: "PATCH", body: { phone: null, email: "x@example.com" } });
    expect(patch.status, await patch.clone().text()).toBe(200);
    expect(await runDurableObjectAlarm(inboxOf(org.orgId))).toBe(true);
    expect(await messageOf(org, conversationId, m.id)).toMatchObject({ status: "failed", error: { code: "contact_unreachable" } });

    const second = await setup();
    const m2 = await scheduled(second.org, second.conversationId, Date.now() + 60_000);
    const { data: chans } = await json(await second.org.as(second.org.owner)("/channels"));
    expect((await second.org.as(second.org.owner)(`/channels/${chans[0].id}`, { method: "DELETE" })).status).toBe(204);
    expect(await runDurableObjectAlarm(inboxOf(second.org.orgId))).toBe(true);
    expect(await messageOf(second.org, second.conversationId, m2.id)).toMatchObject({ status: "failed", error: { code: "no_channel" } });
    expect(sentTo(phone)).toHaveLength(0);
    expect(sentTo(second.phone)).toHaveLength(0);
  }, 60_000);
});

describe("DELETE /conversations/{id}/messages/{message_id}", () => {
  it("cancels a scheduled message (200, canceled): the alarm then sends nothing", async () => {
    const { org, conversationId, phone } = await setup();
    const m = await scheduled(org, conversationId, Date.now() + 60_000);
    const res = await cancel(org, conversationId, m.id);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id: m.id, status: "canceled", send_at: m.send_at });
    await runDurableObjectAlarm(inboxOf(org.orgId));
    await sleep(300);
    expect(sentTo(phone)).toHaveLength(0);
    expect((await messageOf(org, conversationId, m.id)).status).toBe("canceled");
    expect((await conversation(org, conversationId)).awaiting_reply_since).not.toBeNull();
  }, 60_000);

  it("anything not scheduled → 409 not_scheduled; another conversation's or org's message, or none → 404; nothing changes", async () => {
    const { org, conversationId } = await setup();
    const m = await scheduled(org, conversationId, Date.now() + 60_000);
    expect((await cancel(org, conversationId, m.id)).status).toBe(200);
    const canceledRow = await rowById("activities", m.id, "status, updated_at");
    await expectProblem(await cancel(org, conversationId, m.id), 409, "not_scheduled");
    expect(await rowById("activities", m.id, "status, updated_at")).toEqual(canceledRow);

    const now = await org.as(org.owner)(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "now" } });
    const queued = await json(now);
    await expectProblem(await cancel(org, conversationId, queued.id), 409, "not_scheduled");
    const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
    const inbound = data.find((x: { direction: string }) => x.direction === "inbound");
    await expectProblem(await cancel(org, conversationId, inbound.id), 409, "not_scheduled");
    expect((await messageOf(org, conversationId, inbound.id)).status).toBe(inbound.status);

    const other = await setup();
    const theirs = await scheduled(other.org, other.conversationId, Date.now() + 60_000);
    // Another org's message, asked through our conversation or theirs: 404, and it stays scheduled.
    await expectProblem(await cancel(org, conversationId, theirs.id), 404, "not_found");
    await expectProblem(await cancel(org, other.conversationId, theirs.id), 404, "not_found");
    await expectProblem(await cancel(org, conversationId, crypto.randomUUID()), 404, "not_found");
    await expectProblem(await cancel(org, conversationId, "not-a-uuid"), 404, "not_found");
    expect((await messageOf(other.org, other.conversationId, theirs.id)).status).toBe("scheduled");
  }, 60_000);
});

describe("races", () => {
  it("cancel against the alarm, many rounds: canceled and never sent, or sent and the cancel 409; never a 5xx", async () => {
    const { org, conversationId, phone } = await setup();
    let canceled = 0;
    const released: string[] = [];
    for (let round = 0; round < 12; round++) {
      const m = await scheduled(org, conversationId, Date.now() + 60_000, `round ${round}`);
      const [res] = await Promise.all([cancel(org, conversationId, m.id), runDurableObjectAlarm(inboxOf(org.orgId))]);
      expect(res.status).toBeLessThan(500);
      const row = await rowById<{ status: string }>("activities", m.id, "status");
      if (res.status === 200) {
        canceled++;
        expect(row?.status).toBe("canceled");
      } else {
        released.push(m.id);
        await expectProblem(res, 409, "not_scheduled");
        expect(["queued", "sending", "sent"]).toContain(row?.status);
      }
    }
    for (const id of released) {
      await until(
        () => messageOf(org, conversationId, id),
        (x) => x.status === "sent",
        "the released sends",
      );
    }
    await sleep(300);
    expect(sentTo(phone)).toHaveLength(released.length);
    expect(canceled + released.length).toBe(12);
  }, 60_000);

  it("a STOP against the alarm, many rounds: sent before the STOP, or failed contact_opted_out; never both, never a 5xx", async () => {
    for (let round = 0; round < 6; round++) {
      const { org, conversationId, text, phone } = await setup();
      const m = await scheduled(org, conversationId, Date.now() + 60_000);
      const [stop] = await Promise.all([text("STOP"), runDurableObjectAlarm(inboxOf(org.orgId))]);
      expect(stop.status).toBe(200);
      const row = await rowById<{ status: string; error_code: string | null }>("activities", m.id, "status, error_code");
      if (row?.status === "failed") expect(row.error_code).toBe("contact_opted_out");
      else {
        expect(["queued", "sending", "sent"]).toContain(row?.status);
        await until(
          () => messageOf(org, conversationId, m.id),
          (x) => x.status === "sent",
          "the send before the STOP",
        );
      }
      await sleep(200);
      const toThem = sentTo(phone);
      expect(toThem.length).toBe(row?.status === "failed" ? 0 : 1);
    }
  }, 60_000);
});
