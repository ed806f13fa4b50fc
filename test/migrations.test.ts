import { applyD1Migrations, createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { BASE, json, token } from "./helpers";

// The upgrade path of a deployment that had one database (README, Deploy): its DB keeps
// its data and is bound as SHARD_0 too; control migrations 0002 adds orgs.shard and the
// channel routes (backfilled), and the shard migrations, recorded in their own table,
// find every table already there (CREATE … IF NOT EXISTS). Played here on a database
// emptied of this file's migrations and given the two files such a deployment ran.

const LEGACY = ["0000_init.sql", "0001_send_sweep.sql"];
const ORG = "01936d00-0000-7000-8000-000000000001";
const OWNER = "01936d00-0000-7000-8000-0000000000a1";
const CONTACT = "01936d00-0000-7000-8000-0000000000d1";
const CONVERSATION = "01936d00-0000-7000-8000-0000000000e1";

async function emptied(d: D1Database) {
  const { results } = await d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
    .all<{ name: string }>();
  // IF EXISTS: dropping an FTS5 table (migration 0008) drops its shadow tables, listed after it.
  for (const { name } of results) await d.prepare(`DROP TABLE IF EXISTS "${name}"`).run();
  return d;
}

describe("a single-database deployment upgrades in place", () => {
  it("keeps its data, routes its channels, and serves its orgs from SHARD_0 = DB", async () => {
    const legacy = await emptied(env.SHARD_1);
    const control = env.TEST_CONTROL_MIGRATIONS;
    expect(control.map((m) => m.name)).toEqual([...LEGACY, "0002_shards.sql", "0003_org_moves.sql"]);
    await applyD1Migrations(
      legacy,
      control.filter((m) => LEGACY.includes(m.name)),
    );
    const now = Date.now();
    await legacy.batch([
      legacy.prepare("INSERT INTO orgs (id, name, created_at) VALUES (?, 'Old Org', ?)").bind(ORG, now),
      legacy.prepare("INSERT INTO members (org_id, user_id, role, created_at, updated_at) VALUES (?, ?, 'owner', ?, ?)").bind(ORG, OWNER, now, now),
      legacy
        .prepare("INSERT INTO channels (id, org_id, kind, address, provider, created_at) VALUES (?, ?, 'sms', '+14155559701', 'log', ?)")
        .bind(crypto.randomUUID(), ORG, now),
      legacy
        .prepare("INSERT INTO contacts (id, org_id, name, phone, created_at, updated_at) VALUES (?, ?, 'Old Contact', '+14155550142', ?, ?)")
        .bind(CONTACT, ORG, now, now),
      legacy
        .prepare("INSERT INTO conversations (id, org_id, contact_id, sort_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(CONVERSATION, ORG, CONTACT, now, now, now),
    ]);

    // What `npm run deploy` runs on it after the upgrade: the control set (0002 is new) on DB,
    // the shard set on SHARD_0 (the same database, its own migrations table).
    await applyD1Migrations(legacy, control);
    await applyD1Migrations(legacy, env.TEST_SHARD_MIGRATIONS, "d1_migrations_shard");
    expect(await legacy.prepare("SELECT shard FROM orgs WHERE id = ?").bind(ORG).first("shard")).toBe("SHARD_0");
    expect(
      await legacy
        .prepare("SELECT org_id, address FROM channel_routes")
        .all()
        .then((r) => r.results),
    ).toEqual([{ org_id: ORG, address: "+14155559701" }]);
    const names = (await legacy.prepare("SELECT name FROM d1_migrations_shard").all<{ name: string }>()).results.map((r) => r.name);
    expect(names).toEqual(env.TEST_SHARD_MIGRATIONS.map((m) => m.name));

    // The Worker on it, with one shard.
    const upgraded = { ...env, DB: legacy, SHARD_0: legacy, SHARDS: "SHARD_0" } as unknown as Bindings;
    const headers = { authorization: `Bearer ${await token(OWNER)}`, "x-org-id": ORG, "content-type": "application/json" };
    const get = async (path: string) => json(await app.fetch(new Request(`${BASE}${path}`, { headers }), upgraded, createExecutionContext()));
    expect((await get("/health")).status).toBe("ok");
    expect((await get("/conversations")).data).toEqual([
      expect.objectContaining({ id: CONVERSATION, contact: expect.objectContaining({ name: "Old Contact" }) }),
    ]);
    expect((await get("/channels")).data).toEqual([expect.objectContaining({ address: "+14155559701" })]);
    // Migration 0008 backfilled the search index with the rows already there.
    expect((await get("/contacts?q=415%20555%200142")).data).toEqual([expect.objectContaining({ id: CONTACT })]);
    expect((await get("/conversations?q=old%20contact")).data).toEqual([
      expect.objectContaining({ id: CONVERSATION, match: { message_id: null, snippet: "«Old» «Contact» · +14155550142" } }),
    ]);
    const post = (body: unknown) =>
      app.fetch(new Request(`${BASE}/channels`, { method: "POST", headers, body: JSON.stringify(body) }), upgraded, createExecutionContext());
    // The backfilled route holds its address; a new address is claimed and written as on any shard.
    expect((await post({ kind: "sms", address: "+14155559701", provider: "log" })).status).toBe(409);
    expect((await post({ kind: "email", address: "old@acme.test", provider: "log" })).status).toBe(201);
    // A new org on the upgraded deployment goes to its one shard.
    const made = await app.fetch(new Request(`${BASE}/orgs`, { method: "POST", headers, body: '{"name":"New Org"}' }), upgraded, createExecutionContext());
    expect(
      await legacy
        .prepare("SELECT shard FROM orgs WHERE id = ?")
        .bind((await json(made)).id)
        .first("shard"),
    ).toBe("SHARD_0");
  });
});
