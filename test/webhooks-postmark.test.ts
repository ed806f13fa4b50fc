import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, count, expectProblem, ingestOk, json, newOrg, shardOf, type TestOrg } from "./helpers";

const basic = `Basic ${btoa("postmark-hook:hook-secret")}`;
const post = (path: string, body: unknown, auth: string | null = basic) => call(path, { method: "POST", body, headers: auth ? { authorization: auth } : {} });

let n = 0;
async function orgWithInbox(): Promise<{ org: TestOrg; address: string }> {
  const org = await newOrg();
  const address = `help-${++n}-${org.orgId.slice(-6)}@acme.test`;
  expect((await org.as(org.owner)("/channels", { body: { kind: "email", address, provider: "postmark" } })).status).toBe(201);
  return { org, address };
}

const pdf = btoa("%PDF-1.4 tiny");
// Postmark's inbound webhook JSON, every documented field.
const inbound = (to: string, over: Record<string, unknown> = {}) => ({
  FromName: "Priya Raman",
  MessageStream: "inbound",
  From: "Priya@Example.org",
  FromFull: { Email: "Priya@Example.org", Name: "Priya Raman", MailboxHash: "" },
  To: `"Help" <${to}>`,
  ToFull: [{ Email: to, Name: "Help", MailboxHash: "" }],
  Cc: "",
  CcFull: [],
  Bcc: "",
  BccFull: [],
  OriginalRecipient: to,
  Subject: "New patient forms",
  MessageID: "73e6d360-66eb-11e1-8e72-a8904824019b",
  ReplyTo: "",
  MailboxHash: "",
  Date: "Tue, 24 Nov 2026 10:15:00 +0000",
  TextBody: "Hello, forms attached.\n\n> On Monday you wrote:\n> please send the forms",
  HtmlBody: "<p>Hello, forms attached.</p>",
  StrippedTextReply: "Hello, forms attached.",
  Tag: "",
  Headers: [
    { Name: "X-Spam-Status", Value: "No" },
    { Name: "Message-ID", Value: "<abc@example.org>" },
  ],
  Attachments: [{ Name: "forms.pdf", Content: pdf, ContentType: "application/pdf", ContentLength: 13, ContentID: "" }],
  ...over,
});

