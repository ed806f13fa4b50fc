import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Db, wrap } from "../src/db/client";
import { idempotencyKeys } from "../src/db/schema";
import { ingest } from "../src/org-inbox/ingest";
import { createOutbound } from "../src/org-inbox/outbound";
import { applyState } from "../src/org-inbox/state";
import { deliver } from "../src/sending/queue";
import { handleAiJob } from "../src/setter/jobs";
import {
  count,
  ingest as ingestHttp,
  ingestOk,
  json,
  minutesAgo,
  newOrg,
  postmarkPost,
  queuedMessage,
  shardOf,
  swapInboxShard,
  type TestOrg,
  twilioPost,
} from "./helpers";

afterEach(() => vi.restoreAllMocks());

const inbox = (org: TestOrg) => env.ORG_INBOX.get(env.ORG_INBOX.idFromName(org.orgId));

/** Every table an org owns, in full: equal before and after means nothing was half-written. */
async function everything(orgId: string) {
  const out: Record<string, unknown> = {};
  for (const t of ["contacts", "conversations", "activities", "conversation_tallies", "activity_day_tallies", "training_pairs"]) {
    out[t] = (await (await shardOf(orgId)).prepare(`SELECT * FROM ${t} WHERE org_id = ? ORDER BY 1`).bind(orgId).all()).results;
  }
  return out;
}

/** D1 failing inside a batch: the batch gets one more statement that breaks a constraint at its end. */
function failingLastStatement(d: Db, orgId: string): Db {
  const key = { orgId, key: "duplicate", method: "POST", path: "/", bodyHash: "", state: "done" as const, createdAt: 0, expiresAt: 0 };
  return new Proxy(d, {
    get(target, prop, receiver) {
      if (prop !== "batch") return Reflect.get(target, prop, receiver);
      return (statements: unknown[]) =>
        target.batch([...(statements as unknown as Parameters<Db["batch"]>[0]), target.insert(idempotencyKeys).values([key, key])]);
    },
  });
}

/** D1 that fails every statement once `broken()` says so, as a database that went away mid-job. */
function failingWhen(d1: D1Database, broken: () => boolean): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (prop === "run" || prop === "all" || prop === "raw" || prop === "first") {
          return (...args: unknown[]) => (broken() ? Promise.reject(new Error("D1_ERROR: injected failure")) : value.apply(target, args));
        }
        return value.bind(target);
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => wrap(target.prepare(query));
      if (prop === "batch") {
        return (stmts: D1PreparedStatement[]) =>
          broken() ? Promise.reject(new Error("D1_ERROR: injected failure")) : target.batch(stmts.map((x) => real.get(x) ?? x));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The org's OrgInbox (the only writer of a message's delivery state) on a D1 that fails
 * every statement once `broken()` says so; the answer puts its own D1 back.
 */
const breakInboxDb = (orgId: string, broken: () => boolean) => swapInboxShard(orgId, (d1) => failingWhen(d1, broken));

const outbound = async (orgId: string, id: string) =>
  (await shardOf(orgId)).prepare("SELECT status, provider_message_id, send_attempts FROM activities WHERE id = ?").bind(id).first();

/** Counts of every view equal the walked lists: the tallies survived whatever happened. */
async function countsMatchLists(org: TestOrg) {
  const as = org.as(org.owner);
  const { data: counts } = await json(await as("/conversations/views/counts"));
  for (const c of counts) {
    const { data } = await json(await as(`/conversations?view=${c.view_id}&limit=100`));
    expect({ view: c.key, total: c.total, unread: c.unread }).toEqual({
      view: c.key,
      total: data.length,
      unread: data.filter((x: any) => x.unread_count > 0).length,
    });
  }
}

