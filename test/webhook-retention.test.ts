import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { pruneWebhooks, WEBHOOK_RETENTION_MS } from "../src/outbox/retention";
import { CRON_JOBS } from "../src/triggers";
import { expectProblem, json, newOrg, newOrgOn, shardNameOf, shardNames, shardOf, type TestOrg } from "./helpers";

// The webhook outbox's retention (src/outbox/retention.ts): settled deliveries 30 days
// after their last change, events 30 days after dispatch once no delivery refers to them.
// Rows are written as the dispatcher and the deliverer leave them, with their times set
// back (30 days cannot pass in a test); the prune is the Cron's, called with `now`.

const bindings = env as unknown as Bindings;
const DAY = 86_400_000;

async function endpointOf(org: TestOrg) {
  const res = await org.as(org.owner)("/webhook-endpoints", { body: { url: "https://hooks.fake/retention", events: ["*"] } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await json<{ id: string }>(res)).id;
}

type Row = { status?: "pending" | "succeeded" | "failed" | null; createdDaysAgo: number; updatedDaysAgo?: number; dispatched?: boolean };

/** An outbox event and (unless `status` is null) its delivery to `endpointId`, aged as told. */
async function aged(org: TestOrg, endpointId: string, row: Row, now = Date.now()) {
  const shard = await shardOf(org.orgId);
  const eventId = crypto.randomUUID();
  const deliveryId = crypto.randomUUID();
  const created = now - row.createdDaysAgo * DAY;
  const updated = now - (row.updatedDaysAgo ?? row.createdDaysAgo) * DAY;
  const body = JSON.stringify({ type: "contact.created", timestamp: new Date(created).toISOString(), data: { org_id: org.orgId, seq: 1, object: {} } });
  const statements = [
    shard
      .prepare("INSERT INTO webhook_events (id, org_id, seq, type, object_id, body, dispatched_at, created_at) VALUES (?, ?, 1, 'contact.created', ?, ?, ?, ?)")
      .bind(eventId, org.orgId, crypto.randomUUID(), body, row.dispatched === false ? null : created, created),
  ];
  if (row.status !== null)
    statements.push(
      shard
        .prepare(
          `INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'contact.created', ?, 1, ?, ?, ?)`,
        )
        .bind(deliveryId, org.orgId, endpointId, eventId, row.status ?? "failed", row.status === "pending" ? now + 60_000 : null, created, updated),
    );
  await shard.batch(statements);
  return { eventId, deliveryId: row.status === null ? null : deliveryId };
}

const exists = async (org: TestOrg, table: "webhook_events" | "webhook_deliveries", id: string | null) =>
  id !== null && (await (await shardOf(org.orgId)).prepare(`SELECT 1 AS x FROM ${table} WHERE id = ?`).bind(id).first()) !== null;

async function listed(org: TestOrg, endpointId: string) {
  const res = await org.as(org.owner)(`/webhook-endpoints/${endpointId}/deliveries?limit=100`);
  expect(res.status).toBe(200);
  return (await json<{ data: { id: string }[] }>(res)).data.map((d) => d.id);
}

describe("webhook retention", () => {
  it("prunes settled deliveries and unreferenced dispatched events past 30 days, and keeps everything else", async () => {
    const org = await newOrg("Retention");
    const endpointId = await endpointOf(org);
    const gone = {
      failed: await aged(org, endpointId, { status: "failed", createdDaysAgo: 31 }),
      succeeded: await aged(org, endpointId, { status: "succeeded", createdDaysAgo: 45 }),
      // An event no endpoint took (none subscribed when it was dispatched).
      unsent: await aged(org, endpointId, { status: null, createdDaysAgo: 31 }),
    };
    const kept = {
      // Still retrying: never pruned, nor its event.
      pending: await aged(org, endpointId, { status: "pending", createdDaysAgo: 40 }),
      // Failed long ago, retried yesterday (POST …/retry): its last change is recent, and its event stays with it.
      retried: await aged(org, endpointId, { status: "failed", createdDaysAgo: 40, updatedDaysAgo: 1 }),
      young: await aged(org, endpointId, { status: "succeeded", createdDaysAgo: 29 }),
      // Never dispatched (the sweep's): not the prune's.
      undispatched: await aged(org, endpointId, { status: null, createdDaysAgo: 60, dispatched: false }),
    };
    expect(await listed(org, endpointId)).toHaveLength(5);

    const pruned = await pruneWebhooks(bindings);
    expect(pruned.deliveries).toBeGreaterThanOrEqual(2);
    expect(pruned.events).toBeGreaterThanOrEqual(3);
    for (const row of Object.values(gone)) {
      expect(await exists(org, "webhook_deliveries", row.deliveryId)).toBe(false);
      expect(await exists(org, "webhook_events", row.eventId)).toBe(false);
    }
    for (const [name, row] of Object.entries(kept)) {
      expect(await exists(org, "webhook_events", row.eventId), name).toBe(true);
      if (row.deliveryId) expect(await exists(org, "webhook_deliveries", row.deliveryId), name).toBe(true);
    }
    expect((await listed(org, endpointId)).sort()).toEqual([kept.pending.deliveryId, kept.retried.deliveryId, kept.young.deliveryId].sort());
    // A pruned delivery is gone for the API too: its retry is a 404, and nothing comes back.
    await expectProblem(
      await org.as(org.owner)(`/webhook-endpoints/${endpointId}/deliveries/${gone.failed.deliveryId}/retry`, { method: "POST" }),
      404,
      "not_found",
    );
    expect(await exists(org, "webhook_deliveries", gone.failed.deliveryId)).toBe(false);

    // Once the young one is 30 days old too, it goes; the rest stay.
    await pruneWebhooks(bindings, Date.now() + 2 * DAY);
    expect(await exists(org, "webhook_deliveries", kept.young.deliveryId)).toBe(false);
    expect(await exists(org, "webhook_events", kept.young.eventId)).toBe(false);
    expect(await exists(org, "webhook_deliveries", kept.pending.deliveryId)).toBe(true);
    expect(await exists(org, "webhook_events", kept.retried.eventId)).toBe(true);
  });

  it("deletes at most `limit` rows of each table per shard a run, oldest first, and drains a backlog over runs", async () => {
    const org = await newOrg("Retention backlog");
    const endpointId = await endpointOf(org);
    const rows = [];
    for (let i = 0; i < 7; i++) rows.push(await aged(org, endpointId, { status: "failed", createdDaysAgo: 40 - i }));
    const first = await pruneWebhooks(bindings, Date.now(), 3);
    expect(first.deliveries).toBeLessThanOrEqual(3 * shardNames().length);
    // Oldest first: the three oldest went, the four youngest are there.
    const left = await Promise.all(rows.map((r) => exists(org, "webhook_deliveries", r.deliveryId)));
    expect(left).toEqual([false, false, false, true, true, true, true]);
    let runs = 1;
    while ((await pruneWebhooks(bindings, Date.now(), 3)).deliveries > 0) runs++;
    expect(runs).toBeGreaterThanOrEqual(3);
    for (const r of rows) {
      expect(await exists(org, "webhook_deliveries", r.deliveryId)).toBe(false);
      expect(await exists(org, "webhook_events", r.eventId)).toBe(false);
    }
  });

  it("leaves a fenced org's rows alone (the source of a move), prunes its neighbours', and takes them once the fence is gone", async () => {
    const moving = await newOrg("Retention moving");
    const neighbour = await newOrgOn(await shardNameOf(moving.orgId), "Retention neighbour");
    const [movingRow, neighbourRow] = [
      await aged(moving, await endpointOf(moving), { status: "failed", createdDaysAgo: 31 }),
      await aged(neighbour, await endpointOf(neighbour), { status: "failed", createdDaysAgo: 31 }),
    ];
    const shard = await shardOf(moving.orgId);
    await shard
      .prepare("INSERT INTO org_fences (org_id, move_id, state, created_at) VALUES (?, ?, 'copying', ?)")
      .bind(moving.orgId, crypto.randomUUID(), Date.now())
      .run();
    await pruneWebhooks(bindings);
    expect(await exists(moving, "webhook_deliveries", movingRow.deliveryId)).toBe(true);
    expect(await exists(moving, "webhook_events", movingRow.eventId)).toBe(true);
    expect(await exists(neighbour, "webhook_deliveries", neighbourRow.deliveryId)).toBe(false);
    await shard.prepare("DELETE FROM org_fences WHERE org_id = ?").bind(moving.orgId).run();
    await pruneWebhooks(bindings);
    expect(await exists(moving, "webhook_deliveries", movingRow.deliveryId)).toBe(false);
    expect(await exists(moving, "webhook_events", movingRow.eventId)).toBe(false);
  });

  it("leaves an org with an open move alone in every shard (its copy in the target has no fence), and prunes it once the move is finished", async () => {
    const org = await newOrg("Retention open move");
    const endpointId = await endpointOf(org);
    // The copy in the target: rows as the move writes them, the target's fence dropped.
    const row = await aged(org, endpointId, { status: "failed", createdDaysAgo: 31 });
    const from = await shardNameOf(org.orgId);
    const to = shardNames().find((n) => n !== from) ?? from;
    const moveId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO org_moves (id, org_id, from_shard, to_shard, status, tables, created_at, updated_at) VALUES (?, ?, ?, ?, 'copying', '[]', ?, ?)",
    )
      .bind(moveId, org.orgId, to, from, Date.now(), Date.now())
      .run();
    try {
      await pruneWebhooks(bindings);
      expect(await exists(org, "webhook_deliveries", row.deliveryId)).toBe(true);
      expect(await exists(org, "webhook_events", row.eventId)).toBe(true);
    } finally {
      await env.DB.prepare("UPDATE org_moves SET finished_at = ? WHERE id = ?").bind(Date.now(), moveId).run();
    }
    await pruneWebhooks(bindings);
    expect(await exists(org, "webhook_deliveries", row.deliveryId)).toBe(false);
    expect(await exists(org, "webhook_events", row.eventId)).toBe(false);
  });

  it("a retry before the prune keeps the delivery; the prune before a retry makes it a 404 (the two serial orders)", async () => {
    const org = await newOrg("Retention orders");
    const endpointId = await endpointOf(org);
    const retried = await aged(org, endpointId, { status: "failed", createdDaysAgo: 31 });
    const res = await org.as(org.owner)(`/webhook-endpoints/${endpointId}/deliveries/${retried.deliveryId}/retry`, { method: "POST" });
    expect(res.status).toBe(202);
    await pruneWebhooks(bindings);
    expect(await exists(org, "webhook_deliveries", retried.deliveryId)).toBe(true);
    expect(await exists(org, "webhook_events", retried.eventId)).toBe(true);
    const pruned = await aged(org, endpointId, { status: "failed", createdDaysAgo: 31 });
    await pruneWebhooks(bindings);
    await expectProblem(
      await org.as(org.owner)(`/webhook-endpoints/${endpointId}/deliveries/${pruned.deliveryId}/retry`, { method: "POST" }),
      404,
      "not_found",
    );
    expect(await exists(org, "webhook_deliveries", pruned.deliveryId)).toBe(false);
  });

  it("races: POST …/retry and the prune on one old failed delivery, 12 rounds → one of the two serial orders, never a 5xx", async () => {
    const org = await newOrg("Retention race");
    const endpointId = await endpointOf(org);
    for (let round = 0; round < 12; round++) {
      const row = await aged(org, endpointId, { status: "failed", createdDaysAgo: 31 });
      const [res] = await Promise.all([
        org.as(org.owner)(`/webhook-endpoints/${endpointId}/deliveries/${row.deliveryId}/retry`, { method: "POST" }),
        pruneWebhooks(bindings),
      ]);
      const stored = await exists(org, "webhook_deliveries", row.deliveryId);
      const event = await exists(org, "webhook_events", row.eventId);
      if (res.status === 202) {
        // The retry first: pending now, so the prune kept it and its event.
        expect(stored, `round ${round}`).toBe(true);
        expect(event, `round ${round}`).toBe(true);
      } else {
        // The prune first: the retry finds nothing, and nothing is left.
        await expectProblem(res, 404, "not_found");
        expect(stored, `round ${round}`).toBe(false);
        expect(event, `round ${round}`).toBe(false);
      }
    }
  });

  it("runs every minute with the webhook sweep", async () => {
    const org = await newOrg("Retention cron");
    const row = await aged(org, await endpointOf(org), { status: "succeeded", createdDaysAgo: 31 });
    const out = (await CRON_JOBS["* * * * *"](bindings)) as { pruned: { deliveries: number } };
    expect(out.pruned.deliveries).toBeGreaterThanOrEqual(1);
    expect(await exists(org, "webhook_deliveries", row.deliveryId)).toBe(false);
    expect(WEBHOOK_RETENTION_MS).toBe(30 * DAY);
  });
});
