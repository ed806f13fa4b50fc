import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { count, expectProblem, ingestOk, json, newOrg, type TestOrg, twilioPost } from "./helpers";

// Twilio and Postmark lie outside this Worker: answered here, at the HTTP boundary.
type Seen = { url: string; method: string; headers: Headers; body: string };
let seen: Seen[] = [];
let answers: Record<string, (() => Response)[]> = {};
beforeEach(() => {
  seen = [];
  answers = {};
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const host = new URL(req.url).host;
    if (host !== "twilio.fake" && host !== "postmark.fake") return real(input as RequestInfo, init);
    seen.push({ url: req.url, method: req.method, headers: req.headers, body: await req.text() });
    const next = answers[host]?.shift();
    if (next) return next();
    return host === "twilio.fake"
      ? Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 })
      : Response.json({ MessageID: crypto.randomUUID(), ErrorCode: 0, Message: "OK" });
  });
});
afterEach(() => vi.restoreAllMocks());

let orgs = 0;
async function setup(provider: { sms?: string; email?: string } = { sms: "twilio", email: "postmark" }) {
  const org = await newOrg();
  const as = org.as(org.owner);
  // Channel addresses are unique across orgs: one number per test org.
  const number = `+1415556${String(1000 + ++orgs)}`;
  if (provider.sms) expect((await as("/channels", { body: { kind: "sms", address: number, provider: provider.sms } })).status).toBe(201);
  if (provider.email) await as("/channels", { body: { kind: "email", address: `inbox-${org.orgId.slice(-6)}@acme.test`, provider: provider.email } });
  const { message } = await ingestOk(org, { contact: { phone: "+14155550142", name: "Maria" } });
  await org.as(org.owner)(`/contacts/${message.contact_id}`, { method: "PATCH", body: { email: "maria@example.com" } });
  return { org, as, conversationId: message.conversation_id as string, contactId: message.contact_id as string };
}

async function messageNow(org: TestOrg, conversationId: string, id: string) {
  const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
  return data.find((m: { id: string }) => m.id === id);
}

