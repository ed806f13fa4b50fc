import { describe, expect, it } from "vitest";
import { addMember, count, expectProblem, ingest, ingestOk, json, minutesAgo, newOrg, shardOf } from "./helpers";

describe("POST /activities", () => {
  it("creates contact, conversation and message; the conversation's aggregates follow", async () => {
    const org = await newOrg();
    const at = minutesAgo(5);
    const res = await ingest(org, { contact: { phone: "(415) 555-0142", name: "Maria" }, to: "+14155550100", occurred_at: at, provider_message_id: "SM1" });
    expect(res.status).toBe(201);
    const { message, duplicate } = await json(res);
    expect(duplicate).toBe(false);
    expect(message).toMatchObject({
      type: "sms",
      direction: "inbound",
      status: "received",
      body: "Hi, can I book a cleaning?",
      to: "+14155550100",
      provider: "twilio",
      provider_message_id: "SM1",
      media: [],
      call: null,
      error: null,
      occurred_at: new Date(at).toISOString(),
    });
    const conv = await json(await org.as(org.owner)(`/conversations/${message.conversation_id}`));
    expect(conv).toMatchObject({
      contact: { id: message.contact_id, name: "Maria", phone: "+14155550142", email: null },
      unread_count: 1,
      archived: false,
      starred: false,
      assigned_to: null,
      last_activity: { id: message.id, type: "sms", direction: "inbound", preview: "Hi, can I book a cleaning?" },
      last_activity_at: new Date(at).toISOString(),
      awaiting_reply_since: new Date(at).toISOString(),
      sla_due_at: new Date(Date.parse(at) + 60 * 60_000).toISOString(),
      overdue: false,
      pending_suggestion: null,
    });
  });

  it("25 concurrent identical deliveries → one row and unread_count +1", async () => {
    const org = await newOrg();
    const body = { provider_message_id: "SM-concurrent" };
    const answers = await Promise.all(Array.from({ length: 25 }, () => ingest(org, body)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(24);
    const bodies = await Promise.all(answers.map((r) => json(r)));
    expect(new Set(bodies.map((b) => b.message.id)).size).toBe(1);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SM-concurrent'", org.orgId)).toBe(1);
    expect(await count("conversations", "org_id = ?", org.orgId)).toBe(1);
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(1);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    expect(data[0].unread_count).toBe(1);
  });

  it("redelivery of an old event changes nothing", async () => {
    const org = await newOrg();
    const first = await ingestOk(org, { provider_message_id: "SM-old", occurred_at: minutesAgo(30) });
    await ingestOk(org, { direction: "outbound", body: "Sure, Tuesday?", provider_message_id: "SM-reply", occurred_at: minutesAgo(20) });
    await ingestOk(org, { body: "Tuesday works", provider_message_id: "SM-new", occurred_at: minutesAgo(10) });
    const before = await json(await org.as(org.owner)(`/conversations/${first.message.conversation_id}`));
    const again = await ingest(org, { provider_message_id: "SM-old", occurred_at: minutesAgo(30), body: "different text" });
    expect(again.status).toBe(200);
    const redelivered = await json(again);
    expect(redelivered).toEqual({ message: first.message, duplicate: true });
    const after = await json(await org.as(org.owner)(`/conversations/${first.message.conversation_id}`));
    expect(after).toEqual(before);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(3);
  });

  it("the same provider id under another provider, or in another org, is another event", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    await ingestOk(a, { provider_message_id: "X1" });
    expect((await ingest(a, { provider_message_id: "X1", provider: "postmark", type: "email", contact: { email: "m@x.test" } })).status).toBe(201);
    expect((await ingest(b, { provider_message_id: "X1" })).status).toBe(201);
  });

  it("an email contact, a note and a call each land in the one thread of their contact", async () => {
    const org = await newOrg();
    const sms = await ingestOk(org, { contact: { phone: "+14155550150" } });
    const contactId = sms.message.contact_id;
    const email = await ingestOk(org, {
      contact: { id: contactId },
      type: "email",
      subject: "Booking",
      body: "See attached",
      provider: "postmark",
      from: "Maria@X.test",
    });
    expect(email.message).toMatchObject({ conversation_id: sms.message.conversation_id, subject: "Booking", from: "maria@x.test" });
    const note = await ingestOk(org, {
      contact: { id: contactId },
      type: "note",
      direction: undefined,
      body: "VIP",
      provider: "crm",
      provider_message_id: undefined,
    });
    expect(note.message).toMatchObject({ type: "note", direction: null, status: "logged", author_id: org.owner.userId });
    const call = await ingestOk(org, {
      contact: { id: contactId },
      type: "call",
      body: undefined,
      provider: "twilio",
      provider_message_id: "CA1",
      call: {
        status: "completed",
        duration_seconds: 95,
        transcript: "Hi. I want a cleaning. Tuesday works.",
        recording_url: "https://api.twilio.test/rec/RE1",
      },
    });
    expect(call.message).toMatchObject({
      type: "call",
      status: "completed",
      call: {
        duration_seconds: 95,
        transcript: "Hi. I want a cleaning. Tuesday works.",
        summary: null,
        summary_status: "pending",
        recording_url: "https://api.twilio.test/rec/RE1",
      },
    });
    expect(await count("conversations", "org_id = ?", org.orgId)).toBe(1);
  });

  it("refuses bad input with nothing stored: unknown contact id (422), unknown media (422), bad shapes (400)", async () => {
    const org = await newOrg();
    await expectProblem(await ingest(org, { contact: { id: crypto.randomUUID() } }), 422, "unknown_contact");
    await expectProblem(await ingest(org, { media_ids: [crypto.randomUUID()] }), 422, "unknown_media");
    await expectProblem(await ingest(org, { contact: { phone: "nope" } }), 400, "validation_failed");
    await expectProblem(await ingest(org, { direction: undefined }), 400, "validation_failed");
    await expectProblem(await ingest(org, { type: "note", direction: "inbound" }), 400, "validation_failed");
    await expectProblem(await ingest(org, { type: "call" }), 400, "validation_failed");
    await expectProblem(await ingest(org, { type: "call", call: { status: "completed" } }), 400, "validation_failed");
    await expectProblem(await ingest(org, { type: "call", call: { status: "ringing", duration_seconds: 1 } }), 400, "validation_failed");
    await expectProblem(await ingest(org, { occurred_at: "yesterday" }), 400, "validation_failed");
    await expectProblem(await ingest(org, { sneaky: true }), 400, "validation_failed");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
    expect(await count("conversations", "org_id = ?", org.orgId)).toBe(0);
  });

  it("is for owners and admins: an agent gets 403 and nothing is stored", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const admin = await addMember(org, "admin");
    const body = { contact: { phone: "+14155550160" }, type: "sms", direction: "inbound", body: "x", provider: "twilio", provider_message_id: "SMa" };
    await expectProblem(await org.as(agent)("/activities", { body }), 403, "forbidden");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
    expect((await org.as(admin)("/activities", { body })).status).toBe(201);
  });
});

