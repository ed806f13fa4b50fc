import { and, asc, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { settings } from "../config/settings";
import { driverRows, jsonInserts } from "../db/json-rows";
import { type WebhookDelivery, type WebhookEndpoint, webhookDeliveries, webhookEndpoints } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { enqueueWebhookJobs } from "../jobs";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";
import { iso, isoOrNull } from "../lib/time";
import { inbox, inOrgShard } from "../org-inbox/client";
import { newSecret, ROTATION_OVERLAP_MS } from "./signing";
import { webhookUrlProblem } from "./url";
import type * as routes from "./webhook-endpoints.routes";
import { MAX_ENDPOINTS } from "./webhook-endpoints.routes";

export const toEndpoint = (e: WebhookEndpoint) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  events: e.events as ("*" | (typeof e.events)[number])[],
  enabled: e.enabled,
  disabled_reason: e.disabledReason,
  created_at: iso(e.createdAt),
  updated_at: iso(e.updatedAt),
});

function checkUrl(env: Parameters<typeof settings>[0], url: string) {
  const problem = webhookUrlProblem(url, settings(env).allowPrivateWebhookUrls);
  if (problem) throw invalid("url", `The URL cannot receive webhooks: ${problem}.`);
}

const mine = (orgId: string, id: string) => and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id.toLowerCase()));

export const listEndpoints: AppRouteHandler<typeof routes.listEndpoints> = async (c) => {
  const rows = await c.var.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.orgId, c.get("orgId")))
    .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id))
    .all();
  return c.json({ data: rows.map(toEndpoint) }, 200);
};