async function settle(org: TestOrg, conversationId: string, id: string, statuses = ["sent", "failed"], timeoutMs = 40_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = await messageNow(org, conversationId, id);
    if (statuses.includes(m.status)) return m;
    if (Date.now() > until) throw new Error(`message ${id} still ${m.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("POST /conversations/{id}/messages", () => {
  it("an sms goes out through Twilio exactly as the Messages API expects", async () => {
    const { org, as, conversationId } = await setup();
    const res = await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "See you Tuesday at 14:30" } });
    expect(res.status).toBe(202);
    const queued = await json(res);
    expect(queued).toMatchObject({
      type: "sms",
      direction: "outbound",
      status: "queued",
      from: expect.stringMatching(/^\+14155561\d{3}$/),
      to: "+14155550142",
      provider: "twilio",
      author_id: org.owner.userId,
    });
    const sent = await settle(org, conversationId, queued.id);
    expect(sent.status).toBe("sent");
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://twilio.fake/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json");
    expect(req.headers.get("authorization")).toBe(`Basic ${btoa("AC00000000000000000000000000000000:twilio-test-token")}`);
    expect(req.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(req.body);
    expect(Object.fromEntries(form)).toEqual({
      To: "+14155550142",
      From: queued.from,
      Body: "See you Tuesday at 14:30",
      StatusCallback: `https://inbox.test/webhooks/twilio/status?message_id=${queued.id}`,
    });
    expect(sent.provider_message_id).toMatch(/^SM/);
  });

  it("an mms carries signed media links; an email goes to Postmark with the attachment from R2", async () => {
    const { org, as, conversationId } = await setup();
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const fd = new FormData();
    fd.append("file", new File([png], "smile.png", { type: "image/png" }));
    const media = await json(await as("/conversations/media", { method: "POST", raw: fd }));
    const mms = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "Here", media_ids: [media.id] } }));
    expect(mms.media).toEqual([expect.objectContaining({ id: media.id, content_type: "image/png" })]);
    await settle(org, conversationId, mms.id);
    const mediaUrl = new URLSearchParams(seen[0].body).get("MediaUrl")!;
    expect(mediaUrl).toMatch(new RegExp(`^https://inbox\\.test/media/${media.id}\\?exp=\\d+&sig=[0-9a-f]{64}$`));

    const email = await json(
      await as(`/conversations/${conversationId}/messages`, {
        body: { type: "email", subject: "Your visit", body: "Details attached.", html: "<p>Details attached.</p>", media_ids: [media.id] },
      }),
    );
    const sent = await settle(org, conversationId, email.id);
    expect(sent.status).toBe("sent");
    const req = seen[1];
    expect(req.url).toBe("https://postmark.fake/email");
    expect(req.headers.get("x-postmark-server-token")).toBe("postmark-test-token");
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({
      From: expect.stringMatching(/^inbox-.*@acme\.test$/),
      To: "maria@example.com",
      Subject: "Your visit",
      TextBody: "Details attached.",
      HtmlBody: "<p>Details attached.</p>",
      Attachments: [{ Name: "smile.png", ContentType: "image/png", Content: btoa(String.fromCharCode(...png)) }],
    });
  });

  it("500, 500, 201 → sent after retries, with exactly one accepted send", async () => {
    const { org, as, conversationId } = await setup();
    answers["twilio.fake"] = [
      () => Response.json({ code: 20500, message: "Internal Server Error" }, { status: 500 }),
      () => Response.json({ code: 20500, message: "Internal Server Error" }, { status: 500 }),
    ];
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "retry me" } }));
    const sent = await settle(org, conversationId, queued.id);
    expect(sent).toMatchObject({ status: "sent", error: null });
    expect(seen).toHaveLength(3);
    expect(await count("activities", "id = ? AND send_attempts = 3", queued.id)).toBe(1);
  }, 60_000);

  it("a 400 fails at once with the provider's code and message, no retry", async () => {
    const { org, as, conversationId } = await setup();
    answers["twilio.fake"] = [() => Response.json({ code: 21211, message: "The 'To' number is not a valid phone number." }, { status: 400 })];
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "bad" } }));
    const failed = await settle(org, conversationId, queued.id);
    expect(failed).toMatchObject({ status: "failed", error: { code: "21211", message: "The 'To' number is not a valid phone number." } });
    await new Promise((r) => setTimeout(r, 3000));
    expect(seen).toHaveLength(1);
  });

  it("a status callback that beats the consumer to storing the sid is applied once the sid is stored", async () => {
    const { org, as, conversationId } = await setup();
    const { data: channels } = await json(await as("/channels"));
    const number = channels.find((c: { kind: string }) => c.kind === "sms").address;
    const early = {
      MessageSid: "SMearly",
      SmsSid: "SMearly",
      MessageStatus: "delivered",
      SmsStatus: "delivered",
      From: number,
      To: "+14155550142",
      AccountSid: "AC00000000000000000000000000000000",
      ApiVersion: "2010-04-01",
    };
    expect((await twilioPost("/webhooks/twilio/status", early)).status).toBe(200);
    expect(await count("unroutable_events", "org_id = ? AND waiting_for = 'SMearly' AND resolved_at IS NULL", org.orgId)).toBe(1);
    answers["twilio.fake"] = [() => Response.json({ sid: "SMearly", status: "queued" }, { status: 201 })];
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "race the callback" } }));
    const final = await settle(org, conversationId, queued.id, ["delivered", "failed"]);
    expect(final).toMatchObject({ status: "delivered", provider_message_id: "SMearly" });
    expect(await count("unroutable_events", "org_id = ? AND waiting_for = 'SMearly' AND resolved_at IS NULL", org.orgId)).toBe(0);
  });

  it("a message no longer queued is never sent again, even when its job is delivered twice", async () => {
    const { org, as, conversationId } = await setup();
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "once" } }));
    await settle(org, conversationId, queued.id);
    await env.SEND_QUEUE.send({ orgId: org.orgId, messageId: queued.id });
    await env.SEND_QUEUE.send({ orgId: org.orgId, messageId: queued.id });
    await new Promise((r) => setTimeout(r, 2500));
    expect(seen).toHaveLength(1);
    expect((await messageNow(org, conversationId, queued.id)).status).toBe("sent");
  });

  it("log channels send nothing over the network and mark the message sent with a log- id", async () => {
    const { org, as, conversationId } = await setup({ sms: "log", email: "log" });
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", subject: "Hi", body: "Hello" } }));
    const sent = await settle(org, conversationId, queued.id);
    expect(sent.provider_message_id).toMatch(/^log-[0-9a-f-]{36}$/);
    expect(seen).toHaveLength(0);
  });

  it("a note is stored (201), never sent; a send resets unread and clears the wait, a note does not", async () => {
    const { as, conversationId } = await setup();
    const note = await as(`/conversations/${conversationId}/messages`, { body: { type: "note", body: "VIP" } });
    expect(note.status).toBe(201);
    expect(await json(note)).toMatchObject({ type: "note", direction: null, status: "logged" });
    let conv = await json(await as(`/conversations/${conversationId}`));
    expect(conv.unread_count).toBe(1);
    expect(conv.awaiting_reply_since).not.toBeNull();
    await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "On it" } });
    conv = await json(await as(`/conversations/${conversationId}`));
    expect(conv).toMatchObject({ unread_count: 0, awaiting_reply_since: null, sla_due_at: null, overdue: false });
    expect(conv.last_activity).toMatchObject({ type: "sms", direction: "outbound", preview: "On it" });
    expect(seen.length).toBeLessThanOrEqual(1);
  });

  it("an email subject defaults to Re: the thread's last email, without doubling Re:", async () => {
    const { org, as, conversationId, contactId } = await setup({ sms: "log", email: "log" });
    await expectProblem(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", body: "no subject yet" } }), 400, "validation_failed");
    await ingestOk(org, { contact: { id: contactId }, type: "email", provider: "postmark", subject: "Insurance question", body: "Does it cover x-rays?" });
    const first = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", body: "Yes it does." } }));
    expect(first.subject).toBe("Re: Insurance question");
    const second = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", body: "And fluoride too." } }));
    expect(second.subject).toBe("Re: Insurance question");
  });

  it("refuses what SPEC 5 refuses, with nothing stored", async () => {
    const { org, as, conversationId } = await setup({ sms: "log" });
    const before = await count("activities", "org_id = ?", org.orgId);
    const send = (body: unknown) => as(`/conversations/${conversationId}/messages`, { body });
    await expectProblem(await send({ type: "sms", body: "" }), 400, "validation_failed");
    await expectProblem(await send({ type: "sms", body: "x".repeat(1601) }), 400, "validation_failed");
    await expectProblem(await send({ type: "sms", body: "x", media_ids: Array.from({ length: 11 }, () => crypto.randomUUID()) }), 400, "validation_failed");
    await expectProblem(await send({ type: "sms", body: "x", subject: "no" }), 400, "validation_failed");
    await expectProblem(await send({ type: "fax", body: "x" }), 400, "validation_failed");
    await expectProblem(await send({ type: "sms", body: "x", media_ids: [crypto.randomUUID()] }), 422, "unknown_media");
    await expectProblem(await send({ type: "email", subject: "s", body: "x" }), 422, "no_channel");
    // A contact with no email cannot be emailed, one with no phone cannot be texted.
    const emailOnly = await json(await as("/contacts", { body: { email: "solo@x.test" } }));
    const opened = await json(await as(`/contacts/${emailOnly.id}/conversations`, { method: "POST" }));
    await expectProblem(await as(`/conversations/${opened.id}/messages`, { body: { type: "sms", body: "x" } }), 422, "contact_unreachable");
    const other = await newOrg("Other");
    await expectProblem(await other.as(other.owner)(`/conversations/${conversationId}/messages`, { body: { type: "note", body: "x" } }), 404, "not_found");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(before);
    expect(seen).toHaveLength(0);
  });
});

