import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import type { WebhookJob } from "../src/jobs";
import {
  attemptDelivery,
  DISABLED_BY_FAILURES,
  DISABLED_BY_GONE,
  FAILING_DISABLES_AFTER_MS,
  MAX_DELIVERY_ATTEMPTS,
  RETRY_SCHEDULE_SECONDS,
  retryDelaySeconds,
} from "../src/outbox/deliver";
import { BASE, count, expectProblem, json, newOrg, shardOf, type TestOrg } from "./helpers";

// SPEC 18, deliveries: one signed attempt at a time (src/outbox/deliver.ts), called here
// directly with `now` standing for the time the queue would bring the job; the receiver
// is faked at https://hooks.fake (a spy on fetch; every other host reaches the real
// fetch) and checks each request with the `standardwebhooks` library, as a customer's
// receiver would. WEBHOOK_QUEUE is a recorder, so no real consumer races the test.

afterEach(() => vi.restoreAllMocks());

const realFetch = globalThis.fetch;
type Seen = { url: string; headers: Record<string, string>; body: string; redirect: string; at: number };

/** The fake receiver: `answer` makes the response of the n-th request (1-based). */
function receiver(answer: (seen: Seen, n: number, init?: RequestInit) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (new URL(req.url).host !== "hooks.fake") return realFetch(input as RequestInfo, init);
    const s = { url: req.url, headers: Object.fromEntries(req.headers), body: await req.text(), redirect: req.redirect, at: Date.now() };
    seen.push(s);
    return answer(s, seen.length, init);
  });
  return seen;
}

type Sent = { body: WebhookJob; delaySeconds?: number };

/** The test env with WEBHOOK_QUEUE recording what is sent (and other settings overridden). */
function withQueue(overrides: Record<string, string> = {}) {
  const sent: Sent[] = [];
  const queue = {
    send: async (body: WebhookJob, o?: QueueSendOptions) => {
      sent.push({ body, delaySeconds: o?.delaySeconds });
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<WebhookJob>>) => {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
    },
  };
  return { env: { ...env, ...overrides, WEBHOOK_QUEUE: queue } as unknown as Bindings, sent };
}

type Endpoint = { id: string; secret: string; url: string };
type Seeded = { org: TestOrg; endpoint: Endpoint; deliveryId: string; eventId: string; body: string; job: { orgId: string; deliveryId: string } };

let seq = 0;

/** One outbox event with its body and one pending delivery of it to `endpoint`, due at `at`, as the dispatcher leaves them. */
async function addDelivery(org: TestOrg, endpointId: string, o: { at?: number; status?: string; attempts?: number } = {}) {
  const at = o.at ?? Date.now();
  const eventId = crypto.randomUUID();
  const deliveryId = crypto.randomUUID();
  const body = JSON.stringify({
    type: "contact.created",
    timestamp: new Date(at).toISOString(),
    data: { org_id: org.orgId, seq: ++seq, object: { id: crypto.randomUUID(), name: "Maria Lopez" } },
  });
  const shard = await shardOf(org.orgId);
  await shard.batch([
    shard
      .prepare(
        "INSERT INTO webhook_events (id, org_id, seq, type, conversation_id, object_id, body, dispatched_at, created_at) VALUES (?, ?, ?, 'contact.created', NULL, ?, ?, ?, ?)",
      )
      .bind(eventId, org.orgId, seq, crypto.randomUUID(), body, at, at),
    shard
      .prepare(
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'contact.created', ?, ?, ?, ?, ?)",
      )
      .bind(deliveryId, org.orgId, endpointId, eventId, o.status ?? "pending", o.attempts ?? 0, (o.status ?? "pending") === "pending" ? at : null, at, at),
  ]);
  return { deliveryId, eventId, body, job: { orgId: org.orgId, deliveryId } };
}

