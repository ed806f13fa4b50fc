import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WEBHOOK_EVENT_TYPES } from "../src/db/enums";
import type { WebhookJob } from "../src/jobs";
import { dispatchOrg } from "../src/outbox/dispatch";
import { sweepWebhooks, UNDISPATCHED_AFTER_MS } from "../src/outbox/sweep";
import { call, count, ingestOk, json, newOrg, shardOf, type TestOrg, twilioPost } from "./helpers";

// SPEC 18, the events: the outbox row written with the change it reports, the dispatch that
// fans it out, the queue that delivers it, the sweep that finds what the queue lost. The
// receiver lies outside this Worker: answered here at the HTTP boundary (hooks.fake), and
// each request is verified with the standardwebhooks library, as a receiver would.

type Hit = { url: string; id: string; headers: Headers; body: string; json: any };
let hits: Hit[] = [];
beforeEach(() => {
  hits = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const host = new URL(req.url).host;
    if (host === "twilio.fake") return Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 });
    if (host !== "hooks.fake") return real(input as RequestInfo, init);
    const body = await req.text();
    hits.push({ url: req.url, id: req.headers.get("webhook-id") ?? "", headers: req.headers, body, json: JSON.parse(body) });
    return new Response("ok");
  });
});
afterEach(() => vi.restoreAllMocks());

