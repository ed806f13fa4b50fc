import { and, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import { settings } from "../config/settings";
import type { Db } from "../db/client";
import { type WebhookDelivery, webhookDeliveries, webhookEndpoints, webhookEvents } from "../db/schema";
import { shardByName, shardNameOf } from "../db/shards";
import type { Bindings } from "../env";
import { enqueueWebhookJobs } from "../jobs";
import { log } from "../lib/log";
import { inOrgShard } from "../org-inbox/client";
import { signedHeaders } from "../webhook-endpoints/signing";

// One signed attempt of one outgoing webhook delivery (SPEC 18), made by the
// WEBHOOK_QUEUE consumer for a {kind: "deliver"} job. The delivery row is the state:
// a claim (a conditional UPDATE that takes a lease) makes sure one attempt at a time is
// in flight, whatever the queue redelivers or the sweep re-queues; the attempt's outcome
// is written in one batch with the endpoint's failure clock, and a retry is queued with
// its delay. A receiver's failure never throws; a D1 failure does (the queue retries
// the job, and the claim keeps that from sending twice while the lease holds).

/** Attempts of one delivery: the first try and 7 retries (SPEC 18). */
export const MAX_DELIVERY_ATTEMPTS = 8;
/** The wait after attempt n (1-based, seconds): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000] as const;
/** The longest delay Queues accept on a message (12 h). */
export const MAX_RETRY_DELAY_SECONDS = 43_200;
/** How much of a receiver's answer is kept (last_response). */
export const RESPONSE_KEEP_BYTES = 4096;
/** An endpoint whose every attempt failed for this long is disabled. */
export const FAILING_DISABLES_AFTER_MS = 5 * 24 * 3600 * 1000;
/** A claim holds for the attempt's timeout plus this, then the sweep may take the delivery again. */
export const LEASE_GRACE_MS = 15_000;
/** A job may arrive this much before next_attempt_at and still attempt (the queue counts whole seconds). */
const EARLY_MS = 1000;

export const DISABLED_BY_GONE = "The endpoint answered 410 Gone";
export const DISABLED_BY_FAILURES = "Every delivery failed for 5 days";

const USER_AGENT = "inbox-api-webhooks/1.0";

/** The wait after failed attempt n (1-based), plus at most 20 % jitter, never above the queue's 12 h. */
export function retryDelaySeconds(attempt: number, random = Math.random()): number {
  const n = Math.min(Math.max(Math.floor(attempt), 1), RETRY_SCHEDULE_SECONDS.length);
  const base = RETRY_SCHEDULE_SECONDS[n - 1];
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.floor(base * (1 + 0.2 * random)));
}

type Outcome = { ok: boolean; statusCode: number | null; error: string | null; response: string | null; gone: boolean };

/** The org's shard, or null for an org that does not exist (any more). */
async function orgShard(env: Bindings, orgId: string): Promise<Db | null> {
  const name = await shardNameOf(env, orgId);
  return name ? shardByName(env, name) : null;
}

