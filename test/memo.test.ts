import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { wrap } from "../src/db/client";
import { builtCount, memo, placeholdersOf, shapeOf } from "../src/db/memo";
import { slaConfigs } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { newOrg, shardOf } from "./helpers";

// src/db/memo.ts: a hot-path statement built once per handle and key, bound to each call's values.

describe("memo", () => {
  it("builds a key once, binds each call's values, and runs in a batch or alone", async () => {
    const db = wrap(env.SHARD_0);
    const key = `memo-test-${uuidv7()}`;
    const before = builtCount(db);
    let builds = 0;
    const read = (n: number) =>
      memo(
        db,
        key,
        () => {
          builds++;
          return db.select({ n: sql<number>`${sql.placeholder("n")} * 2`.as("n") }).from(sql`(SELECT 1)`);
        },
        { n },
      );
    const [a, b] = await db.batch([read(2), read(21)]);
    expect(a).toEqual([{ n: 4 }]);
    expect(b).toEqual([{ n: 42 }]);
    expect(await read(5).all()).toEqual([{ n: 10 }]);
    expect(await read(7).get()).toEqual({ n: 14 });
    expect(builds).toBe(1);
    expect(builtCount(db)).toBe(before + 1);
  });

  it("binds a null column value as NULL, not as the column's encoding of null", async () => {
    const org = await newOrg("Memo");
    const d1 = await shardOf(org.orgId);
    const db = wrap(d1);
    await d1.prepare("DELETE FROM sla_configs WHERE org_id = ?").bind(org.orgId).run();
    // A JSON column and a boolean one: drizzle's own placeholder filling would store the text "null" and 0.
    const row = { orgId: org.orgId, enabled: true, firstResponseMinutes: 15, businessHours: null, updatedAt: Date.now() };
    const insert = (r: typeof row) => memo(db, `memo-test-insert.${shapeOf(r)}`, () => db.insert(slaConfigs).values(placeholdersOf(r)), r);
    await db.batch([insert(row)]);
    const stored = await d1.prepare("SELECT enabled, typeof(business_hours) AS hours FROM sla_configs WHERE org_id = ?").bind(org.orgId).first();
    expect(stored).toEqual({ enabled: 1, hours: "null" });
    const [read] = await db.select().from(slaConfigs).where(eq(slaConfigs.orgId, org.orgId));
    expect(read).toMatchObject({ enabled: true, businessHours: null, firstResponseMinutes: 15 });
  });

  it("refuses to be awaited (its method would be a guess) and names a missing value", async () => {
    const db = wrap(env.SHARD_0);
    const q = memo(db, `memo-test-await-${uuidv7()}`, () => db.select({ x: sql<number>`${sql.placeholder("x")}`.as("x") }).from(sql`(SELECT 1)`), {});
    await expect((async () => await q)()).rejects.toThrow(/put it in db.batch/);
    await expect(db.batch([q])).rejects.toThrow(/no value for placeholder "x"/);
  });
});
