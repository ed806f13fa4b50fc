import { and, asc, eq } from "drizzle-orm";
import { settings } from "../config/settings";
import { driverRows, jsonInserts } from "../db/json-rows";
import { type WebhookEndpoint, webhookEndpoints } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { iso } from "../lib/time";
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
      where: `(SELECT count(*) FROM "webhook_endpoints" e WHERE e."org_id" = json_extract(value, '$."org_id"')) < ${MAX_ENDPOINTS}`,
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
  const gone = await inOrgShard(c.env, orgId, c.var.db, (db) =>
    db
      .delete(webhookEndpoints)
      .where(mine(orgId, c.req.valid("param").endpoint_id))
      .returning({ id: webhookEndpoints.id }),
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