describe("Idempotency-Key", () => {
  it("replays the first answer byte for byte, with one message stored", async () => {
    const { org, as, conversationId } = await setup({ sms: "log" });
    const send = (key: string, body: unknown) => as(`/conversations/${conversationId}/messages`, { body, headers: { "idempotency-key": key } });
    const first = await send("abc", { type: "sms", body: "once" });
    expect(first.status).toBe(202);
    const firstText = await first.text();
    const again = await send('"abc"', { type: "sms", body: "once" });
    expect(again.status).toBe(202);
    expect(await again.text()).toBe(firstText);
    expect(await count("activities", "org_id = ? AND body = 'once'", org.orgId)).toBe(1);
    await expectProblem(await send("abc", { type: "sms", body: "twice" }), 422, "idempotency_key_reused");
    await expectProblem(await send("", { type: "sms", body: "x" }), 400, "validation_failed");
    await expectProblem(await send("k".repeat(256), { type: "sms", body: "x" }), 400, "validation_failed");
    expect(await count("activities", "org_id = ? AND direction = 'outbound'", org.orgId)).toBe(1);
  });

  it("10 concurrent requests with one key → one message", async () => {
    const { org, as, conversationId } = await setup({ sms: "log" });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "race" }, headers: { "idempotency-key": "race-1" } }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(1);
    for (const r of answers.filter((r) => r.status === 409)) await expectProblem(r, 409, "idempotency_in_flight");
    expect(await count("activities", "org_id = ? AND body = 'race'", org.orgId)).toBe(1);
  });

  it("keys are per org", async () => {
    const a = await setup({ sms: "log" });
    const b = await setup({ sms: "log" });
    const headers = { "idempotency-key": "shared" };
    expect((await a.as(`/conversations/${a.conversationId}/messages`, { body: { type: "note", body: "a" }, headers })).status).toBe(201);
    expect((await b.as(`/conversations/${b.conversationId}/messages`, { body: { type: "note", body: "b" }, headers })).status).toBe(201);
  });
});
