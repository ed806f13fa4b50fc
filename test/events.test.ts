import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { actor, addMember, call, connect, type Event, expectProblem, ingestOk, json, newOrg, twilioPost } from "./helpers";

const ofType = (type: string, conversationId?: string) => (e: Event) => e.type === type && (!conversationId || e.conversation_id === conversationId);

describe("GET /events", () => {
  it("refuses before the upgrade: no token 401, non-member 403, malformed org_id 400, no upgrade 426", async () => {
    const org = await newOrg();
    await expectProblem(await call(`/events?org_id=${org.orgId}`, { headers: { upgrade: "websocket" } }), 401, "unauthenticated");
    const stranger = await actor();
    await expectProblem(await call(`/events?org_id=${org.orgId}&token=${stranger.token}`, { headers: { upgrade: "websocket" } }), 403, "forbidden");
    await expectProblem(await call(`/events?org_id=not-a-uuid&token=${org.owner.token}`, { headers: { upgrade: "websocket" } }), 400, "validation_failed");
    await expectProblem(await call("/events", { token: org.owner.token, org: org.orgId }), 426, "upgrade_required");
    await expectProblem(
      await call(`/events?since=abc`, { token: org.owner.token, org: org.orgId, headers: { upgrade: "websocket" } }),
      400,
      "validation_failed",
    );
    // ?token= only stands in for the header on an upgrade.
    await expectProblem(await call(`/conversations?token=${org.owner.token}`, { org: org.orgId }), 401, "unauthenticated");
  });

  it("a browser-style connection (token and org in the query) gets an event for every write kind", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: "+14155558001", provider: "log" } });
    const res = await call(`/events?token=${agent.token}&org_id=${org.orgId}`, { headers: { upgrade: "websocket" } });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close();
    const s = await connect(org, agent);

    const { message } = await ingestOk(org, { contact: { phone: "+14155558002" }, body: "Hello there" });
    const id = message.conversation_id;
    const created = await s.next(ofType("message.created", id), "message.created");
    expect(created.data).toMatchObject({ id: message.id, body: "Hello there", direction: "inbound" });
    expect(await s.next(ofType("conversation.updated", id))).toMatchObject({ data: { id, unread_count: 1, last_activity: { id: message.id } } });

    await org.as(agent)(`/conversations/${id}/star`, { method: "POST" });
    await s.next((e) => e.type === "conversation.updated" && e.data.starred === true, "the star");

    const sent = await json(await org.as(agent)(`/conversations/${id}/messages`, { body: { type: "sms", body: "Hi! How can we help?" } }));
    await s.next((e) => e.type === "message.created" && e.data.id === sent.id && e.data.status === "queued", "the queued message");
    await s.next((e) => e.type === "message.updated" && e.data.id === sent.id && e.data.status === "sent", "its status change");

    const draft = await json(await org.as(agent)(`/conversations/${id}/suggestions`, { body: { body: "Draft reply" } }));
    expect((await s.next(ofType("suggestion.created", id))).data).toMatchObject({ id: draft.id, status: "pending" });

    const call1 = await ingestOk(org, {
      contact: { phone: "+14155558002" },
      type: "call",
      direction: "inbound",
      call: { status: "completed", duration_seconds: 40, transcript: "Hi, this is Ana. I would like to book a cleaning for Friday at 9am please." },
    });
    await s.next((e) => e.type === "message.updated" && e.data.id === call1.message.id && e.data.call.summary_status === "ready", "the call summary");

    // Sequence numbers grow by one, every event carries its time.
    const seqs = s.seen.filter((e) => e.seq && e.type !== "hello").map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    expect(s.seen.every((e) => e.type === "hello" || !Number.isNaN(Date.parse(e.at)))).toBe(true);
    s.close();
  });

  it("provider status webhooks reach the sockets as message.updated", async () => {
    const org = await newOrg();
    const number = "+14155558051";
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } });
    const { message } = await ingestOk(org, {
      contact: { phone: "+14155558052" },
      direction: "outbound",
      provider: "twilio",
      provider_message_id: "SMev1",
      from: number,
      to: "+14155558052",
    });
    const s = await connect(org, org.owner);
    const params = {
      MessageStatus: "delivered",
      SmsStatus: "delivered",
      MessageSid: "SMev1",
      SmsSid: "SMev1",
      From: number,
      To: "+14155558052",
      AccountSid: "AC00000000000000000000000000000000",
      ApiVersion: "2010-04-01",
    };
    expect((await twilioPost("/webhooks/twilio/status", params)).status).toBe(200);
    const updated = await s.next((e) => e.type === "message.updated" && e.data.id === message.id, "the delivered status");
    expect(updated.data.status).toBe("delivered");
    s.close();
  });

  it("a hibernated (evicted) object still delivers to its sockets, and ping gets pong", async () => {
    const org = await newOrg();
    const s = await connect(org, org.owner);
    await evictDurableObject(env.ORG_INBOX.get(env.ORG_INBOX.idFromName(org.orgId)));
    const { message } = await ingestOk(org, { contact: { phone: "+14155558011" } });
    await s.next((e) => e.type === "message.created" && e.data.id === message.id, "the event after eviction");
    const pong = new Promise<string>((r) => s.ws.addEventListener("message", (m) => m.data === "pong" && r(m.data as string)));
    s.ws.send("ping");
    expect(await pong).toBe("pong");
    s.close();
  });

  it("resuming with since replays exactly the missed events; at or past the latest replays nothing", async () => {
    const org = await newOrg();
    const s = await connect(org, org.owner);
    const { message } = await ingestOk(org, { contact: { phone: "+14155558021" } });
    const last = await s.next(ofType("conversation.updated", message.conversation_id));
    s.close();
    const id = message.conversation_id;
    await org.as(org.owner)(`/conversations/${id}/star`, { method: "POST" });
    await org.as(org.owner)(`/conversations/${id}/read`, { method: "POST" });
    await org.as(org.owner)(`/conversations/${id}/archive`, { body: { archived: true } });

    const again = await connect(org, org.owner, `?since=${last.seq}`);
    const missed = await again.next((e) => e.type !== "hello" && e.seq === last.seq + 3, "the third missed event");
    expect(missed.data.archived).toBe(true);
    const replayed = again.seen.filter((e) => e.type !== "hello");
    expect(replayed.map((e) => e.seq)).toEqual([last.seq + 1, last.seq + 2, last.seq + 3]);
    expect(replayed.map((e) => [e.data.starred, e.data.unread_count, e.data.archived])).toEqual([
      [true, 1, false],
      [true, 0, false],
      [true, 0, true],
    ]);
    again.close();

    const current = await connect(org, org.owner, `?since=${last.seq + 3}`);
    expect(current.seen.map((e) => e.type)).toEqual(["hello"]);
    expect(current.seen[0].seq).toBe(last.seq + 3);
    current.close();
  });

  it("asks for a resync when the missed events are no longer buffered", async () => {
    const org = await newOrg();
    const s = await connect(org, org.owner);
    const { message } = await ingestOk(org, { contact: { phone: "+14155558031" } });
    const first = await s.next(ofType("conversation.updated"));
    const stub = env.ORG_INBOX.get(env.ORG_INBOX.idFromName(org.orgId));
    // 1,001 more events push the first ones out of the 1,000-event buffer.
    for (let i = 0; i < 1001; i++) await stub.changeState(org.orgId, message.conversation_id, { kind: "star", starred: i % 2 === 0 });
    s.close();
    const late = await connect(org, org.owner, `?since=${first.seq - 1}`);
    const resync = await late.next((e) => e.type === "resync", "resync");
    expect(resync.seq).toBe(first.seq + 1001);
    expect(late.seen.filter((e) => e.seq && e.type !== "hello" && e.type !== "resync")).toEqual([]);
    late.close();
    // Within the buffer, replay still works.
    const recent = await connect(org, org.owner, `?since=${first.seq + 990}`);
    await recent.next((e) => e.type !== "hello" && e.seq === first.seq + 1001, "the latest event");
    expect(recent.seen.filter((e) => e.type === "conversation.updated")).toHaveLength(11);
    recent.close();
  }, 60_000);

  it("org A's events never reach org B's sockets", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    const sa = await connect(a, a.owner);
    const sb = await connect(b, b.owner);
    const inA = await ingestOk(a, { contact: { phone: "+14155558041" } });
    await sa.next((e) => e.type === "message.created" && e.data.id === inA.message.id);
    const inB = await ingestOk(b, { contact: { phone: "+14155558042" } });
    await sb.next((e) => e.type === "message.created" && e.data.id === inB.message.id);
    expect(sb.seen.some((e) => e.conversation_id === inA.message.conversation_id || e.data?.id === inA.message.id)).toBe(false);
    expect(sa.seen.some((e) => e.data?.id === inB.message.id)).toBe(false);
    sa.close();
    sb.close();
  });

  it("a removed member's socket is closed", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const s = await connect(org, agent);
    const closed = new Promise<number>((r) => s.ws.addEventListener("close", (e) => r(e.code)));
    expect((await org.as(org.owner)(`/members/${agent.userId}`, { method: "DELETE" })).status).toBe(204);
    expect(await closed).toBe(4003);
  });
});