/** A fresh org with an endpoint at https://hooks.fake/… (made through the API) and one pending delivery. */
async function seed(org?: TestOrg): Promise<Seeded> {
  const o = org ?? (await newOrg());
  const res = await o.as(o.owner)("/webhook-endpoints", { body: { url: `https://hooks.fake/in/${crypto.randomUUID()}` } });
  expect(res.status, await res.clone().text()).toBe(201);
  const endpoint = await json<Endpoint>(res);
  return { org: o, endpoint, ...(await addDelivery(o, endpoint.id)) };
}

type DeliveryRow = {
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  last_response: string | null;
  next_attempt_at: number | null;
  lease_until: number | null;
};
const deliveryRow = async (s: { org: TestOrg }, id: string) =>
  (await shardOf(s.org.orgId)).prepare("SELECT * FROM webhook_deliveries WHERE id = ?").bind(id).first<DeliveryRow & Record<string, unknown>>();
const endpointRow = async (s: Seeded) =>
  (await shardOf(s.org.orgId))
    .prepare("SELECT enabled, disabled_reason, failing_since FROM webhook_endpoints WHERE id = ?")
    .bind(s.endpoint.id)
    .first<{ enabled: number; disabled_reason: string | null; failing_since: number | null }>();

/** Verifies a request as a receiver would, with `secret`: answers the payload. */
const verify = (secret: string, seen: Seen) => new Webhook(secret).verify(seen.body, seen.headers);

/** The org's API on `e` (a fake queue), as the owner. */
const callWith = (e: Bindings, org: TestOrg, path: string, method = "GET") =>
  app.fetch(
    new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } }),
    e,
    createExecutionContext(),
  );

describe("the retry schedule", () => {
  it("waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after attempts 1–7, plus at most 20 % jitter, never over the queue's 12 h", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelaySeconds(n, 0))).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    for (let n = 1; n <= 7; n++) {
      const base = RETRY_SCHEDULE_SECONDS[n - 1];
      for (const r of [0, 0.25, 0.5, 0.9999, 1]) {
        const s = retryDelaySeconds(n, r);
        expect(s).toBeGreaterThanOrEqual(base);
        expect(s).toBeLessThanOrEqual(Math.min(base * 1.2, 43_200));
        expect(Number.isInteger(s)).toBe(true);
      }
    }
    expect(retryDelaySeconds(7, 1)).toBe(43_200);
    expect(retryDelaySeconds(99, 1)).toBe(43_200);
    expect(MAX_DELIVERY_ATTEMPTS).toBe(8);
  });
});

