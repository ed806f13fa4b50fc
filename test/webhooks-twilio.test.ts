import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { addMember, call, connect, count, expectProblem, ingestOk, json, newOrg, type TestOrg, twilioPost, twilioSign } from "./helpers";

const sign = twilioSign;
const post = twilioPost;

let numbers = 0;
async function orgWithNumber(): Promise<{ org: TestOrg; number: string }> {
  const org = await newOrg();
  const number = `+1415557${String(2000 + ++numbers)}`;
  expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
  return { org, number };
}

// Every parameter Twilio documents for an incoming message, not just the ones we use.
const inboundSms = (to: string, over: Record<string, string> = {}) => ({
  ToCountry: "US",
  ToState: "CA",
  SmsMessageSid: "SM8a1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d",
  NumMedia: "0",
  ToCity: "SAN FRANCISCO",
  FromZip: "94105",
  SmsSid: "SM8a1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d",
  FromState: "CA",
  SmsStatus: "received",
  FromCity: "SAN FRANCISCO",
  Body: "Is Tuesday still free?",
  FromCountry: "US",
  To: to,
  MessagingServiceSid: "MG00000000000000000000000000000000",
  ToZip: "94105",
  NumSegments: "1",
  ReferralNumMedia: "0",
  MessageSid: "SM8a1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d",
  AccountSid: "AC00000000000000000000000000000000",
  From: "+14155550142",
  ApiVersion: "2010-04-01",
  ...over,
});

afterEach(() => vi.restoreAllMocks());

