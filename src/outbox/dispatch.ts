import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { type WebhookEndpoint, type WebhookEvent, webhookEndpoints, webhookEvents } from "../db/schema";
import { shardDb } from "../db/shards";
import type { Bindings } from "../env";
import { enqueueWebhookJobs, type WebhookJob } from "../jobs";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import { iso } from "../lib/time";
import { inOrgShard } from "../org-inbox/client";
import { buildEvents } from "./build";

// The dispatcher of outgoing webhooks (SPEC 18): an org's outbox rows that no dispatcher
// has reached are built into their bodies (once: a body, once written, is what every
// attempt sends) and fanned out as one delivery per enabled endpoint that subscribes to
// the type, in one batch; then each new delivery is queued for its first attempt. Two
// dispatchers of one org may run at once (a queued job and the sweep): a delivery is
// unique per (endpoint, event) and only the inserted ones are queued, and a body is kept
// from whichever wrote first.

/** Outbox rows fanned out per run; more wait for the next job, queued at the end. */
export const DISPATCH_BATCH = 250;
/** Rows of JSON a statement carries. */
const ROWS_PER_STATEMENT = 400;
/** Messages one sendBatch takes. */
const SEND_BATCH = 100;

/** The POST body of an event (SPEC 18): `{ type, timestamp, data: { org_id, seq, conversation_id?, object } }`. */
export function webhookBody(e: Pick<WebhookEvent, "type" | "createdAt" | "orgId" | "seq">, conversationId: string | null, object: unknown) {
  return JSON.stringify({
    type: e.type,
    timestamp: iso(e.createdAt),
    data: { org_id: e.orgId, seq: e.seq, ...(conversationId ? { conversation_id: conversationId } : {}), object },
  });
}

const takes = (endpoint: Pick<WebhookEndpoint, "events">, type: string) => endpoint.events.includes("*") || (endpoint.events as string[]).includes(type);

function chunks<T>(rows: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Answers how many deliveries it created. */
export async function dispatchOrg(env: Bindings, orgId: string, now = Date.now()): Promise<number> {
  let db: Db;
  try {
    db = await shardDb(env, orgId);
  } catch (e) {
    log("warn", "webhook_dispatch_no_org", { org_id: orgId, error: String(e) });
    return 0;
  }
  const [events, endpoints] = await Promise.all([
    db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.orgId, orgId), isNull(webhookEvents.dispatchedAt)))
      .orderBy(asc(webhookEvents.seq))
      .limit(DISPATCH_BATCH)
      .all(),
    db
      .select({ id: webhookEndpoints.id, events: webhookEndpoints.events, createdAt: webhookEndpoints.createdAt })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.enabled, true)))
      .all(),
  ]);
  if (!events.length) return 0;
  const built = await buildEvents(
    env,
    db,
    orgId,
    events.map((e) => ({ type: e.type, conversationId: e.conversationId, objectId: e.objectId, detail: e.detail })),
  );
  const bodies: { id: string; body: string | null; dispatched_at: number }[] = [];
  const deliveries: Record<string, unknown>[] = [];
  for (const [i, e] of events.entries()) {
    const event = built[i];
    // The row it is about is gone: nothing to send.
    const body = e.body ?? (event ? webhookBody(e, event.conversation_id, event.data) : null);
    bodies.push({ id: e.id, body, dispatched_at: now });
    if (!body) continue;
    // An endpoint hears of what happened after it was created.
    for (const endpoint of endpoints.filter((p) => takes(p, e.type) && p.createdAt <= e.createdAt)) {
      deliveries.push({
        id: uuidv7(now),
        org_id: orgId,
        endpoint_id: endpoint.id,
        event_id: e.id,
        event_type: e.type,
        status: "pending",
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      });
    }
  }
  const inserted = await inOrgShard(env, orgId, db, async (target) => {
    const d1 = target.$client;
    const statements = [
      ...chunks(bodies, ROWS_PER_STATEMENT).map((rows) =>
        d1
          .prepare(
            `UPDATE webhook_events SET body = coalesce(webhook_events.body, v.body), dispatched_at = coalesce(webhook_events.dispatched_at, v.dispatched_at)
             FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.body') AS body, json_extract(value, '$.dispatched_at') AS dispatched_at FROM json_each(?)) AS v
             WHERE webhook_events.id = v.id`,
          )
          .bind(JSON.stringify(rows)),
      ),
      ...chunks(deliveries, ROWS_PER_STATEMENT).map((rows) => {
        const columns = Object.keys(rows[0]);
        return d1
          .prepare(
            `INSERT INTO webhook_deliveries (${columns.join(", ")}) SELECT ${columns.map((c) => `json_extract(value, '$.${c}')`).join(", ")}
             FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING id`,
          )
          .bind(JSON.stringify(rows));
      }),
    ];
    const results = await d1.batch<{ id: string }>(statements);
    return results.slice(bodies.length ? Math.ceil(bodies.length / ROWS_PER_STATEMENT) : 0).flatMap((r) => r.results.map((row) => row.id));
  });
  const jobs: WebhookJob[] = inserted.map((deliveryId) => ({ kind: "deliver", orgId, deliveryId }));
  if (events.length === DISPATCH_BATCH) jobs.push({ kind: "dispatch", orgId });
  try {
    for (const slice of chunks(jobs, SEND_BATCH)) await enqueueWebhookJobs(env, slice);
  } catch (e) {
    // The deliveries are stored `pending`: the sweep queues the ones overdue.
    log("error", "webhook_enqueue_failed", { org_id: orgId, deliveries: inserted.length, error: String(e) });
  }
  return inserted.length;
}