describe("faults", () => {
  it("a D1 error inside a write batch leaves nothing half-written (ingest, send, state change)", async () => {
    const org = await newOrg();
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: "+14155559801", provider: "log" } });
    const { message } = await ingestOk(org, { contact: { phone: "+14155559802" } });
    const before = await everything(org.orgId);
    const broken = failingLastStatement(wrap(await shardOf(org.orgId)), org.orgId);
    const input = {
      contact: { phone: "+14155559803" },
      type: "sms" as const,
      direction: "inbound" as const,
      status: "received",
      body: "new contact, new thread",
      provider: "twilio",
      providerMessageId: "SMfault1",
      occurredAt: Date.now(),
      mediaIds: [],
    };
    await expect(ingest(broken, org.orgId, input)).rejects.toThrow();
    await expect(
      createOutbound(broken, org.orgId, { conversationId: message.conversation_id, type: "sms", body: "hi", mediaIds: [], authorId: org.owner.userId }),
    ).rejects.toThrow();
    await expect(applyState(broken, wrap(env.DB), org.orgId, message.conversation_id, { kind: "star", starred: true })).rejects.toThrow();
    expect(await everything(org.orgId)).toEqual(before);
    // The real path still works afterwards, and the tallies still add up.
    await ingestOk(org, { contact: { phone: "+14155559803" }, provider_message_id: "SMfault1" });
    await countsMatchLists(org);
  });

  it("the OrgInbox evicted between operations keeps dedup and state", async () => {
    const org = await newOrg();
    const first = await ingestOk(org, { contact: { phone: "+14155559811" }, provider_message_id: "SMev-between" });
    await evictDurableObject(inbox(org));
    const again = await ingestHttp(org, { contact: { phone: "+14155559811" }, provider_message_id: "SMev-between" });
    expect(again.status).toBe(200);
    expect((await json(again)).duplicate).toBe(true);
    await evictDurableObject(inbox(org));
    expect((await org.as(org.owner)(`/conversations/${first.message.conversation_id}/star`, { method: "POST" })).status).toBe(200);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(1);
    await countsMatchLists(org);
  });

  it("the OrgInbox evicted while ingests are in flight: every one answered, each stored once, counts exact", async () => {
    const org = await newOrg();
    const sends = Array.from({ length: 30 }, (_, i) =>
      ingestHttp(org, { contact: { phone: `+1415555${9820 + (i % 10)}` }, provider_message_id: `SMev-during-${i % 10}`, occurred_at: minutesAgo(i) }),
    );
    const evicted = (async () => {
      await new Promise((r) => setTimeout(r, 5));
      await evictDurableObject(inbox(org));
    })();
    const answers = await Promise.all(sends);
    await evicted;
    expect(answers.map((r) => r.status).filter((s) => s !== 200 && s !== 201)).toEqual([]);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(10);
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(10);
    expect(await count("conversations", "org_id = ? AND unread_count = 1", org.orgId)).toBe(10);
    await countsMatchLists(org);
  });

  it("a failed inbound media copy keeps the message, marks the media failed, and a retry fills it in", async () => {
    const org = await newOrg();
    const number = "+14155559831";
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 8, 7]);
    let tries = 0;
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (new URL(req.url).hostname !== "api.twilio.com") return real(input as RequestInfo, init);
      tries++;
      return tries === 1 ? new Response("busy", { status: 503 }) : new Response(jpeg, { headers: { "content-type": "image/jpeg" } });
    });
    const url = "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/SMretry/Media/ME1";
    const params = {
      MessageSid: "SMretry",
      SmsSid: "SMretry",
      AccountSid: "AC00000000000000000000000000000000",
      From: "+14155559832",
      To: number,
      Body: "photo",
      NumMedia: "1",
      MediaUrl0: url,
      MediaContentType0: "image/jpeg",
    };
    expect((await twilioPost("/webhooks/twilio/messages", params)).status).toBe(200);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SMretry'", org.orgId)).toBe(1);
    const shard = await shardOf(org.orgId);
    const status = async () => (await shard.prepare("SELECT status FROM media WHERE org_id = ?").bind(org.orgId).first<{ status: string }>())?.status;
    const seen = new Set<string>();
    const end = Date.now() + 20_000;
    while ((await status()) !== "ready") {
      seen.add((await status())!);
      if (Date.now() > end) throw new Error(`media still ${await status()} after ${tries} tries`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.has("failed")).toBe(true);
    expect(tries).toBe(2);
    const row = await shard.prepare("SELECT id FROM media WHERE org_id = ?").bind(org.orgId).first<{ id: string }>();
    expect(new Uint8Array(await (await env.MEDIA.get(`orgs/${org.orgId}/media/${row!.id}`))!.arrayBuffer())).toEqual(jpeg);
    // The message was there all along and still is, once.
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(1);
  }, 30_000);

  it("redelivered AI jobs do their work once (one LLM call, one draft, one summary)", async () => {
    const org = await newOrg();
    await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "suggestive" } });
    const { message } = await ingestOk(org, { contact: { phone: "+14155559841" }, body: "Any openings today?" });
    const calls: unknown[] = [];
    const AI = { run: async (_m: string, input: unknown) => (calls.push(input), { response: "Yes, 3pm is open." }) } as unknown as Ai;
    const noFetch = { ...env, LLM_BASE_URL: undefined, AI };
    const job = { kind: "draft" as const, orgId: org.orgId, conversationId: message.conversation_id, triggerId: message.id };
    await handleAiJob(noFetch, job);
    await handleAiJob(noFetch, job);
    expect(calls).toHaveLength(1);
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion'", message.conversation_id)).toBeLessThanOrEqual(2);
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion' AND status = 'pending'", message.conversation_id)).toBe(1);

    const call = await ingestOk(org, {
      contact: { phone: "+14155559842" },
      type: "call",
      direction: "inbound",
      body: null,
      call: { status: "completed", duration_seconds: 30, transcript: "Hi, this is Sam. I need to cancel my appointment on Friday at 10am." },
    });
    calls.length = 0;
    const summaryJob = { kind: "summary" as const, orgId: org.orgId, activityId: call.message.id };
    await handleAiJob(noFetch, summaryJob);
    await handleAiJob(noFetch, summaryJob);
    expect(calls.length).toBeLessThanOrEqual(1);
    const row = await (await shardOf(org.orgId)).prepare("SELECT call_summary_status FROM activities WHERE id = ?").bind(call.message.id).first();
    expect(row).toEqual({ call_summary_status: "ready" });
  });
  it("the send consumer dying after Twilio accepted: no second send, and Twilio's callback still lands the message", async () => {
    const number = "+14155559841";
    const { org, job } = await queuedMessage("sms", number);
    const twilio = vi.spyOn(globalThis, "fetch").mockImplementation(async () => Response.json({ sid: "SMcrashed1", status: "queued" }, { status: 201 }));
    // The database goes away the moment Twilio has the message: the sid is never stored.
    const repair = await breakInboxDb(job.orgId, () => twilio.mock.calls.length > 0);
    await expect(deliver(env, job)).rejects.toThrow(/Failed query: update "activities"/);
    await repair();
    expect(twilio).toHaveBeenCalledTimes(1);
    expect(await outbound(job.orgId, job.messageId)).toEqual({ status: "sending", provider_message_id: null, send_attempts: 1 });
    // The queue redelivers the job (twice): the message is no longer queued, so nothing goes out again.
    expect(await deliver(env, job)).toEqual({});
    expect(await deliver(env, job)).toEqual({});
    expect(twilio).toHaveBeenCalledTimes(1);
    const callback = new URL(new URLSearchParams(String(twilio.mock.calls[0][1]?.body)).get("StatusCallback")!);
    expect(callback.searchParams.get("message_id")).toBe(job.messageId);
    twilio.mockRestore();

    // Twilio's callback names our message in its (signed) URL: the sid is adopted and the status applied.
    const status = {
      MessageSid: "SMcrashed1",
      SmsSid: "SMcrashed1",
      MessageStatus: "delivered",
      From: number,
      To: "+14155550142",
      AccountSid: "AC00000000000000000000000000000000",
    };
    // Another org's message id in the URL adopts nothing there.
    const other = await queuedMessage("sms", "+14155559842");
    await (await shardOf(other.org.orgId)).prepare("UPDATE activities SET status = 'sending' WHERE id = ?").bind(other.job.messageId).run();
    expect((await twilioPost(`/webhooks/twilio/status?message_id=${other.job.messageId}`, status)).status).toBe(200);
    expect(await outbound(other.job.orgId, other.job.messageId)).toMatchObject({ status: "sending", provider_message_id: null });
    expect(await outbound(job.orgId, job.messageId)).toMatchObject({ status: "sending", provider_message_id: null });
    expect((await twilioPost(`${callback.pathname}${callback.search}`, status)).status).toBe(200);
    expect(await outbound(job.orgId, job.messageId)).toEqual({ status: "delivered", provider_message_id: "SMcrashed1", send_attempts: 1 });
    const { data } = await json(await org.as(org.owner)(`/conversations/${(await json(await org.as(org.owner)("/conversations"))).data[0].id}/messages`));
    expect(data.find((m: { id: string }) => m.id === job.messageId)).toMatchObject({ status: "delivered", provider_message_id: "SMcrashed1" });
  });

  it("the send consumer dying after Postmark accepted: no second send, and the Delivery event still lands the email", async () => {
    const { job } = await queuedMessage("email", `help-${crypto.randomUUID().slice(0, 8)}@acme.test`);
    const postmark = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(async () =>
        Response.json({ ErrorCode: 0, Message: "OK", MessageID: "pm-crashed-1", To: "priya@example.org", SubmittedAt: new Date().toISOString() }),
      );
    const repair = await breakInboxDb(job.orgId, () => postmark.mock.calls.length > 0);
    await expect(deliver(env, job)).rejects.toThrow(/Failed query: update "activities"/);
    await repair();
    expect(await deliver(env, job)).toEqual({});
    expect(postmark).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(postmark.mock.calls[0][1]?.body)).Metadata).toEqual({ message_id: job.messageId });
    postmark.mockRestore();
    expect(await outbound(job.orgId, job.messageId)).toEqual({ status: "sending", provider_message_id: null, send_attempts: 1 });
    const event = {
      RecordType: "Delivery",
      MessageID: "pm-crashed-1",
      Metadata: { message_id: job.messageId },
      Recipient: "priya@example.org",
      MessageStream: "outbound",
      DeliveredAt: new Date().toISOString(),
    };
    const res = await postmarkPost("/webhooks/postmark/events", event);
    expect(res.status).toBe(200);
    expect(await outbound(job.orgId, job.messageId)).toEqual({ status: "delivered", provider_message_id: "pm-crashed-1", send_attempts: 1 });
  });
});
