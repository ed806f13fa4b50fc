import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleAiJob } from "../src/setter/jobs";
import { addMember, connect, count, expectProblem, json, newOrg, postmarkPost, rowById, type TestOrg, twilioPost } from "./helpers";

// SPEC 19: consent per contact and channel. Twilio, Postmark and the LLM lie outside this
// Worker: answered here at the HTTP boundary; D1, the queues and OrgInbox are real.

type Seen = { host: string; body: string };
let seen: Seen[] = [];
let twilioAnswer: () => Response = () => Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 });
beforeEach(() => {
  seen = [];
  twilioAnswer = () => Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 });
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const host = new URL(req.url).host;
    if (host === "twilio.fake") {
      seen.push({ host, body: await req.text() });
      return twilioAnswer();
    }
    if (host === "postmark.fake") return Response.json({ MessageID: crypto.randomUUID(), ErrorCode: 0, Message: "OK" });
    if (host === "llm.fake") {
      seen.push({ host, body: await req.text() });
      return Response.json({ choices: [{ message: { content: "A draft" } }] });
    }
    return real(input as RequestInfo, init);
  });
});
afterEach(() => vi.restoreAllMocks());

let numbers = 0;
/** An org with an sms channel and a contact who wrote once; answers the ids and a way to text in as the contact. */
async function setup(phone = "+14155550400") {
  const org = await newOrg();
  const number = `+1415557${String(1000 + ++numbers)}`;
  expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
  let n = 0;
  const text = (body: string) =>
    twilioPost("/webhooks/twilio/messages", {
      MessageSid: `SMconsent${numbers}x${++n}x${crypto.randomUUID().slice(0, 8)}`,
      From: phone,
      To: number,
      Body: body,
      NumMedia: "0",
      AccountSid: env.TWILIO_ACCOUNT_SID!,
    });
  expect((await text("Hello")).status).toBe(200);
  const { data } = await json(await org.as(org.owner)("/conversations"));
  return { org, number, text, conversationId: data[0].id as string, contactId: data[0].contact.id as string };
}

const contactOf = (org: TestOrg, id: string) => org.as(org.owner)(`/contacts/${id}`).then(json);
const send = (org: TestOrg, conversationId: string, type: "sms" | "email" = "sms") =>
  org.as(org.owner)(`/conversations/${conversationId}/messages`, { body: { type, body: "Following up", ...(type === "email" ? { subject: "Hi" } : {}) } });

describe("SMS keywords", () => {
  it("each opt-out and opt-in keyword, in any case and with spaces, changes consent; the message is stored as usual", async () => {
    const { org, text, contactId, conversationId } = await setup("+14155550401");
    const words = [
      ["STOP", true],
      ["start", false],
      ["  StopAll ", true],
      ["Yes", false],
      ["unsubscribe", true],
      ["UNSTOP", false],
      ["cancel", true],
      ["OptIn", false],
      [" end", true],
      ["START", false],
      ["quit ", true],
      ["start", false],
      ["OPTOUT", true],
    ] as const;
    for (const [word, out] of words) {
      expect((await text(word)).status).toBe(200);
      const contact = await contactOf(org, contactId);
      expect(contact.sms_opt_out, word).toBe(out);
      expect(contact.sms_opt_out_at).not.toBeNull();
      expect(contact.email_opt_out).toBe(false);
    }
    const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
    expect(data.filter((m: { direction: string }) => m.direction === "inbound")).toHaveLength(words.length + 1);
  });

  it("a keyword that is not the whole body changes nothing; a repeated STOP changes nothing more", async () => {
    const { org, text, contactId } = await setup("+14155550402");
    for (const body of ["stop please", "Please STOP", "STOP!", "S T O P", "startle"]) {
      expect((await text(body)).status).toBe(200);
      expect((await contactOf(org, contactId)).sms_opt_out, body).toBe(false);
    }
    expect((await text("STOP")).status).toBe(200);
    const at = (await contactOf(org, contactId)).sms_opt_out_at;
    expect((await text("stop")).status).toBe(200);
    expect((await contactOf(org, contactId)).sms_opt_out_at).toBe(at);
  });

  it("a batch import applies keywords in order, the last one winning", async () => {
    const org = await newOrg();
    const item = (body: string, i: number) => ({
      contact: { phone: "+14155550403" },
      type: "sms",
      direction: "inbound",
      body,
      provider: "twilio",
      provider_message_id: `SMbatchconsent${i}`,
    });
    const res = await org.as(org.owner)("/activities/batch", { body: { activities: ["hi", "STOP", "START", "stop"].map(item) } });
    expect(res.status).toBe(200);
    const { results } = await json(res);
    const contactId = results[0].message.contact_id;
    expect((await contactOf(org, contactId)).sms_opt_out).toBe(true);
    // And again for a contact that existed before the batch.
    const again = await org.as(org.owner)("/activities/batch", { body: { activities: ["start", "yes please"].map((b, i) => item(b, 10 + i)) } });
    expect(again.status).toBe(200);
    expect((await contactOf(org, contactId)).sms_opt_out).toBe(false);
  });
});