export const createEndpoint: AppRouteHandler<typeof routes.createEndpoint> = async (c) => {
  const body = c.req.valid("json");
  checkUrl(c.env, body.url);
  const orgId = c.get("orgId");
  const now = Date.now();
  const row: WebhookEndpoint = {
    id: uuidv7(now),
    orgId,
    url: body.url,
    description: body.description ?? null,
    events: body.events ?? ["*"],
    enabled: body.enabled ?? true,
    disabledReason: null,
    secret: newSecret(),
    previousSecret: null,
    previousSecretUntil: null,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
  };
  // The cap and the insert in one statement: creates at once cannot both pass it.
  const inserted = await inOrgShard(c.env, orgId, c.var.db, async (db) => {
    const [insert] = jsonInserts(db.$client, "webhook_endpoints", driverRows(webhookEndpoints, [row]), {
      where: (value) => `(SELECT count(*) FROM "webhook_endpoints" e WHERE e."org_id" = ${value("org_id")}) < ${MAX_ENDPOINTS}`,
    });
    return ((await insert.run()).meta.changes ?? 0) === 1;
  });
  if (!inserted) throw new ApiError("conflict", `An org has at most ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
  await inbox(c.env, orgId).forgetSubscriptions();
  return c.json({ ...toEndpoint(row), secret: row.secret }, 201);
};

async function findOwn(c: Parameters<AppRouteHandler<typeof routes.getEndpoint>>[0], id: string) {
  const row = await c.var.db
    .select()
    .from(webhookEndpoints)
    .where(mine(c.get("orgId"), id))
    .get();
  if (!row) throw notFound("Webhook endpoint");
  return row;
}

export const getEndpoint: AppRouteHandler<typeof routes.getEndpoint> = async (c) => c.json(toEndpoint(await findOwn(c, c.req.valid("param").endpoint_id)), 200);

export const updateEndpoint: AppRouteHandler<typeof routes.updateEndpoint> = async (c) => {
  const { endpoint_id: id } = c.req.valid("param");
  const body = c.req.valid("json");
  if (body.url !== undefined) checkUrl(c.env, body.url);
  const orgId = c.get("orgId");
  const set: Partial<WebhookEndpoint> = { updatedAt: Date.now() };
  if (body.url !== undefined) set.url = body.url;
  if (body.description !== undefined) set.description = body.description;
  if (body.events !== undefined) set.events = body.events;
  if (body.enabled !== undefined) {
    set.enabled = body.enabled;
    if (body.enabled) {
      set.disabledReason = null;
      set.failingSince = null;
    }
  }
  const [row] = await inOrgShard(c.env, orgId, c.var.db, (db) => db.update(webhookEndpoints).set(set).where(mine(orgId, id)).returning());
  if (!row) throw notFound("Webhook endpoint");
  if (body.events !== undefined || body.enabled !== undefined) await inbox(c.env, orgId).forgetSubscriptions();
  return c.json(toEndpoint(row), 200);
};

export const deleteEndpoint: AppRouteHandler<typeof routes.deleteEndpoint> = async (c) => {
  const orgId = c.get("orgId");
  const id = c.req.valid("param").endpoint_id.toLowerCase();
  // Its deliveries go with it, in the same batch (an attempt that finds its endpoint gone
  // deletes its delivery too: src/outbox/deliver.ts). The outbox's events stay: they
  // belong to the org, not to one endpoint.
  const [, gone] = await inOrgShard(c.env, orgId, c.var.db, (db) =>
    db.batch([
      db.delete(webhookDeliveries).where(and(eq(webhookDeliveries.orgId, orgId), eq(webhookDeliveries.endpointId, id))),
      db.delete(webhookEndpoints).where(mine(orgId, id)).returning({ id: webhookEndpoints.id }),
    ]),
  );
  if (!gone.length) throw notFound("Webhook endpoint");
  await inbox(c.env, orgId).forgetSubscriptions();
  return c.body(null, 204);
};

export const rotateSecret: AppRouteHandler<typeof routes.rotateSecret> = async (c) => {
  const orgId = c.get("orgId");
  const id = c.req.valid("param").endpoint_id;
  const now = Date.now();
  const secret = newSecret();
  // The current secret becomes the previous one in the same statement (a rotation racing
  // another leaves one of them current and the other previous, never a lost secret).
  const [row] = await inOrgShard(c.env, orgId, c.var.db, (db) =>
    db
      .update(webhookEndpoints)
      .set({ previousSecret: webhookEndpoints.secret, previousSecretUntil: now + ROTATION_OVERLAP_MS, secret, updatedAt: now })
      .where(mine(orgId, id))
      .returning(),
  );
  if (!row) throw notFound("Webhook endpoint");
  return c.json({ ...toEndpoint(row), secret: row.secret }, 200);
};

export const toDelivery = (d: WebhookDelivery) => ({
  id: d.id,
  event_type: d.eventType,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.lastStatusCode,
  last_error: d.lastError,
  next_attempt_at: isoOrNull(d.nextAttemptAt),
  created_at: iso(d.createdAt),
});

export const listDeliveries: AppRouteHandler<typeof routes.listDeliveries> = async (c) => {
  const { endpoint_id } = c.req.valid("param");
  const { status, limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, timeIdCursor);
  const orgId = c.get("orgId");
  const d = webhookDeliveries;
  const db = c.var.db;
  // The endpoint (404 when it is not the org's) and the page in one round trip.
  const [endpoint, rows] = await db.batch([
    db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(mine(orgId, endpoint_id)),
    db
      .select()
      .from(d)
      .where(
        and(
          eq(d.orgId, orgId),
          eq(d.endpointId, endpoint_id.toLowerCase()),
          status ? eq(d.status, status) : undefined,
          after ? or(lt(d.createdAt, after[0]), and(eq(d.createdAt, after[0]), lt(d.id, after[1]))) : undefined,
        ),
      )
      .orderBy(desc(d.createdAt), desc(d.id))
      .limit(limit + 1),
  ]);
  if (!endpoint.length) throw notFound("Webhook endpoint");
  const { data, next_cursor } = page(rows, limit, (last) => [last.createdAt, last.id]);
  return c.json({ data: data.map(toDelivery), next_cursor }, 200);
};

export const retryDelivery: AppRouteHandler<typeof routes.retryDelivery> = async (c) => {
  const params = c.req.valid("param");
  const endpointId = params.endpoint_id.toLowerCase();
  const deliveryId = params.delivery_id.toLowerCase();
  const orgId = c.get("orgId");
  const now = Date.now();
  const d = webhookDeliveries;
  const e = webhookEndpoints;
  const ours = and(eq(d.id, deliveryId), eq(d.orgId, orgId), eq(d.endpointId, endpointId));
  // Due now, whatever its status, unless an attempt is in flight (its lease holds) or the
  // endpoint is disabled: both checked in the same statement.
  const [row] = await inOrgShard(c.env, orgId, c.var.db, (db) =>
    db
      .update(d)
      .set({ status: "pending", nextAttemptAt: now, leaseUntil: null, updatedAt: now })
      .where(
        and(
          ours,
          or(isNull(d.leaseUntil), lt(d.leaseUntil, now)),
          sql`EXISTS (SELECT 1 FROM ${e} WHERE ${e.id} = ${endpointId} AND ${e.orgId} = ${orgId} AND ${e.enabled} = 1)`,
        ),
      )
      .returning(),
  );
  if (!row) {
    const db = c.var.db;
    const [endpoint, delivery] = await db.batch([
      db.select({ enabled: e.enabled }).from(e).where(mine(orgId, endpointId)),
      db.select({ id: d.id }).from(d).where(ours),
    ]);
    if (!endpoint.length || !delivery.length) throw notFound("Webhook delivery");
    if (!endpoint[0].enabled) throw new ApiError("conflict", "The endpoint is disabled: enable it (PATCH enabled: true) before retrying its deliveries.");
    throw new ApiError("conflict", "An attempt of this delivery is in flight; retry it when that attempt is over.");
  }
  try {
    await enqueueWebhookJobs(c.env, [{ kind: "deliver", orgId, deliveryId: row.id }]);
  } catch (err) {
    // The row is pending and due with no lease: the Cron sweep queues it.
    log("error", "webhook_retry_enqueue_failed", { org_id: orgId, delivery_id: row.id, error: String(err) });
  }
  return c.json(toDelivery(row), 202);
};