describe("the reply wait and the default SLA", () => {
  const conv = async (org: Awaited<ReturnType<typeof newOrg>>, id: string) => json(await org.as(org.owner)(`/conversations/${id}`));

  it("an inbound message starts the wait; an ingested outbound reply clears it but leaves unread alone", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org, { occurred_at: minutesAgo(90) });
    let c = await conv(org, message.conversation_id);
    expect(c.overdue).toBe(true);
    expect(c.unread_count).toBe(1);
    await ingestOk(org, { direction: "outbound", body: "Yes!", occurred_at: minutesAgo(80) });
    c = await conv(org, message.conversation_id);
    expect(c).toMatchObject({ awaiting_reply_since: null, sla_due_at: null, overdue: false, unread_count: 1 });
  });

  it("the wait starts at the earliest unanswered inbound, whatever order events arrive in", async () => {
    const org = await newOrg();
    const t1 = minutesAgo(50),
      t2 = minutesAgo(40),
      t3 = minutesAgo(30);
    const { message } = await ingestOk(org, { occurred_at: t3 });
    await ingestOk(org, { occurred_at: t1 });
    let c = await conv(org, message.conversation_id);
    expect(c.awaiting_reply_since).toBe(new Date(t1).toISOString());
    // A reply between t1 and t3, delivered late: the wait now starts at t3.
    await ingestOk(org, { direction: "outbound", occurred_at: t2 });
    c = await conv(org, message.conversation_id);
    expect(c.awaiting_reply_since).toBe(new Date(t3).toISOString());
    expect(c.last_activity_at).toBe(new Date(t3).toISOString());
  });

  it("a missed inbound call starts the wait, an answered one does not; any outbound call clears it", async () => {
    const org = await newOrg();
    const call = (status: string, direction = "inbound") => ({
      type: "call",
      direction,
      body: undefined,
      call: { status, duration_seconds: status === "completed" ? 42 : 0 },
    });
    const answered = await ingestOk(org, { ...call("completed"), contact: { phone: "+14155550170" } });
    expect((await conv(org, answered.message.conversation_id)).awaiting_reply_since).toBeNull();
    const missed = await ingestOk(org, { ...call("no-answer"), contact: { phone: "+14155550170" } });
    expect((await conv(org, missed.message.conversation_id)).awaiting_reply_since).toBe(missed.message.occurred_at);
    await ingestOk(org, { ...call("busy", "outbound"), contact: { phone: "+14155550170" } });
    expect((await conv(org, missed.message.conversation_id)).awaiting_reply_since).toBeNull();
  });

  it("a new inbound activity unarchives the conversation; an outbound one does not", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org);
    const id = message.conversation_id;
    await org.as(org.owner)(`/conversations/${id}/archive`, { body: { archived: true } });
    await ingestOk(org, { direction: "outbound" });
    expect((await conv(org, id)).archived).toBe(true);
    await ingestOk(org);
    expect((await conv(org, id)).archived).toBe(false);
  });

  it("a note changes neither unread nor the wait", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org);
    const before = await conv(org, message.conversation_id);
    await ingestOk(org, { type: "note", direction: undefined, provider_message_id: undefined, provider: "crm", body: "called back later" });
    const after = await conv(org, message.conversation_id);
    expect(after.unread_count).toBe(before.unread_count);
    expect(after.awaiting_reply_since).toBe(before.awaiting_reply_since);
    expect(after.last_activity.type).toBe("note");
  });

  it("stores nothing half-written: the conversation row moves with its activity", async () => {
    const org = await newOrg();
    await ingestOk(org, { provider_message_id: "SM-atomic" });
    const row = await (await shardOf(org.orgId))
      .prepare("SELECT c.last_activity_id, a.id FROM conversations c JOIN activities a ON a.id = c.last_activity_id WHERE c.org_id = ?")
      .bind(org.orgId)
      .first();
    expect(row).not.toBeNull();
  });
});