describe("sends to an opted-out contact", () => {
  it("STOP then a send → 422 contact_opted_out, nothing stored or queued; START then a send → 202", async () => {
    const { org, text, conversationId } = await setup("+14155550411");
    expect((await text("STOP")).status).toBe(200);
    const before = await count("activities", "org_id = ? AND direction = 'outbound'", org.orgId);
    await expectProblem(await send(org, conversationId), 422, "contact_opted_out");
    expect(await count("activities", "org_id = ? AND direction = 'outbound'", org.orgId)).toBe(before);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((s) => s.host === "twilio.fake")).toHaveLength(0);
    // A note is not a send: still allowed.
    expect((await org.as(org.owner)(`/conversations/${conversationId}/messages`, { body: { type: "note", body: "They said stop" } })).status).toBe(201);
    expect((await text("START")).status).toBe(200);
    expect((await send(org, conversationId)).status).toBe(202);
  });

  it("email opt-out refuses email and not sms", async () => {
    const { org, contactId, conversationId } = await setup("+14155550412");
    expect(
      (await org.as(org.owner)("/channels", { body: { kind: "email", address: `in-${org.orgId.slice(-6)}@acme.test`, provider: "postmark" } })).status,
    ).toBe(201);
    expect((await org.as(org.owner)(`/contacts/${contactId}`, { method: "PATCH", body: { email: "ana@example.com", email_opt_out: true } })).status).toBe(200);
    await expectProblem(await send(org, conversationId, "email"), 422, "contact_opted_out");
    expect((await send(org, conversationId, "sms")).status).toBe(202);
  });

  it("a STOP webhook and a send at the same moment, 50 times: the outcome is one of the two serial orders, never a 5xx", { timeout: 120_000 }, async () => {
    const { org, text, contactId, conversationId } = await setup("+14155550413");
    let refused = 0;
    let sent = 0;
    for (let round = 0; round < 50; round++) {
      expect((await text("START")).status).toBe(200);
      const [stop, answer] = await Promise.all([text("STOP"), send(org, conversationId)]);
      expect(stop.status).toBe(200);
      expect([202, 422]).toContain(answer.status);
      const contact = await contactOf(org, contactId);
      expect(contact.sms_opt_out).toBe(true);
      if (answer.status === 422) {
        expect((await json(answer)).code).toBe("contact_opted_out");
        refused++;
      } else {
        // Sent: it was stored before the STOP committed.
        const message = await json(answer);
        expect(Date.parse(message.created_at)).toBeLessThanOrEqual(Date.parse(contact.sms_opt_out_at));
        sent++;
      }
    }
    expect(refused + sent).toBe(50);
    expect(await count("activities", "org_id = ? AND direction = 'outbound' AND type = 'sms'", org.orgId)).toBe(sent);
  });

  it("Twilio 21610 on a send fails the message and opts the contact out", async () => {
    const { org, contactId, conversationId } = await setup("+14155550414");
    twilioAnswer = () => Response.json({ code: 21610, message: "Attempt to send to unsubscribed recipient" }, { status: 400 });
    const queued = await json(await send(org, conversationId));
    const until = Date.now() + 20_000;
    let message: { status: string; error: { code: string } | null } | undefined;
    while (Date.now() < until) {
      const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
      message = data.find((m: { id: string }) => m.id === queued.id);
      if (message?.status === "failed") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(message).toMatchObject({ status: "failed", error: { code: "21610" } });
    expect((await contactOf(org, contactId)).sms_opt_out).toBe(true);
    await expectProblem(await send(org, conversationId), 422, "contact_opted_out");
  });
});