describe("POST /webhooks/twilio/messages", () => {
  it("a correctly signed SMS → 200 empty TwiML, and the message in the org that owns the number", async () => {
    const { org, number } = await orgWithNumber();
    const other = await orgWithNumber();
    const res = await post("/webhooks/twilio/messages", inboundSms(number));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/xml");
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    const { data } = await json(await org.as(org.owner)("/conversations"));
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ contact: { phone: "+14155550142" }, unread_count: 1, last_activity: { preview: "Is Tuesday still free?" } });
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0]).toMatchObject({
      type: "sms",
      direction: "inbound",
      status: "received",
      provider: "twilio",
      provider_message_id: "SM8a1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d",
      from: "+14155550142",
      to: number,
    });
    expect((await json(await other.org.as(other.org.owner)("/conversations"))).data).toHaveLength(0);
  });

  it("a wrong, missing or stale signature (a changed param) → 403, nothing stored", async () => {
    const { org, number } = await orgWithNumber();
    const params = inboundSms(number, { MessageSid: "SMforged", SmsSid: "SMforged", SmsMessageSid: "SMforged" });
    const good = await sign("https://inbox.test/webhooks/twilio/messages", params);
    await expectProblem(await post("/webhooks/twilio/messages", params, "bm90IHRoZSBzaWduYXR1cmU="), 403, "forbidden");
    await expectProblem(await post("/webhooks/twilio/messages", params, null), 403, "forbidden");
    await expectProblem(await post("/webhooks/twilio/messages", { ...params, Body: "changed" }, good), 403, "forbidden");
    // Signed for another URL (query added) is not signed for this one.
    await expectProblem(await post("/webhooks/twilio/messages?x=1", params, good), 403, "forbidden");
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
    expect(await count("unroutable_events", "payload LIKE '%SMforged%'")).toBe(0);
  });

  it("signs over parameters Twilio adds without notice", async () => {
    const { org, number } = await orgWithNumber();
    const res = await post("/webhooks/twilio/messages", inboundSms(number, { MessageSid: "SMnew1", AddOns: '{"status":"successful"}', NewFieldIn2027: "x" }));
    expect(res.status).toBe(200);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SMnew1'", org.orgId)).toBe(1);
  });

  it("25 concurrent redeliveries → one message, unread_count +1", async () => {
    const { org, number } = await orgWithNumber();
    const params = inboundSms(number, { MessageSid: "SMredeliver" });
    const answers = await Promise.all(Array.from({ length: 25 }, () => post("/webhooks/twilio/messages", params)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SMredeliver'", org.orgId)).toBe(1);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    expect(data[0].unread_count).toBe(1);
  });

  it("an MMS: media rows on the message at once, bytes copied into R2 with Twilio's Basic auth", async () => {
    const { org, number } = await orgWithNumber();
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
    const seen: Request[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (new URL(req.url).hostname !== "api.twilio.com") return real(input as RequestInfo, init);
      seen.push(req);
      return new Response(jpeg, { headers: { "content-type": "image/jpeg" } });
    });
    const url = "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/SMmms/Media/ME0000";
    const res = await post(
      "/webhooks/twilio/messages",
      inboundSms(number, { MessageSid: "SMmms", NumMedia: "1", MediaUrl0: url, MediaContentType0: "image/jpeg", Body: "" }),
    );
    expect(res.status).toBe(200);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0].media).toEqual([expect.objectContaining({ content_type: "image/jpeg" })]);
    const mediaId = thread[0].media[0].id;
    for (let i = 0; i < 50 && (await count("media", "id = ? AND status = 'ready'", mediaId)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const stored = await env.MEDIA.get(`orgs/${org.orgId}/media/${mediaId}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(jpeg);
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.get("authorization")).toBe(`Basic ${btoa("AC00000000000000000000000000000000:twilio-test-token")}`);
    // A redelivery names the same media and copies nothing again.
    await post(
      "/webhooks/twilio/messages",
      inboundSms(number, { MessageSid: "SMmms", NumMedia: "1", MediaUrl0: url, MediaContentType0: "image/jpeg", Body: "" }),
    );
    expect(await count("media", "org_id = ?", org.orgId)).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it("a number no org owns → 200 and one unroutable event for the operator", async () => {
    const params = inboundSms("+14155559871", { MessageSid: "SMnobody" });
    const before = await count("unroutable_events", "org_id IS NULL");
    expect((await post("/webhooks/twilio/messages", params)).status).toBe(200);
    expect(await count("unroutable_events", "org_id IS NULL")).toBe(before + 1);
    expect(await count("activities", "provider_message_id = 'SMnobody'")).toBe(0);
  });

  it("a signed body that does not parse is answered 200 empty TwiML and kept as invalid_payload, never 400", async () => {
    const { number } = await orgWithNumber();
    const malformed: [string, Record<string, string>][] = [
      ["/webhooks/twilio/messages", inboundSms(number, { MessageSid: "", SmsMessageSid: "SMbad1" })],
      ["/webhooks/twilio/messages", inboundSms("not a number", { MessageSid: "SMbad2" })],
      ["/webhooks/twilio/status", { MessageSid: "SMbad3", MessageStatus: "bogus", From: number, AccountSid: "AC00000000000000000000000000000000" }],
      ["/webhooks/twilio/calls", { CallStatus: "completed", From: "+14155550142", To: number, AccountSid: "AC00000000000000000000000000000000" }],
    ];
    for (const [path, params] of malformed) {
      const before = await count("unroutable_events", "provider = 'twilio' AND reason = 'invalid_payload' AND org_id IS NULL");
      const res = await post(path, params);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
      expect(await count("unroutable_events", "provider = 'twilio' AND reason = 'invalid_payload' AND org_id IS NULL"), path).toBe(before + 1);
    }
    expect(await count("activities", "provider_message_id LIKE 'SMbad%'")).toBe(0);
  });
});

describe("POST /webhooks/twilio/status", () => {
  const statusParams = (from: string, sid: string, status: string, over: Record<string, string> = {}) => ({
    ApiVersion: "2010-04-01",
    MessageStatus: status,
    SmsSid: sid,
    SmsStatus: status,
    To: "+14155550142",
    From: from,
    MessageSid: sid,
    AccountSid: "AC00000000000000000000000000000000",
    ...over,
  });

  it("delivered, sent, queued in that order → delivered; then undelivered is final, with its error", async () => {
    const { org, number } = await orgWithNumber();
    const { message } = await ingestOk(org, { direction: "outbound", provider: "twilio", provider_message_id: "SMout1", from: number, to: "+14155550142" });
    for (const s of ["delivered", "sent", "queued"]) {
      expect((await post("/webhooks/twilio/status", statusParams(number, "SMout1", s))).status).toBe(200);
    }
    const status = async () => (await json(await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`))).data[0];
    expect((await status()).status).toBe("delivered");
    await post(
      "/webhooks/twilio/status",
      statusParams(number, "SMout1", "undelivered", { ErrorCode: "30003", ErrorMessage: "Unreachable destination handset" }),
    );
    expect(await status()).toMatchObject({ status: "undelivered", error: { code: "30003", message: "Unreachable destination handset" } });
    await post("/webhooks/twilio/status", statusParams(number, "SMout1", "read"));
    expect((await status()).status).toBe("undelivered");
  });

  it("a status for a message we do not know is kept, in the org, listed for its owners and admins only", async () => {
    const { org, number } = await orgWithNumber();
    expect((await post("/webhooks/twilio/status", statusParams(number, "SMunknown", "delivered"))).status).toBe(200);
    const { data } = await json(await org.as(org.owner)("/webhooks/unroutable"));
    expect(data).toEqual([
      expect.objectContaining({ provider: "twilio", reason: "unknown_message", payload: expect.objectContaining({ MessageSid: "SMunknown" }) }),
    ]);
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/webhooks/unroutable"), 403, "forbidden");
    const other = await newOrg("Other");
    expect((await json(await other.as(other.owner)("/webhooks/unroutable"))).data).toEqual([]);
  });

  it("a bad signature → 403 and nothing changes", async () => {
    const { org, number } = await orgWithNumber();
    const { message } = await ingestOk(org, { direction: "outbound", provider: "twilio", provider_message_id: "SMout2", from: number, to: "+14155550142" });
    await expectProblem(await post("/webhooks/twilio/status", statusParams(number, "SMout2", "failed"), "AAAA"), 403, "forbidden");
    const { data } = await json(await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`));
    expect(data[0].status).toBe("sent");
  });
});

describe("POST /webhooks/twilio/calls", () => {
  const callStatus = (to: string, sid: string, status: string, over: Record<string, string> = {}) => ({
    AccountSid: "AC00000000000000000000000000000000",
    ApiVersion: "2010-04-01",
    CallSid: sid,
    CallStatus: status,
    CallDuration: "95",
    Called: to,
    CalledCity: "SAN FRANCISCO",
    CalledCountry: "US",
    CalledState: "CA",
    CalledZip: "94105",
    Caller: "+14155550142",
    CallerCity: "SAN FRANCISCO",
    CallerCountry: "US",
    CallerState: "CA",
    CallerZip: "94105",
    Direction: "inbound",
    Duration: "2",
    From: "+14155550142",
    FromCity: "SAN FRANCISCO",
    FromCountry: "US",
    FromState: "CA",
    FromZip: "94105",
    SipResponseCode: "200",
    Timestamp: "Tue, 24 Nov 2026 10:00:00 +0000",
    To: to,
    ToCity: "SAN FRANCISCO",
    ToCountry: "US",
    ToState: "CA",
    ToZip: "94105",
    CallbackSource: "call-progress-events",
    SequenceNumber: "0",
    ...over,
  });
  const transcription = (sid: string) => ({
    AccountSid: "AC00000000000000000000000000000000",
    ApiVersion: "2010-04-01",
    CallSid: sid,
    TranscriptionSid: "TR0000",
    TranscriptionStatus: "completed",
    TranscriptionText: "Hi, this is Maria. Can we move my cleaning to Tuesday?",
    TranscriptionType: "fast",
    TranscriptionUrl: "https://api.twilio.com/2010-04-01/Accounts/AC0/Transcriptions/TR0000",
    RecordingSid: "RE0000",
    RecordingUrl: "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0000",
    url: "https://inbox.test/webhooks/twilio/calls",
  });
  const theCall = async (org: TestOrg) => {
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    return { conversation: data[0], calls: thread.filter((m: { type: string }) => m.type === "call") };
  };

  it("status then transcription → one call activity with both", async () => {
    const { org, number } = await orgWithNumber();
    expect((await post("/webhooks/twilio/calls", callStatus(number, "CA1", "completed"))).status).toBe(200);
    expect((await post("/webhooks/twilio/calls", transcription("CA1"))).status).toBe(200);
    const { calls } = await theCall(org);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      direction: "inbound",
      status: "completed",
      provider_message_id: "CA1",
      call: {
        duration_seconds: 95,
        transcript: "Hi, this is Maria. Can we move my cleaning to Tuesday?",
        summary_status: expect.stringMatching(/^(pending|ready)$/),
      },
    });
  });

  it("transcription first (no number on it), then status → the same one call with both, and nothing left waiting", async () => {
    const { org, number } = await orgWithNumber();
    expect((await post("/webhooks/twilio/calls", transcription("CA2"))).status).toBe(200);
    expect(await count("unroutable_events", "waiting_for = 'CA2' AND resolved_at IS NULL")).toBe(1);
    expect((await post("/webhooks/twilio/calls", callStatus(number, "CA2", "completed"))).status).toBe(200);
    const { calls } = await theCall(org);
    expect(calls).toHaveLength(1);
    expect(calls[0].call.transcript).toContain("move my cleaning");
    expect(await count("unroutable_events", "waiting_for = 'CA2' AND resolved_at IS NULL")).toBe(0);
    expect((await json(await org.as(org.owner)("/webhooks/unroutable"))).data).toEqual([]);
  });

  it("an early transcription waits 24 h: older, it is not applied and stays unroutable", async () => {
    const { org, number } = await orgWithNumber();
    expect((await post("/webhooks/twilio/calls", transcription("CA9"))).status).toBe(200);
    await env.DB.prepare("UPDATE unroutable_events SET received_at = ? WHERE waiting_for = 'CA9'")
      .bind(Date.now() - 25 * 3_600_000)
      .run();
    expect((await post("/webhooks/twilio/calls", callStatus(number, "CA9", "completed"))).status).toBe(200);
    const { calls } = await theCall(org);
    expect(calls).toHaveLength(1);
    expect(calls[0].call.transcript).toBeNull();
    expect(await count("unroutable_events", "waiting_for = 'CA9' AND resolved_at IS NULL")).toBe(1);
  });

  it("a missed inbound call starts the reply wait; an outbound-api call is found by its From", async () => {
    const { org, number } = await orgWithNumber();
    await post("/webhooks/twilio/calls", callStatus(number, "CA3", "no-answer", { CallDuration: "0" }));
    const { conversation, calls } = await theCall(org);
    expect(calls[0].status).toBe("no-answer");
    expect(conversation.awaiting_reply_since).toBe(calls[0].occurred_at);
    await post("/webhooks/twilio/calls", callStatus("+14155550142", "CA4", "completed", { Direction: "outbound-api", From: number, To: "+14155550142" }));
    const after = await theCall(org);
    expect(after.calls.map((c: { direction: string }) => c.direction).sort()).toEqual(["inbound", "outbound"]);
    expect(after.conversation.awaiting_reply_since).toBeNull();
  });

  const recording = (sid: string, seconds: string, url = `https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE${sid}`) => ({
    AccountSid: "AC00000000000000000000000000000000",
    CallSid: sid,
    RecordingSid: `RE${sid}`,
    RecordingUrl: url,
    RecordingStatus: "completed",
    RecordingDuration: seconds,
    RecordingChannels: "1",
    RecordingSource: "DialVerb",
  });

  it("a recording's length never overwrites the call's own duration; it fills in only when the call has none", async () => {
    const { org, number } = await orgWithNumber();
    vi.spyOn(globalThis, "fetch").mockImplementation(
      async () => new Response(new Uint8Array([0x49, 0x44, 0x33, 3, 0, 0]), { headers: { "content-type": "audio/mpeg" } }),
    );
    await post("/webhooks/twilio/calls", callStatus(number, "CA42", "completed", { CallDuration: "42" }));
    expect((await post("/webhooks/twilio/calls", recording("CA42", "40"))).status).toBe(200);
    expect((await theCall(org)).calls[0].call.duration_seconds).toBe(42);
    // A call with no duration of its own takes the recording's.
    const other = await orgWithNumber();
    await post("/webhooks/twilio/calls", callStatus(other.number, "CA43", "completed", { CallDuration: "0" }));
    await post("/webhooks/twilio/calls", recording("CA43", "40"));
    expect((await theCall(other.org)).calls[0].call.duration_seconds).toBe(40);
    // The recording first (kept until the call arrives), then the call: still the call's 42.
    const third = await orgWithNumber();
    await post("/webhooks/twilio/calls", recording("CA44", "40"));
    await post("/webhooks/twilio/calls", callStatus(third.number, "CA44", "completed", { CallDuration: "42" }));
    expect((await theCall(third.org)).calls[0].call.duration_seconds).toBe(42);
  });

  it("a transcript or recording after the call is announced (message.updated) and refreshes the thread preview", async () => {
    const { org, number } = await orgWithNumber();
    vi.spyOn(globalThis, "fetch").mockImplementation(
      async () => new Response(new Uint8Array([0x49, 0x44, 0x33, 3, 0, 0]), { headers: { "content-type": "audio/mpeg" } }),
    );
    await post("/webhooks/twilio/calls", callStatus(number, "CA50", "completed", { CallDuration: "42" }));
    const before = await theCall(org);
    expect(before.conversation.last_activity.preview).toBe("Call (completed)");
    const socket = await connect(org, org.owner);
    try {
      await post("/webhooks/twilio/calls", transcription("CA50"));
      const updated = await socket.next((e) => e.type === "message.updated" && e.data.id === before.calls[0].id, "message.updated");
      expect(updated.data.call.transcript).toContain("move my cleaning");
      const conv = await socket.next((e) => e.type === "conversation.updated" && e.conversation_id === before.conversation.id, "conversation.updated");
      expect(conv.data.last_activity.preview).toContain("move my cleaning");
      const after = await theCall(org);
      expect(after.conversation.last_activity.preview).toContain("move my cleaning");
      // The summary job announces the call once more, on its own time: wait for it first.
      await socket.next(
        (e) => e.type === "message.updated" && e.data.id === before.calls[0].id && e.data.call.summary_status !== "pending",
        "the summary's message.updated",
      );
      // The recording's copy into R2 announces the call once more too (its recording_url becomes our link): wait for it.
      await socket.next(
        (e) => e.type === "message.updated" && e.data.id === before.calls[0].id && e.data.call.recording_url?.startsWith("https://inbox.test/media/"),
        "the recording copy's message.updated",
      );
      for (let i = 0; i < 50 && (await count("media", "org_id = ? AND status = 'ready'", org.orgId)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      // A redelivered transcription changes nothing and announces nothing more.
      const seen = socket.seen.length;
      await post("/webhooks/twilio/calls", transcription("CA50"));
      await new Promise((r) => setTimeout(r, 200));
      expect(socket.seen.slice(seen).filter((e) => e.type === "message.updated")).toEqual([]);
    } finally {
      socket.close();
    }
  });

  it("a recording URL that is not https is not stored for display", async () => {
    const { org, number } = await orgWithNumber();
    await post("/webhooks/twilio/calls", callStatus(number, "CA60", "completed"));
    expect((await post("/webhooks/twilio/calls", recording("CA60", "10", "javascript:alert(1)//"))).status).toBe(200);
    const { calls } = await theCall(org);
    expect(calls[0].call.recording_url).toBeNull();
    expect(await count("media", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a recording is copied into R2 and then served as a signed link", async () => {
    const { org, number } = await orgWithNumber();
    const mp3 = new Uint8Array([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 1]);
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (new URL(req.url).hostname !== "api.twilio.com") return real(input as RequestInfo, init);
      return new Response(mp3, { headers: { "content-type": "audio/mpeg" } });
    });
    await post("/webhooks/twilio/calls", callStatus(number, "CA5", "completed"));
    await post("/webhooks/twilio/calls", {
      AccountSid: "AC00000000000000000000000000000000",
      CallSid: "CA5",
      RecordingSid: "RE5",
      RecordingUrl: "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE5",
      RecordingStatus: "completed",
      RecordingDuration: "94",
      RecordingChannels: "1",
      RecordingSource: "DialVerb",
      RecordingStartTime: "Tue, 24 Nov 2026 10:00:01 +0000",
    });
    for (let i = 0; i < 50 && (await count("media", "org_id = ? AND status = 'ready'", org.orgId)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const { calls } = await theCall(org);
    // The call's own CallDuration (95), not the recording's length (94).
    expect(calls[0].call.duration_seconds).toBe(95);
    expect(calls[0].call.recording_url).toMatch(/^https:\/\/inbox\.test\/media\/[0-9a-f-]{36}\?exp=\d+&sig=[0-9a-f]{64}$/);
    const link = new URL(calls[0].call.recording_url);
    const res = await call(link.pathname + link.search);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(mp3);
  });
});