describe("POST /webhooks/postmark/inbound", () => {
  it("stores the email in the org that owns the recipient, with the stripped reply, html and attachment in R2", async () => {
    const { org, address } = await orgWithInbox();
    expect((await post("/webhooks/postmark/inbound", inbound(address))).status).toBe(200);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    expect(data[0]).toMatchObject({ contact: { name: "Priya Raman", email: "priya@example.org" }, unread_count: 1 });
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0]).toMatchObject({
      type: "email",
      direction: "inbound",
      subject: "New patient forms",
      body: "Hello, forms attached.",
      html: "<p>Hello, forms attached.</p>",
      from: "priya@example.org",
      to: address,
      provider: "postmark",
      provider_message_id: "73e6d360-66eb-11e1-8e72-a8904824019b",
      occurred_at: "2026-11-24T10:15:00.000Z",
      media: [expect.objectContaining({ filename: "forms.pdf", content_type: "application/pdf", size: 13 })],
    });
    const stored = await env.MEDIA.get(`orgs/${org.orgId}/media/${thread[0].media[0].id}`);
    expect(await stored!.text()).toBe("%PDF-1.4 tiny");
    // Redelivered: nothing new.
    expect((await post("/webhooks/postmark/inbound", inbound(address))).status).toBe(200);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(1);
    expect(await count("media", "org_id = ?", org.orgId)).toBe(1);
  });

  it("falls back to TextBody, and to ToFull when OriginalRecipient is absent", async () => {
    const { org, address } = await orgWithInbox();
    await post("/webhooks/postmark/inbound", inbound(address, { OriginalRecipient: undefined, StrippedTextReply: "", MessageID: "m-2", Attachments: [] }));
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0].body).toContain("> please send the forms");
  });

  it("an attachment whose Content is not base64 is marked failed; the email and its other attachments are kept", async () => {
    const { org, address } = await orgWithInbox();
    const attachments = [
      { Name: "broken.pdf", Content: "not base64!!", ContentType: "application/pdf", ContentLength: 12 },
      { Name: "forms.pdf", Content: pdf, ContentType: "application/pdf", ContentLength: 13 },
    ];
    expect((await post("/webhooks/postmark/inbound", inbound(address, { MessageID: "m-bad-attachment", Attachments: attachments }))).status).toBe(200);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0]).toMatchObject({ body: "Hello, forms attached.", provider_message_id: "m-bad-attachment" });
    expect(thread[0].media.map((m: any) => m.filename)).toEqual(["broken.pdf", "forms.pdf"]);
    const rows = await (await shardOf(org.orgId)).prepare("SELECT filename, status, size FROM media WHERE org_id = ? ORDER BY filename").bind(org.orgId).all();
    expect(rows.results).toEqual([
      { filename: "broken.pdf", status: "failed", size: 0 },
      { filename: "forms.pdf", status: "ready", size: 13 },
    ]);
    expect(await env.MEDIA.get(`orgs/${org.orgId}/media/${thread[0].media[0].id}`)).toBeNull();
    expect(await count("unroutable_events", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a body that is not JSON, once authenticated, is kept (200), not refused", async () => {
    const before = await count("unroutable_events", "provider = 'postmark' AND reason = 'invalid_payload'");
    const res = await call("/webhooks/postmark/inbound", {
      method: "POST",
      raw: '{"MessageID": "trunc',
      headers: { authorization: basic, "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(await count("unroutable_events", "provider = 'postmark' AND reason = 'invalid_payload'")).toBe(before + 1);
  });

  it("an email to an address no org owns → 200 and one unroutable event", async () => {
    const before = await count("unroutable_events", "org_id IS NULL AND provider = 'postmark'");
    expect((await post("/webhooks/postmark/inbound", inbound("nobody@nowhere.test", { MessageID: "m-lost" }))).status).toBe(200);
    expect(await count("unroutable_events", "org_id IS NULL AND provider = 'postmark'")).toBe(before + 1);
    expect(await count("activities", "provider_message_id = 'm-lost'")).toBe(0);
  });

  it("wrong or missing Basic credentials → 401 problem+json, nothing stored", async () => {
    const { org, address } = await orgWithInbox();
    await expectProblem(await post("/webhooks/postmark/inbound", inbound(address), null), 401, "unauthenticated");
    await expectProblem(await post("/webhooks/postmark/inbound", inbound(address), `Basic ${btoa("postmark-hook:guess")}`), 401, "unauthenticated");
    await expectProblem(await post("/webhooks/postmark/events", { RecordType: "Delivery" }, null), 401, "unauthenticated");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
  });
});

describe("POST /webhooks/postmark/events", () => {
  async function outboundEmail() {
    const { org, address } = await orgWithInbox();
    const { message } = await ingestOk(org, {
      contact: { email: "priya@example.org" },
      type: "email",
      direction: "outbound",
      provider: "postmark",
      provider_message_id: `pm-${crypto.randomUUID()}`,
      from: address,
      to: "priya@example.org",
      subject: "Hi",
    });
    const read = async () => (await json(await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`))).data[0];
    const event = (over: Record<string, unknown>) => ({
      MessageID: message.provider_message_id,
      Metadata: { message_id: message.id },
      Recipient: "priya@example.org",
      ServerID: 23,
      MessageStream: "outbound",
      Tag: "",
      ...over,
    });
    return { read, event };
  }

  it("Delivery → delivered", async () => {
    const { read, event } = await outboundEmail();
    expect(
      (await post("/webhooks/postmark/events", event({ RecordType: "Delivery", DeliveredAt: "2026-11-24T10:16:00Z", Details: "Test delivery" }))).status,
    ).toBe(200);
    expect((await read()).status).toBe("delivered");
  });

  it("Bounce → undelivered with TypeCode and Description; final", async () => {
    const { read, event } = await outboundEmail();
    await post(
      "/webhooks/postmark/events",
      event({
        RecordType: "Bounce",
        ID: 4323372036854775,
        Type: "HardBounce",
        TypeCode: 1,
        Name: "Hard bounce",
        Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        Email: "priya@example.org",
        BouncedAt: "2026-11-24T10:16:00Z",
        Inactive: true,
        CanActivate: true,
      }),
    );
    expect(await read()).toMatchObject({
      status: "undelivered",
      error: { code: "1", message: "The server was unable to deliver your message (ex: unknown user, mailbox not found)." },
    });
    await post("/webhooks/postmark/events", event({ RecordType: "Delivery" }));
    expect((await read()).status).toBe("undelivered");
  });

  it("an event that is not a JSON object, or names no email of ours, is answered 200 and kept", async () => {
    const { event } = await outboundEmail();
    const kept = (reason: string) => count("unroutable_events", "provider = 'postmark' AND reason = ?", reason);
    const [invalid, unknown] = [await kept("invalid_payload"), await kept("unknown_message")];
    for (const raw of ["not json", "[1, 2]", "null"]) {
      expect(
        (await call("/webhooks/postmark/events", { method: "POST", raw, headers: { authorization: basic, "content-type": "application/json" } })).status,
      ).toBe(200);
    }
    expect(await kept("invalid_payload")).toBe(invalid + 3);
    expect((await post("/webhooks/postmark/events", event({ RecordType: "Delivery", Metadata: { message_id: crypto.randomUUID() } }))).status).toBe(200);
    expect((await post("/webhooks/postmark/events", event({ RecordType: "Delivery", MessageID: "pm-someone-else" }))).status).toBe(200);
    expect(await kept("unknown_message")).toBe(unknown + 2);
  });

  it("SpamComplaint → error only", async () => {
    const { read, event } = await outboundEmail();
    await post(
      "/webhooks/postmark/events",
      event({ RecordType: "SpamComplaint", Type: "SpamComplaint", TypeCode: 512, Description: "The subscriber explicitly marked this message as spam." }),
    );
    expect(await read()).toMatchObject({
      status: "sent",
      error: { code: "spam_complaint", message: "The subscriber explicitly marked this message as spam." },
    });
  });
});