describe("Postmark", () => {
  const change = (recipient: string, suppress: boolean, metadata?: Record<string, string>) => ({
    RecordType: "SubscriptionChange",
    MessageID: crypto.randomUUID(),
    ServerID: 1,
    MessageStream: "outbound",
    ChangedAt: new Date().toISOString(),
    Recipient: recipient,
    Origin: "Recipient",
    SuppressSending: suppress,
    SuppressionReason: suppress ? "ManualSuppression" : null,
    ...(metadata ? { Metadata: metadata } : {}),
  });

  it("a SubscriptionChange without our Metadata acts on every org with that address, both ways", async () => {
    const a = await newOrg();
    const b = await newOrg();
    const address = `sub-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const ca = await json(await a.as(a.owner)("/contacts", { body: { email: address } }));
    const cb = await json(await b.as(b.owner)("/contacts", { body: { email: address.toUpperCase() } }));
    expect((await postmarkPost("/webhooks/postmark/events", change(address.toUpperCase(), true))).status).toBe(200);
    expect((await contactOf(a, ca.id)).email_opt_out).toBe(true);
    expect((await contactOf(b, cb.id)).email_opt_out).toBe(true);
    expect((await postmarkPost("/webhooks/postmark/events", change(address, false))).status).toBe(200);
    expect((await contactOf(a, ca.id)).email_opt_out).toBe(false);
    expect((await contactOf(b, cb.id)).email_opt_out).toBe(false);
    // An address no org has is kept as an unroutable event.
    const before = await count("unroutable_events", "reason = 'unknown_recipient'");
    expect((await postmarkPost("/webhooks/postmark/events", change("nobody-here@example.com", true))).status).toBe(200);
    expect(await count("unroutable_events", "reason = 'unknown_recipient'")).toBe(before + 1);
  });

  it("a SubscriptionChange carrying our Metadata acts only in that message's org; a HardBounce with Inactive opts out", async () => {
    const { org, contactId, conversationId } = await setup("+14155550421");
    const other = await newOrg();
    const address = `meta-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const elsewhere = await json(await other.as(other.owner)("/contacts", { body: { email: address } }));
    expect(
      (await org.as(org.owner)("/channels", { body: { kind: "email", address: `in-${org.orgId.slice(-6)}@acme.test`, provider: "postmark" } })).status,
    ).toBe(201);
    expect((await org.as(org.owner)(`/contacts/${contactId}`, { method: "PATCH", body: { email: address } })).status).toBe(200);
    const sent = await json(await send(org, conversationId, "email"));
    expect((await postmarkPost("/webhooks/postmark/events", change(address, true, { message_id: sent.id }))).status).toBe(200);
    expect((await contactOf(org, contactId)).email_opt_out).toBe(true);
    expect((await contactOf(other, elsewhere.id)).email_opt_out).toBe(false);

    const bounced = `bounce-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const c = await json(await other.as(other.owner)("/contacts", { body: { email: bounced } }));
    const bounce = {
      RecordType: "Bounce",
      Type: "HardBounce",
      TypeCode: 1,
      MessageID: crypto.randomUUID(),
      Email: bounced,
      Inactive: true,
      Description: "gone",
    };
    expect((await postmarkPost("/webhooks/postmark/events", bounce)).status).toBe(200);
    expect((await contactOf(other, c.id)).email_opt_out).toBe(true);
    // Inactive false (a soft bounce) changes nothing.
    const soft = `soft-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const s = await json(await other.as(other.owner)("/contacts", { body: { email: soft } }));
    expect((await postmarkPost("/webhooks/postmark/events", { ...bounce, Email: soft, Inactive: false, Type: "SoftBounce" })).status).toBe(200);
    expect((await contactOf(other, s.id)).email_opt_out).toBe(false);
  });
});

describe("PATCH /contacts/{id} consent, and the events", () => {
  it("an agent records consent; each change is announced on /events with channel and source; another org's contact is 404", async () => {
    const { org, text, contactId, conversationId } = await setup("+14155550431");
    const agent = await addMember(org, "agent");
    const socket = await connect(org, org.owner);
    const patched = await org.as(agent)(`/contacts/${contactId}`, { method: "PATCH", body: { sms_opt_out: true } });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ sms_opt_out: true, email_opt_out: false });
    const out = await socket.next((e) => e.type === "contact.opted_out", "contact.opted_out");
    expect(out).toMatchObject({ conversation_id: conversationId, data: { id: contactId, sms_opt_out: true, channel: "sms", source: "member" } });
    expect((await text("START")).status).toBe(200);
    const back = await socket.next((e) => e.type === "contact.opted_in", "contact.opted_in");
    expect(back.data).toMatchObject({ channel: "sms", source: "keyword", sms_opt_out: false });
    expect(back.seq).toBeGreaterThan(out.seq);
    socket.close();

    const other = await newOrg();
    await expectProblem(await other.as(other.owner)(`/contacts/${contactId}`, { method: "PATCH", body: { sms_opt_out: true } }), 404, "not_found");
    expect((await contactOf(org, contactId)).sms_opt_out).toBe(false);
    // A bad value is a 400, and changes nothing.
    await expectProblem(await org.as(agent)(`/contacts/${contactId}`, { method: "PATCH", body: { sms_opt_out: "yes" } }), 400, "validation_failed");
    expect((await contactOf(org, contactId)).sms_opt_out).toBe(false);
  });

  it("the setter never drafts for an opted-out channel", async () => {
    const { org, text, contactId, conversationId } = await setup("+14155550441");
    expect((await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "suggestive", instructions: "Be brief." } })).status).toBe(200);
    expect((await org.as(org.owner)(`/contacts/${contactId}`, { method: "PATCH", body: { sms_opt_out: true } })).status).toBe(200);
    expect((await text("What time do you open?")).status).toBe(200);
    const trigger = (await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`))).data.at(-1);
    await handleAiJob(env, { kind: "draft", orgId: org.orgId, conversationId, triggerId: trigger.id });
    expect(seen.filter((s) => s.host === "llm.fake")).toHaveLength(0);
    expect((await json(await org.as(org.owner)(`/conversations/${conversationId}`))).pending_suggestion).toBeNull();
    expect(await rowById("contacts", contactId, "sms_opt_out")).toEqual({ sms_opt_out: 1 });
  });
});