async function endpoint(org: TestOrg, path: string, events: string[] = ["*"]) {
  const res = await org.as(org.owner)("/webhook-endpoints", { body: { url: `https://hooks.fake/${path}`, events } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; secret: string };
}

/** Waits until `pred` holds of what the receiver got (the queue runs on its own). */
async function received(pred: (h: Hit[]) => boolean, what: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (!pred(hits)) {
    if (Date.now() > until) throw new Error(`receiver never got ${what}; got ${JSON.stringify(hits.map((h) => [h.url, h.json.type]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const at = (path: string) => hits.filter((h) => new URL(h.url).pathname === `/${path}`);

/** Runs `body` while the org's OrgInbox cannot queue webhook jobs (the Worker "died" between the write and the enqueue). */
async function withoutWebhookQueue<T>(orgId: string, body: () => Promise<T>): Promise<T> {
  const stub = env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
  type Instance = { env: Record<string, unknown> };
  const real = await runInDurableObject(stub, (instance) => {
    const it = instance as unknown as Instance;
    const own = it.env;
    const dead = { send: () => Promise.reject(new Error("gone")), sendBatch: () => Promise.reject(new Error("gone")) };
    it.env = { ...own, WEBHOOK_QUEUE: dead };
    return own;
  });
  try {
    return await body();
  } finally {
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as Instance).env = real;
    });
  }
}

describe("outgoing webhook events", () => {
  it("each event type reaches a subscribed endpoint once, signed, in the REST shape; an unsubscribed type never does", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    expect((await as("/channels", { body: { kind: "sms", address: "+14155563001", provider: "twilio" } })).status).toBe(201);
    const all = await endpoint(org, "all");
    const contactsOnly = await endpoint(org, "contacts", ["contact.created", "contact.updated"]);

    // A new contact writes to us: contact.created, message.created, conversation.updated.
    const { message } = await ingestOk(org, { contact: { phone: "+14155550301", name: "Ana" } });
    const conversationId = message.conversation_id as string;
    // A member stars it, renames the contact, gets a draft and sends.
    expect((await as(`/conversations/${conversationId}/star`, { method: "POST" })).status).toBe(200);
    expect((await as(`/contacts/${message.contact_id}`, { method: "PATCH", body: { name: "Ana Maria" } })).status).toBe(200);
    expect((await as(`/conversations/${conversationId}/suggestions`, { body: { body: "Tuesday works" } })).status).toBe(201);
    const sent = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "See you Tuesday" } }));

    const want = ["contact.created", "message.created", "conversation.updated", "contact.updated", "suggestion.created", "message.updated"];
    await received((h) => {
      const types = new Set(h.filter((x) => x.url.endsWith("/all")).map((x) => x.json.type));
      return want.every((t) => types.has(t)) && h.some((x) => x.json.type === "message.updated" && x.json.data.object.status === "sent");
    }, "every type");
    // Anything still on its way lands.
    await new Promise((r) => setTimeout(r, 1500));

    const mine = at("all");
    // Each with a valid Standard Webhooks signature, its id its delivery's, none twice.
    for (const h of mine) expect(new Webhook(all.secret).verify(h.body, Object.fromEntries(h.headers))).toEqual(h.json);
    expect(new Set(mine.map((h) => h.id)).size).toBe(mine.length);
    expect(await count("webhook_deliveries", "org_id = ? AND status = 'succeeded'", org.orgId)).toBe(hits.length);
    // data.seq numbers the org's events one by one.
    const seqs = mine.map((h) => h.json.data.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    for (const h of mine) expect(h.json).toMatchObject({ data: { org_id: org.orgId } });
    expect(mine.every((h) => !Number.isNaN(Date.parse(h.json.timestamp)))).toBe(true);

    // The object is the REST shape.
    const created = mine.find((h) => h.json.type === "message.created" && h.json.data.object.id === message.id)!;
    expect(created.json.data).toMatchObject({ conversation_id: conversationId, object: { ...message, media: [] } });
    const contact = await json(await as(`/contacts/${message.contact_id}`));
    const renamed = mine.find((h) => h.json.type === "contact.updated")!;
    expect(renamed.json.data.object).toEqual(contact);
    // As GET /conversations lists it (GET /conversations/{id} adds the pending draft), as /events sends it.
    const convo = (await json(await as("/conversations"))).data.find((c: { id: string }) => c.id === conversationId);
    const lastThread = mine.filter((h) => h.json.type === "conversation.updated").sort((a, b) => b.json.data.seq - a.json.data.seq)[0];
    expect(lastThread.json.data.object).toMatchObject({ id: conversationId, starred: true, contact: { name: "Ana Maria" } });
    expect(lastThread.json.data.object).toEqual(convo);
    expect(mine.filter((h) => h.json.type === "message.created" && h.json.data.object.id === sent.id)).toHaveLength(1);

    // The other endpoint got its two types and nothing else.
    expect(
      at("contacts")
        .map((h) => h.json.type)
        .sort(),
    ).toEqual(["contact.created", "contact.updated"]);
    for (const h of at("contacts")) expect(() => new Webhook(contactsOnly.secret).verify(h.body, Object.fromEntries(h.headers))).not.toThrow();
  });

  it("nothing is written to the outbox while no enabled endpoint subscribes; an endpoint's change applies to the next write", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    await ingestOk(org, { contact: { phone: "+14155550311" } });
    expect(await count("webhook_events", "org_id = ?", org.orgId)).toBe(0);
    const hook = await endpoint(org, "later", ["message.created"]);
    await ingestOk(org, { contact: { phone: "+14155550311" } });
    expect(await count("webhook_events", "org_id = ?", org.orgId)).toBe(1);
    expect(await count("webhook_events", "org_id = ? AND type = 'message.created'", org.orgId)).toBe(1);
    await received(() => at("later").length === 1, "the one message.created");
    // Disabled: the next write leaves no row.
    expect((await org.as(org.owner)(`/webhook-endpoints/${hook.id}`, { method: "PATCH", body: { enabled: false } })).status).toBe(200);
    await ingestOk(org, { contact: { phone: "+14155550311" } });
    expect(await count("webhook_events", "org_id = ?", org.orgId)).toBe(1);
  });

  it("a duplicate delivery of an inbound message writes no second event", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    await endpoint(org, "dups", ["message.created"]);
    const params = { MessageSid: "SMdupwebhook1", From: "+14155550321", To: "+14155563002", Body: "hello", NumMedia: "0", AccountSid: env.TWILIO_ACCOUNT_SID! };
    expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: "+14155563002", provider: "twilio" } })).status).toBe(201);
    const answers = await Promise.all(Array.from({ length: 10 }, () => twilioPost("/webhooks/twilio/messages", params)));
    for (const a of answers) expect(a.status).toBeLessThan(300);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SMdupwebhook1'", org.orgId)).toBe(1);
    expect(await count("webhook_events", "org_id = ? AND type = 'message.created'", org.orgId)).toBe(1);
    await received(() => at("dups").length === 1, "one message.created");
    await new Promise((r) => setTimeout(r, 1000));
    expect(at("dups")).toHaveLength(1);
  });

  it("the Worker dying between the write and the enqueue only delays the event: the sweep dispatches it", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    const hook = await endpoint(org, "swept", ["message.created"]);
    const { message } = await withoutWebhookQueue(org.orgId, () => ingestOk(org, { contact: { phone: "+14155550331" } }));
    expect(await count("webhook_events", "org_id = ? AND dispatched_at IS NULL", org.orgId)).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(at("swept")).toHaveLength(0);
    // Too young for the sweep: its job may still be on the way.
    expect((await sweepWebhooks(env)).dispatch).toBe(0);
    const later = await sweepWebhooks(env, Date.now() + UNDISPATCHED_AFTER_MS + 1000);
    expect(later.dispatch).toBeGreaterThanOrEqual(1);
    await received(() => at("swept").length === 1, "the swept event");
    const [hit] = at("swept");
    expect(hit.json).toMatchObject({ type: "message.created", data: { object: { id: message.id } } });
    expect(() => new Webhook(hook.secret).verify(hit.body, Object.fromEntries(hit.headers))).not.toThrow();
    expect(await count("webhook_events", "org_id = ? AND dispatched_at IS NULL", org.orgId)).toBe(0);
  });

  it("two dispatchers of one org at once create each delivery once", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    await endpoint(org, "race-a", ["message.created"]);
    await endpoint(org, "race-b", ["*"]);
    // Written with no dispatch job, so the dispatchers below are the first.
    await withoutWebhookQueue(org.orgId, async () => {
      for (let i = 0; i < 5; i++) await ingestOk(org, { contact: { phone: `+1415555034${i}` } });
    });
    const events = await count("webhook_events", "org_id = ?", org.orgId);
    const messages = await count("webhook_events", "org_id = ? AND type = 'message.created'", org.orgId);
    expect(messages).toBe(5);
    const made = await Promise.all([dispatchOrg(env, org.orgId), dispatchOrg(env, org.orgId), dispatchOrg(env, org.orgId)]);
    expect(made.reduce((a, b) => a + b, 0)).toBe(events + messages);
    expect(await count("webhook_deliveries", "org_id = ?", org.orgId)).toBe(events + messages);
    expect(await count("webhook_events", "org_id = ? AND body IS NULL", org.orgId)).toBe(0);
    await received(() => hits.length === events + messages, "every delivery");
    await new Promise((r) => setTimeout(r, 1000));
    expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
    expect(hits).toHaveLength(events + messages);
  });

  it("a batch whose write fails leaves no event row; the one-by-one retry writes each stored item's", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    await endpoint(org, "batch", ["message.created"]);
    const items = [
      { contact: { phone: "+14155550351" }, type: "sms", direction: "inbound", body: "one", provider: "twilio", provider_message_id: "SMbatchev1" },
      {
        contact: { id: crypto.randomUUID() },
        type: "sms",
        direction: "inbound",
        body: "unknown contact",
        provider: "twilio",
        provider_message_id: "SMbatchev2",
      },
      { contact: { phone: "+14155550352" }, type: "sms", direction: "inbound", body: "two", provider: "twilio", provider_message_id: "SMbatchev3" },
      { contact: { phone: "+14155550351" }, type: "sms", direction: "inbound", body: "one again", provider: "twilio", provider_message_id: "SMbatchev1" },
    ];
    const res = await org.as(org.owner)("/activities/batch", { body: { activities: items } });
    expect(res.status).toBe(200);
    const { results } = await json(res);
    expect(results.map((r: { status: number }) => r.status)).toEqual([201, 422, 201, 200]);
    expect(await count("webhook_events", "org_id = ? AND type = 'message.created'", org.orgId)).toBe(2);
    await received(() => at("batch").length === 2, "two message.created");
    expect(
      at("batch")
        .map((h) => h.json.data.object.body)
        .sort(),
    ).toEqual(["one", "two"]);
  });

  it("1,000 ingests: 1,000 message.created deliveries, none twice", { timeout: 120_000 }, async () => {
    const org = await newOrg();
    await endpoint(org, "thousand", ["message.created"]);
    const item = (i: number) => ({
      contact: { phone: `+1415557${String(i % 50).padStart(4, "0")}` },
      type: "sms",
      direction: "inbound",
      body: `message ${i}`,
      provider: "twilio",
      provider_message_id: `SMthousand${i}`,
    });
    // Two batches of 400, and 200 one at a time, all at once; and the first batch again (duplicates).
    const batches = [0, 400].map((from) => Array.from({ length: 400 }, (_, k) => item(from + k)));
    const answers = await Promise.all([
      ...batches.map((items) => org.as(org.owner)("/activities/batch", { body: { activities: items } })),
      ...Array.from({ length: 200 }, (_, k) => org.as(org.owner)("/activities", { body: item(800 + k) })),
    ]);
    for (const a of answers) expect(a.status).toBeLessThan(300);
    const again = await org.as(org.owner)("/activities/batch", { body: { activities: batches[0] } });
    expect((await json(again)).results.every((r: { status: number }) => r.status === 200)).toBe(true);
    await received(() => at("thousand").length >= 1000, "1,000 deliveries", 90_000);
    await new Promise((r) => setTimeout(r, 2000));
    const mine = at("thousand");
    expect(mine).toHaveLength(1000);
    expect(new Set(mine.map((h) => h.id)).size).toBe(1000);
    expect(new Set(mine.map((h) => h.json.data.object.body)).size).toBe(1000);
    expect(await count("webhook_deliveries", "org_id = ? AND status = 'succeeded'", org.orgId)).toBe(1000);
  });
});

describe("the webhook sweep", () => {
  it("queues overdue pending deliveries whose lease has run out, and leaves the rest", { timeout: 60_000 }, async () => {
    const org = await newOrg();
    const hook = await endpoint(org, "overdue", ["message.created"]);
    const shard = await shardOf(org.orgId);
    const now = Date.now();
    const insert = (id: string, status: string, next: number | null, lease: number | null) =>
      shard
        .prepare(
          `INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, lease_until, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'message.created', ?, 1, ?, ?, ?, ?)`,
        )
        .bind(id, org.orgId, hook.id, `evt-${id}`, status, next, lease, now, now)
        .run();
    await insert("msg_overdue", "pending", now - 120_000, null);
    await insert("msg_leased", "pending", now - 120_000, now + 60_000);
    await insert("msg_notyet", "pending", now - 10_000, null);
    await insert("msg_over", "failed", null, null);
    const sent: WebhookJob[] = [];
    const spy = vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockImplementation(async (batch) => {
      sent.push(...[...batch].map((m) => m.body as WebhookJob));
      return undefined as never;
    });
    await sweepWebhooks(env, now);
    spy.mockRestore();
    expect(sent.filter((j) => j.kind === "deliver" && j.orgId === org.orgId)).toEqual([{ kind: "deliver", orgId: org.orgId, deliveryId: "msg_overdue" }]);
  });
});

describe("the events in /openapi.json", () => {
  it("lists each of the eight types as an OpenAPI webhook whose object is the REST schema, signed with Standard Webhooks", async () => {
    const doc = await json(await call("/openapi.json"));
    expect(Object.keys(doc.webhooks).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    const objectRef = (type: string) => {
      const body = doc.webhooks[type].post.requestBody.content["application/json"].schema.$ref.split("/").pop();
      return doc.components.schemas[body].properties.data.properties.object.$ref;
    };
    expect(objectRef("message.created")).toBe("#/components/schemas/Message");
    expect(objectRef("conversation.updated")).toBe("#/components/schemas/Conversation");
    expect(objectRef("suggestion.created")).toBe("#/components/schemas/Suggestion");
    expect(objectRef("contact.opted_out")).toBe("#/components/schemas/Contact");
    expect(doc.webhooks["message.created"].post.security).toEqual([{ standardWebhooks: [] }]);
    expect(doc.components.securitySchemes.standardWebhooks).toMatchObject({ type: "apiKey", in: "header", name: "webhook-signature" });
  });
});