describe("attemptDelivery", () => {
  it("POSTs the event's body, signed per Standard Webhooks with webhook-id = the delivery id; a 2xx succeeds once and for all", async () => {
    const s = await seed();
    const seen = receiver(() => new Response("thanks", { status: 200 }));
    const q = withQueue();
    await attemptDelivery(q.env, s.job);
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req.url).toBe(s.endpoint.url);
    expect(req.body).toBe(s.body);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["user-agent"]).toMatch(/^inbox-api-webhooks\//);
    expect(req.headers["webhook-id"]).toBe(s.deliveryId);
    expect(req.redirect).toBe("manual");
    expect(verify(s.endpoint.secret, req)).toEqual(JSON.parse(s.body));
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({
      status: "succeeded",
      attempts: 1,
      last_status_code: 200,
      last_error: null,
      last_response: "thanks",
      next_attempt_at: null,
      lease_until: null,
    });
    expect(q.sent).toEqual([]);
    // Over: another job (a redelivery, the sweep) sends nothing.
    await attemptDelivery(q.env, s.job);
    expect(seen).toHaveLength(1);
  });

  it("500, 500, 200: three attempts on the schedule with the same webhook-id, each verifiable, then succeeded; the endpoint's failure clock starts and clears", async () => {
    const s = await seed();
    const answers = [500, 500, 200];
    const seen = receiver((_, n) => new Response(`answer ${n}`, { status: answers[n - 1] }));
    const q = withQueue();
    const t0 = Date.now();

    await attemptDelivery(q.env, s.job, t0);
    let row = (await deliveryRow(s, s.deliveryId))!;
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: 500,
      last_error: "answered 500",
      last_response: "answer 1",
      lease_until: null,
    });
    expect(row.next_attempt_at! - t0).toBe(q.sent[0].delaySeconds! * 1000);
    expect(q.sent[0].delaySeconds).toBeGreaterThanOrEqual(5);
    expect(q.sent[0].delaySeconds).toBeLessThanOrEqual(6);
    expect(q.sent[0].body).toEqual({ kind: "deliver", orgId: s.org.orgId, deliveryId: s.deliveryId });
    expect((await endpointRow(s))!.failing_since).toBe(t0);

    // Not due yet: a job that comes early sends nothing.
    await attemptDelivery(q.env, s.job, t0 + 1000);
    expect(seen).toHaveLength(1);

    const t1 = row.next_attempt_at!;
    await attemptDelivery(q.env, s.job, t1);
    row = (await deliveryRow(s, s.deliveryId))!;
    expect(row).toMatchObject({ status: "pending", attempts: 2, last_status_code: 500 });
    expect(q.sent[1].delaySeconds).toBeGreaterThanOrEqual(300);
    expect(q.sent[1].delaySeconds).toBeLessThanOrEqual(360);
    expect(row.next_attempt_at! - t1).toBe(q.sent[1].delaySeconds! * 1000);
    expect((await endpointRow(s))!.failing_since).toBe(t0);

    await attemptDelivery(q.env, s.job, row.next_attempt_at!);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({
      status: "succeeded",
      attempts: 3,
      last_status_code: 200,
      last_error: null,
      next_attempt_at: null,
    });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((r) => r.headers["webhook-id"]))).toEqual(new Set([s.deliveryId]));
    for (const r of seen) expect(verify(s.endpoint.secret, r)).toEqual(JSON.parse(s.body));
    expect(await endpointRow(s)).toMatchObject({ enabled: 1, failing_since: null });
    expect(q.sent).toHaveLength(2);
  });

  it("fails the delivery after the 8th attempt (the first try and 7 retries), each retry queued with its delay", async () => {
    const s = await seed();
    const seen = receiver(() => new Response("down", { status: 503 }));
    const q = withQueue();
    let now = Date.now();
    for (let attempt = 1; attempt <= 8; attempt++) {
      await attemptDelivery(q.env, s.job, now);
      const row = (await deliveryRow(s, s.deliveryId))!;
      expect(row.attempts).toBe(attempt);
      if (attempt < 8) {
        expect(row.status).toBe("pending");
        const base = RETRY_SCHEDULE_SECONDS[attempt - 1];
        const delay = q.sent[attempt - 1].delaySeconds!;
        expect(delay).toBeGreaterThanOrEqual(base);
        expect(delay).toBeLessThanOrEqual(base * 1.2);
        expect(row.next_attempt_at).toBe(now + delay * 1000);
        now = row.next_attempt_at!;
      } else {
        expect(row).toMatchObject({ status: "failed", last_status_code: 503, last_error: "answered 503", next_attempt_at: null, lease_until: null });
      }
    }
    expect(seen).toHaveLength(8);
    expect(q.sent).toHaveLength(7);
    // Failed is over: a late job sends nothing. The endpoint failed for ~28 h, not 5 days: still enabled.
    await attemptDelivery(q.env, s.job, now + 86_400_000);
    expect(seen).toHaveLength(8);
    expect((await endpointRow(s))!.enabled).toBe(1);
  });

  it("410 Gone disables the endpoint at once, with its reason, and fails the delivery; its other deliveries then fail without a request", async () => {
    const s = await seed();
    const other = await addDelivery(s.org, s.endpoint.id);
    const seen = receiver(() => new Response("gone", { status: 410 }));
    const q = withQueue();
    await attemptDelivery(q.env, s.job);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "failed", attempts: 1, last_status_code: 410, next_attempt_at: null });
    expect(q.sent).toEqual([]);
    const endpoint = await json(await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}`));
    expect(endpoint).toMatchObject({ enabled: false, disabled_reason: DISABLED_BY_GONE });

    await attemptDelivery(q.env, other.job);
    expect(seen).toHaveLength(1);
    expect(await deliveryRow(s, other.deliveryId)).toMatchObject({
      status: "failed",
      attempts: 0,
      last_error: "endpoint disabled",
      next_attempt_at: null,
      lease_until: null,
    });
  });

  it("a redirect is a failure and is not followed; a network error is a failure; both are retried", async () => {
    const s = await seed();
    const seen = receiver((_, n) => {
      if (n === 1) return new Response(null, { status: 302, headers: { location: "https://elsewhere.fake/hook" } });
      throw new TypeError("connection refused");
    });
    const q = withQueue();
    const t0 = Date.now();
    await attemptDelivery(q.env, s.job, t0);
    expect(seen).toHaveLength(1);
    expect(seen[0].redirect).toBe("manual");
    const row = (await deliveryRow(s, s.deliveryId))!;
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_status_code: 302 });
    expect(row.last_error).toContain("https://elsewhere.fake/hook");
    expect(q.sent).toHaveLength(1);

    await attemptDelivery(q.env, s.job, row.next_attempt_at!);
    expect(seen).toHaveLength(2);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({
      status: "pending",
      attempts: 2,
      last_status_code: null,
      last_error: "network error: connection refused",
    });
    expect(q.sent).toHaveLength(2);
  });

  it("a receiver slower than WEBHOOK_TIMEOUT_MS is a failure (timed out) and retried; the retry succeeds", async () => {
    const s = await seed();
    // The first answer takes 3 s and ignores the abort: the attempt must not wait for it.
    const seen = receiver((_, n) => (n === 1 ? new Promise<Response>((r) => setTimeout(() => r(new Response("late")), 3000)) : new Response("ok")));
    const q = withQueue({ WEBHOOK_TIMEOUT_MS: "200" });
    const t0 = Date.now();
    await attemptDelivery(q.env, s.job, t0);
    expect(Date.now() - t0).toBeLessThan(2000);
    const row = (await deliveryRow(s, s.deliveryId))!;
    expect(row).toMatchObject({ status: "pending", attempts: 1, last_status_code: null, last_error: "timed out after 200 ms", lease_until: null });
    expect(q.sent).toHaveLength(1);
    await attemptDelivery(q.env, s.job, row.next_attempt_at!);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "succeeded", attempts: 2, last_status_code: 200 });
    expect(seen).toHaveLength(2);
  });

  it("an endpoint whose every delivery failed for 5 days is disabled and the failing delivery is failed; 4 days is not enough", async () => {
    const s = await seed();
    const seen = receiver(() => new Response("nope", { status: 500 }));
    const q = withQueue();
    const t0 = Date.now();
    await attemptDelivery(q.env, s.job, t0);
    expect((await endpointRow(s))!.failing_since).toBe(t0);

    const day4 = await addDelivery(s.org, s.endpoint.id, { at: t0 + 4 * 86_400_000 });
    await attemptDelivery(q.env, day4.job, t0 + 4 * 86_400_000);
    expect(await endpointRow(s)).toMatchObject({ enabled: 1, disabled_reason: null, failing_since: t0 });
    expect((await deliveryRow(s, day4.deliveryId))!.status).toBe("pending");

    const t5 = t0 + FAILING_DISABLES_AFTER_MS;
    const day5 = await addDelivery(s.org, s.endpoint.id, { at: t5 });
    const queued = q.sent.length;
    await attemptDelivery(q.env, day5.job, t5);
    expect(await endpointRow(s)).toMatchObject({ enabled: 0, disabled_reason: DISABLED_BY_FAILURES, failing_since: t0 });
    expect(await deliveryRow(s, day5.deliveryId)).toMatchObject({ status: "failed", attempts: 1, last_status_code: 500, next_attempt_at: null });
    expect(q.sent).toHaveLength(queued);
    expect(seen).toHaveLength(3);
    // Enabling it again starts over (PATCH clears the reason and the failure clock).
    const enabled = await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}`, { method: "PATCH", body: { enabled: true } });
    expect(await json(enabled)).toMatchObject({ enabled: true, disabled_reason: null });
    expect((await endpointRow(s))!.failing_since).toBeNull();
  });

  it("after rotate-secret the receiver verifies with the old secret or the new one", async () => {
    const s = await seed();
    const rotated = await json(await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}/rotate-secret`, { method: "POST" }));
    expect(rotated.secret).not.toBe(s.endpoint.secret);
    const seen = receiver(() => new Response("ok"));
    await attemptDelivery(withQueue().env, s.job);
    expect(seen).toHaveLength(1);
    expect(verify(s.endpoint.secret, seen[0])).toEqual(JSON.parse(s.body));
    expect(verify(rotated.secret, seen[0])).toEqual(JSON.parse(s.body));
    expect(() => verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", seen[0])).toThrow();
  });

  it("two attempts at once: the claim lets one through, the receiver is hit once", async () => {
    const s = await seed();
    const seen = receiver(() => new Promise<Response>((r) => setTimeout(() => r(new Response("ok")), 100)));
    const q = withQueue();
    await Promise.all([attemptDelivery(q.env, s.job), attemptDelivery(q.env, s.job), attemptDelivery(q.env, s.job)]);
    expect(seen).toHaveLength(1);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "succeeded", attempts: 1 });
    // A lease that ran out (a worker died mid-attempt) is taken over.
    const again = await addDelivery(s.org, s.endpoint.id);
    const shard = await shardOf(s.org.orgId);
    const now = Date.now();
    await shard
      .prepare("UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?")
      .bind(now + 60_000, again.deliveryId)
      .run();
    await attemptDelivery(q.env, again.job, now);
    expect(seen).toHaveLength(1);
    await attemptDelivery(q.env, again.job, now + 61_000);
    expect(seen).toHaveLength(2);
    expect((await deliveryRow(s, again.deliveryId))!.status).toBe("succeeded");
  });

  it("keeps at most 4 KiB of the answer and reads no more of it (an endless body ends the attempt all the same)", async () => {
    const s = await seed();
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode("x".repeat(1000)));
        },
      });
    receiver((_, n) => (n === 1 ? new Response(endless(), { status: 500 }) : new Response(`a${"é".repeat(3000)}`)));
    const q = withQueue();
    await attemptDelivery(q.env, s.job);
    const row = (await deliveryRow(s, s.deliveryId))!;
    expect(row.last_response).toBe("x".repeat(4096));
    // A character cut at 4 KiB is dropped, not mangled: 1 + 2 × 2047 bytes.
    await attemptDelivery(q.env, s.job, row.next_attempt_at!);
    const after = (await deliveryRow(s, s.deliveryId))!;
    expect(after.status).toBe("succeeded");
    expect(after.last_response).toBe(`a${"é".repeat(2047)}`);
  });

  it("an unknown org or delivery, another org's delivery, and a delivery whose endpoint is gone: no request, no throw", async () => {
    const s = await seed();
    const seen = receiver(() => new Response("ok"));
    const q = withQueue();
    await attemptDelivery(q.env, { orgId: crypto.randomUUID(), deliveryId: s.deliveryId });
    await attemptDelivery(q.env, { orgId: s.org.orgId, deliveryId: crypto.randomUUID() });
    const other = await newOrg("Other");
    await attemptDelivery(q.env, { orgId: other.orgId, deliveryId: s.deliveryId });
    expect(seen).toHaveLength(0);
    expect((await deliveryRow(s, s.deliveryId))!.status).toBe("pending");

    // Made while its endpoint was being deleted: the attempt deletes it.
    const orphan = await addDelivery(s.org, crypto.randomUUID());
    await attemptDelivery(q.env, orphan.job);
    expect(seen).toHaveLength(0);
    expect(await count("webhook_deliveries", "id = ?", orphan.deliveryId)).toBe(0);
    expect(q.sent).toEqual([]);
  });

  it("deleting an endpoint deletes its deliveries (the outbox's events stay)", async () => {
    const s = await seed();
    const second = await addDelivery(s.org, s.endpoint.id, { status: "failed", attempts: 8 });
    const kept = await seed(s.org);
    expect(await count("webhook_deliveries", "endpoint_id = ?", s.endpoint.id)).toBe(2);
    expect((await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await count("webhook_deliveries", "endpoint_id = ?", s.endpoint.id)).toBe(0);
    expect(await count("webhook_deliveries", "id = ?", kept.deliveryId)).toBe(1);
    expect(await count("webhook_events", "id IN (?, ?)", s.eventId, second.eventId)).toBe(2);
  });
});

describe("GET /webhook-endpoints/{id}/deliveries", () => {
  it("newest first, filtered by status, paged by cursor; another org's endpoint is 404; a bad status or cursor is 400", async () => {
    const org = await newOrg();
    const s = await seed(org);
    const t0 = Date.now();
    const made = [s.deliveryId];
    for (let i = 1; i <= 4; i++) {
      const status = i % 2 ? "failed" : "succeeded";
      made.push((await addDelivery(org, s.endpoint.id, { at: t0 + i * 1000, status, attempts: i })).deliveryId);
    }
    // Another endpoint's delivery is not in this list.
    await seed(org);
    const as = org.as(org.owner);
    const path = `/webhook-endpoints/${s.endpoint.id}/deliveries`;

    const all = await json(await as(path));
    expect(all.next_cursor).toBeNull();
    expect(all.data.map((d: { id: string }) => d.id)).toEqual([...made].reverse());
    expect(all.data[0]).toEqual({
      id: made[4],
      event_type: "contact.created",
      status: "succeeded",
      attempts: 4,
      last_status_code: null,
      last_error: null,
      next_attempt_at: null,
      created_at: new Date(t0 + 4000).toISOString(),
    });
    expect(all.data[4]).toMatchObject({ id: s.deliveryId, status: "pending", attempts: 0 });
    expect(typeof all.data[4].next_attempt_at).toBe("string");

    const failed = await json(await as(`${path}?status=failed`));
    expect(failed.data.map((d: { id: string }) => d.id)).toEqual([made[3], made[1]]);

    const pages: string[] = [];
    let cursor: string | null = null;
    let n = 0;
    do {
      const got: { data: { id: string }[]; next_cursor: string | null } = await json(await as(`${path}?limit=2${cursor ? `&cursor=${cursor}` : ""}`));
      pages.push(...got.data.map((d) => d.id));
      cursor = got.next_cursor;
      n++;
    } while (cursor);
    expect(n).toBe(3);
    expect(pages).toEqual([...made].reverse());

    const other = await newOrg("Other");
    await expectProblem(await other.as(other.owner)(path), 404, "not_found");
    await expectProblem(await as(`/webhook-endpoints/${crypto.randomUUID()}/deliveries`), 404, "not_found");
    await expectProblem(await as(`${path}?status=sent`), 400, "validation_failed");
    await expectProblem(await as(`${path}?cursor=nonsense`), 400, "validation_failed");
    await expectProblem(await as(`${path}?limit=0`), 400, "validation_failed");
  });
});

describe("POST /webhook-endpoints/{id}/deliveries/{delivery_id}/retry", () => {
  it("a failed delivery goes again now and succeeds (same webhook-id); a succeeded one is sent again", async () => {
    const s = await seed();
    const failing = receiver(() => new Response("down", { status: 500 }));
    const q = withQueue();
    let now = Date.now();
    for (let i = 0; i < MAX_DELIVERY_ATTEMPTS; i++) {
      await attemptDelivery(q.env, s.job, now);
      now = (await deliveryRow(s, s.deliveryId))!.next_attempt_at ?? now;
    }
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "failed", attempts: 8 });
    expect(failing).toHaveLength(8);
    vi.restoreAllMocks();

    const path = `/webhook-endpoints/${s.endpoint.id}/deliveries/${s.deliveryId}/retry`;
    const before = Date.now();
    const q2 = withQueue();
    const res = await callWith(q2.env, s.org, path, "POST");
    expect(res.status, await res.clone().text()).toBe(202);
    const answered = await json(res);
    expect(answered).toMatchObject({ id: s.deliveryId, status: "pending", attempts: 8, last_status_code: 500 });
    expect(Date.parse(answered.next_attempt_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(answered.next_attempt_at)).toBeLessThanOrEqual(Date.now());
    expect(q2.sent).toEqual([{ body: { kind: "deliver", orgId: s.org.orgId, deliveryId: s.deliveryId }, delaySeconds: undefined }]);

    const seen = receiver(() => new Response("ok"));
    await attemptDelivery(q2.env, s.job);
    expect(seen).toHaveLength(1);
    expect(seen[0].headers["webhook-id"]).toBe(s.deliveryId);
    expect(verify(s.endpoint.secret, seen[0])).toEqual(JSON.parse(s.body));
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "succeeded", attempts: 9, last_status_code: 200, last_error: null });

    // Succeeded: a retry sends it again, as Svix and Stripe do.
    expect((await callWith(q2.env, s.org, path, "POST")).status).toBe(202);
    await attemptDelivery(q2.env, s.job);
    expect(seen).toHaveLength(2);
    expect(seen[1].headers["webhook-id"]).toBe(s.deliveryId);
    expect(await deliveryRow(s, s.deliveryId)).toMatchObject({ status: "succeeded", attempts: 10 });
  });

  it("another org's delivery or another endpoint's is 404; a disabled endpoint or an attempt in flight is 409; nothing changes, nothing is queued", async () => {
    const s = await seed();
    await addDelivery(s.org, s.endpoint.id, { status: "failed", attempts: 8 });
    const failed = await addDelivery(s.org, s.endpoint.id, { status: "failed", attempts: 8 });
    const sibling = await seed(s.org);
    const q = withQueue();
    const path = `/webhook-endpoints/${s.endpoint.id}/deliveries/${failed.deliveryId}/retry`;
    const snapshot = async () =>
      (await shardOf(s.org.orgId))
        .prepare("SELECT * FROM webhook_deliveries WHERE org_id = ? ORDER BY id")
        .bind(s.org.orgId)
        .all()
        .then((r) => r.results);
    const before = await snapshot();

    const other = await newOrg("Other");
    await expectProblem(await callWith(q.env, other, path, "POST"), 404, "not_found");
    await expectProblem(
      await callWith(q.env, s.org, `/webhook-endpoints/${sibling.endpoint.id}/deliveries/${failed.deliveryId}/retry`, "POST"),
      404,
      "not_found",
    );
    await expectProblem(await callWith(q.env, s.org, `/webhook-endpoints/${s.endpoint.id}/deliveries/${crypto.randomUUID()}/retry`, "POST"), 404, "not_found");
    await expectProblem(await callWith(q.env, s.org, `/webhook-endpoints/${s.endpoint.id}/deliveries/not-a-uuid/retry`, "POST"), 404, "not_found");

    const shard = await shardOf(s.org.orgId);
    await shard
      .prepare("UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?")
      .bind(Date.now() + 60_000, s.deliveryId)
      .run();
    const leased = await snapshot();
    const inFlight = await expectProblem(
      await callWith(q.env, s.org, `/webhook-endpoints/${s.endpoint.id}/deliveries/${s.deliveryId}/retry`, "POST"),
      409,
      "conflict",
    );
    expect(inFlight.detail).toContain("in flight");
    expect(await snapshot()).toEqual(leased);
    await shard.prepare("UPDATE webhook_deliveries SET lease_until = NULL WHERE id = ?").bind(s.deliveryId).run();
    expect(await snapshot()).toEqual(before);

    expect((await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}`, { method: "PATCH", body: { enabled: false } })).status).toBe(200);
    const disabled = await expectProblem(await callWith(q.env, s.org, path, "POST"), 409, "conflict");
    expect(disabled.detail).toContain("disabled");
    expect(await snapshot()).toEqual(before);
    expect(q.sent).toEqual([]);

    // Enabled again, the retry is taken.
    expect((await s.org.as(s.org.owner)(`/webhook-endpoints/${s.endpoint.id}`, { method: "PATCH", body: { enabled: true } })).status).toBe(200);
    expect((await callWith(q.env, s.org, path, "POST")).status).toBe(202);
    expect(q.sent).toHaveLength(1);
  });
});