export async function attemptDelivery(env: Bindings, job: { orgId: string; deliveryId: string }, now = Date.now()): Promise<void> {
  const { orgId, deliveryId } = job;
  const home = await orgShard(env, orgId);
  if (!home) {
    log("warn", "webhook_delivery_unknown_org", { org_id: orgId, delivery_id: deliveryId });
    return;
  }
  const timeoutMs = settings(env).webhookTimeoutMs;
  const lease = now + timeoutMs + LEASE_GRACE_MS;
  const d = webhookDeliveries;
  const mine = and(eq(d.id, deliveryId), eq(d.orgId, orgId));

  // The claim: pending, due, and no attempt in flight (or one whose lease ran out).
  let db = home;
  const [claimed] = await inOrgShard(env, orgId, home, (at) => {
    db = at;
    return at
      .update(d)
      .set({ leaseUntil: lease, updatedAt: now })
      .where(and(mine, eq(d.status, "pending"), lte(d.nextAttemptAt, now + EARLY_MS), or(isNull(d.leaseUntil), lt(d.leaseUntil, now))))
      .returning();
  });
  if (!claimed) {
    const row = await db.select({ status: d.status, nextAttemptAt: d.nextAttemptAt, leaseUntil: d.leaseUntil }).from(d).where(mine).get();
    log("info", "webhook_delivery_not_claimed", { org_id: orgId, delivery_id: deliveryId, ...(row ?? { missing: true }) });
    return;
  }

  const [endpoint, event] = await db.batch([
    db
      .select()
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, claimed.endpointId), eq(webhookEndpoints.orgId, orgId))),
    db
      .select({ body: webhookEvents.body })
      .from(webhookEvents)
      .where(and(eq(webhookEvents.id, claimed.eventId), eq(webhookEvents.orgId, orgId))),
  ]);
  const ep = endpoint[0];
  const ours = and(mine, eq(d.leaseUntil, lease));

  if (!ep) {
    // Deleting an endpoint deletes its deliveries; this one was made while it went.
    await inOrgShard(env, orgId, db, (at) => at.delete(d).where(ours));
    log("info", "webhook_delivery_endpoint_gone", { org_id: orgId, delivery_id: deliveryId, endpoint_id: claimed.endpointId });
    return;
  }
  const body = event[0]?.body;
  if (!ep.enabled || body == null) {
    const lastError = !ep.enabled ? "endpoint disabled" : "the event is no longer stored";
    await inOrgShard(env, orgId, db, (at) =>
      at.update(d).set({ status: "failed", lastError, nextAttemptAt: null, leaseUntil: null, updatedAt: now }).where(ours),
    );
    log("info", "webhook_delivery_skipped", { org_id: orgId, delivery_id: deliveryId, reason: lastError });
    return;
  }

  const outcome = await post(ep.url, body, signedHeaders(ep, deliveryId, body), timeoutMs);
  const attempts = claimed.attempts + 1;
  const base = { attempts, lastStatusCode: outcome.statusCode, lastError: outcome.error, lastResponse: outcome.response, leaseUntil: null, updatedAt: now };

  if (outcome.ok) {
    await inOrgShard(env, orgId, db, (at) =>
      at.batch([
        at
          .update(d)
          .set({ ...base, status: "succeeded", nextAttemptAt: null })
          .where(ours),
        at
          .update(webhookEndpoints)
          .set({ failingSince: null })
          .where(and(eq(webhookEndpoints.id, ep.id), eq(webhookEndpoints.orgId, orgId))),
      ]),
    );
    log("info", "webhook_delivered", { org_id: orgId, delivery_id: deliveryId, endpoint_id: ep.id, attempt: attempts, status: outcome.statusCode });
    return;
  }

  // A failure: the endpoint's failure clock starts (if it has not), a 410 or 5 days of
  // failures disable it; the delivery is failed when that happened (or the endpoint was
  // disabled meanwhile) or this was its last attempt, otherwise pending until its retry.
  const delay = retryDelaySeconds(attempts);
  const retryAt = now + delay * 1000;
  const last = attempts >= MAX_DELIVERY_ATTEMPTS;
  const e = webhookEndpoints;
  const since = sql`coalesce(${e.failingSince}, ${now})`;
  const disables = sql`(${outcome.gone ? 1 : 0} OR ${since} <= ${now - FAILING_DISABLES_AFTER_MS})`;
  const endpointEnabled = sql`coalesce((SELECT ${e.enabled} FROM ${e} WHERE ${e.id} = ${ep.id} AND ${e.orgId} = ${orgId}), 0)`;
  const final = sql`(${last ? 1 : 0} OR ${endpointEnabled} = 0)`;
  const [, settled] = await inOrgShard(env, orgId, db, (at) =>
    at.batch([
      at
        .update(e)
        .set({
          failingSince: since,
          disabledReason: sql`CASE WHEN ${e.enabled} AND ${disables} THEN ${outcome.gone ? DISABLED_BY_GONE : DISABLED_BY_FAILURES} ELSE ${e.disabledReason} END`,
          updatedAt: sql`CASE WHEN ${e.enabled} AND ${disables} THEN ${now} ELSE ${e.updatedAt} END`,
          enabled: sql`CASE WHEN ${disables} THEN 0 ELSE ${e.enabled} END`,
        })
        .where(and(eq(e.id, ep.id), eq(e.orgId, orgId))),
      at
        .update(d)
        .set({
          ...base,
          status: sql`CASE WHEN ${final} THEN 'failed' ELSE 'pending' END`,
          nextAttemptAt: sql`CASE WHEN ${final} THEN NULL ELSE ${retryAt} END`,
        })
        .where(ours)
        .returning({ status: d.status, nextAttemptAt: d.nextAttemptAt }),
    ]),
  );
  const row = settled[0] as Pick<WebhookDelivery, "status" | "nextAttemptAt"> | undefined;
  log("warn", "webhook_delivery_failed", {
    org_id: orgId,
    delivery_id: deliveryId,
    endpoint_id: ep.id,
    attempt: attempts,
    status: outcome.statusCode,
    error: outcome.error,
    next: row?.status ?? "lease_lost",
  });
  if (row?.status !== "pending") return;
  try {
    await enqueueWebhookJobs(env, [{ kind: "deliver", orgId, deliveryId }], delay);
  } catch (err) {
    // The row says when it is due and holds no lease: the sweep queues it again.
    log("error", "webhook_retry_enqueue_failed", { org_id: orgId, delivery_id: deliveryId, error: String(err) });
  }
}

/** Rejects when `signal` aborts, whatever `work` does meanwhile. */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** The POST of one attempt: 2xx is success; a redirect is not followed; the timeout covers the answer's head. */
async function post(url: string, body: string, signature: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await untilAborted(
      signal,
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...signature },
        body,
        redirect: "manual",
        signal,
      }),
    );
  } catch (err) {
    const error = signal.aborted ? `timed out after ${timeoutMs} ms` : `network error: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, statusCode: null, error, response: null, gone: false };
  }
  const response = await readPrefix(res, RESPONSE_KEEP_BYTES, signal);
  const status = res.status;
  if (status >= 200 && status < 300) return { ok: true, statusCode: status, error: null, response, gone: false };
  let error = `answered ${status}`;
  if (status >= 300 && status < 400) error = `answered ${status} redirecting to ${res.headers.get("location") ?? "(no Location)"}; redirects are not followed`;
  if (status === 410) error = "answered 410 Gone: the endpoint is disabled";
  return { ok: false, statusCode: status, error, response, gone: status === 410 };
}

/** At most `max` bytes of the answer, as text (a character cut at the end is dropped); the rest is not read. */
async function readPrefix(res: Response, max: number, signal: AbortSignal): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await untilAborted(signal, reader.read());
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut off or too slow: what arrived is kept.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const chunk of chunks) {
    if (at >= bytes.length) break;
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.byteLength;
  }
  let text = new TextDecoder().decode(bytes, { stream: true });
  // Invalid bytes decode to U+FFFD (3 bytes each): keep the stored text within `max` too.
  const encoder = new TextEncoder();
  while (encoder.encode(text).byteLength > max) text = text.slice(0, -1);
  return text;
}
