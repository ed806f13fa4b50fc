import { env } from "cloudflare:test";
import { eq, getTableColumns, Param, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { wrap } from "../src/db/client";
import { builtCount, MEMO_MAX, memo, numbered, placeholdersOf, shapeOf } from "../src/db/memo";
import { contacts, conversations, slaConfigs } from "../src/db/schema";
import { uuidv7 } from "../src/lib/ids";
import { ingestOk, json, newOrg, newOrgOn, shardNameOf, shardOf } from "./helpers";

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

  it("builds GET /conversations, its search and GET /contacts once per shape, each request with its own values and org", async () => {
    const a = await newOrg("Memo lists A");
    const b = await newOrgOn(await shardNameOf(a.orgId), "Memo lists B");
    const db = wrap(await shardOf(a.orgId));
    const said = [
      ["+14155550101", "Ada Alpha", "the alpha plan"],
      ["+14155550102", "Bo Bravo", "the bravo plan"],
      ["+14155550103", "Cy Alpha", "the charlie plan"],
    ];
    const ids: string[] = [];
    for (const [phone, name, body] of said) ids.push((await ingestOk(a, { contact: { phone, name }, body })).message.conversation_id);
    await ingestOk(b, { contact: { phone: "+14155550101", name: "Ada Alpha" }, body: "the alpha plan" });
    expect((await a.as(a.owner)(`/conversations/${ids[1]}/star`, { method: "POST" })).status).toBe(200);
    const list = async (org: typeof a, query: string) => {
      const res = await org.as(org.owner)(query);
      expect(res.status, await res.clone().text()).toBe(200);
      return (await json<{ data: { id: string; contact: { id: string }; name?: string }[] }>(res)).data.map((c) => c.id).sort();
    };
    // Each shape once, warming its statement; then the same shapes with other values build nothing.
    await list(a, "/conversations?starred=true");
    await list(a, "/conversations?q=alpha");
    // Again: its plan is remembered, and the few-matches statement alone is built once too.
    await list(a, "/conversations?q=alpha");
    await list(a, "/conversations?limit=1");
    await list(a, "/contacts?q=alpha");
    const built = builtCount(db);
    expect(built).toBeGreaterThan(0);
    expect(await list(a, "/conversations?starred=false")).toEqual([ids[0], ids[2]].sort());
    expect(await list(a, "/conversations?starred=true")).toEqual([ids[1]]);
    expect(await list(a, "/conversations?q=bravo")).toEqual([ids[1]]);
    expect(await list(a, "/conversations?q=alpha")).toEqual([ids[0], ids[2]].sort());
    expect(await list(b, "/conversations?q=bravo")).toEqual([]);
    expect(await list(b, "/conversations?q=alpha")).toHaveLength(1);
    expect(await list(a, "/conversations?limit=1")).toHaveLength(1);
    const contacts = async (org: typeof a, q: string) => {
      const res = await org.as(org.owner)(`/contacts?q=${q}`);
      expect(res.status).toBe(200);
      return (await json<{ data: { name: string }[] }>(res)).data.map((c) => c.name).sort();
    };
    expect(await contacts(a, "alpha")).toEqual(["Ada Alpha", "Cy Alpha"]);
    expect(await contacts(a, "bravo")).toEqual(["Bo Bravo"]);
    expect(await contacts(b, "alpha")).toEqual(["Ada Alpha"]);
    expect(builtCount(db)).toBe(built);
    // A cursor is another shape (its keyset), built once; the pages walk all three once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await a.as(a.owner)(`/conversations?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      const page = await json<{ data: { id: string }[]; next_cursor: string | null }>(res);
      seen.push(...page.data.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    expect(builtCount(db)).toBe(built + 1);
  });

  it("keeps at most MEMO_MAX statements a handle, dropping the least recently used", async () => {
    const db = wrap(env.SHARD_1);
    const prefix = `memo-test-cap-${uuidv7()}`;
    let builds = 0;
    const read = (key: string) =>
      memo(
        db,
        key,
        () => {
          builds++;
          return db.select({ n: sql<number>`${sql.placeholder("n")}`.as("n") }).from(sql`(SELECT 1)`);
        },
        { n: 1 },
      );
    for (let i = 0; i < MEMO_MAX; i++) read(`${prefix}-${i}`);
    expect(builtCount(db)).toBe(MEMO_MAX);
    // Used again, key 0 is the most recent; a new key then drops key 1, the least recent.
    read(`${prefix}-0`);
    read(`${prefix}-new`);
    expect(builtCount(db)).toBe(MEMO_MAX);
    expect(builds).toBe(MEMO_MAX + 1);
    read(`${prefix}-0`);
    expect(builds).toBe(MEMO_MAX + 1);
    read(`${prefix}-1`);
    expect(builds).toBe(MEMO_MAX + 2);
    expect(await read(`${prefix}-2`).get()).toEqual({ n: 1 });
  });

  it("maps rows as drizzle does: nested objects, column decoders, sql decoders, a left join's missing row as null", async () => {
    const org = await newOrg("Memo rows");
    await ingestOk(org, { contact: { phone: "+14155550111", name: "Row One" }, body: "first" });
    const db = wrap(await shardOf(org.orgId));
    await db.update(conversations).set({ starred: true }).where(eq(conversations.orgId, org.orgId));
    // Every column of conversations (booleans, ms times, nulls), a JSON column (sla_configs.business_hours),
    // an sql field with mapWith, and a left join that finds nothing (its object must be null, not all-null fields).
    const build = () =>
      db
        .select({
          conversation: conversations,
          contact: { id: contacts.id, name: contacts.name, phone: contacts.phone },
          twice: sql<number>`${sql.placeholder("n")} * 2`.mapWith(Number).as("twice"),
          label: sql<string>`'x' || ${sql.placeholder("tag")}`.as("label"),
          sla: getTableColumns(slaConfigs),
        })
        .from(conversations)
        .innerJoin(contacts, eq(contacts.id, conversations.contactId))
        .leftJoin(slaConfigs, sql`${slaConfigs.orgId} = ${sql.placeholder("none")}`)
        .where(eq(conversations.orgId, sql.placeholder("org")));
    const values = { n: 21, tag: "y", org: org.orgId, none: "no-such-org" };
    const drizzles = await build().all(values);
    const ours = await memo(db, `memo-test-rows-${uuidv7()}`, build, values).all();
    expect(drizzles).toHaveLength(1);
    expect(ours).toEqual(drizzles);
    expect(drizzles[0]).toMatchObject({ conversation: { starred: true, archived: false }, twice: 42, label: "xy", sla: null });
    expect(await memo(db, `memo-test-rows-${uuidv7()}`, build, values).get()).toEqual(drizzles[0]);
    // The left join found: its object, with the JSON column decoded.
    const hours = { timezone: "UTC", days: [1, 2, 3] };
    await db.insert(slaConfigs).values({ orgId: org.orgId, enabled: true, firstResponseMinutes: 5, businessHours: hours as never, updatedAt: 1 });
    const found = { ...values, none: org.orgId };
    const joined = await memo(db, `memo-test-rows-${uuidv7()}`, build, found).all();
    expect(joined).toEqual(await build().all(found));
    expect(joined[0].sla).toMatchObject({ orgId: org.orgId, enabled: true, businessHours: hours });
    expect(await memo(db, `memo-test-rows-${uuidv7()}`, build, { ...values, org: "nobody" }).get()).toBeUndefined();
  });

  it("numbers a placeholder once however often it occurs, skips question marks in literals and quoted names, binds once a value", async () => {
    const db = wrap(env.SHARD_0);
    const build = () =>
      db
        .select({
          a: sql<string>`${sql.placeholder("x")} || '?' || ${sql.placeholder("y")} || ${sql.placeholder("x")}`.as("a"),
          b: sql<number>`${7} + 1`.as("b"),
        })
        .from(sql`(SELECT 1 AS "odd?name")`);
    const { sql: text, slots } = numbered(build().toSQL());
    expect(text).toContain(`?1 || '?' || ?2 || ?1`);
    expect(text).toContain(`"odd?name"`);
    expect(slots).toHaveLength(3);
    expect(await memo(db, `memo-test-numbered-${uuidv7()}`, build, { x: "p", y: "q" }).get()).toEqual({ a: "p?qp", b: 8 });
    expect(() => numbered({ sql: "SELECT ?, ?", params: [1] })).toThrow(/2 parameters in the SQL, 1 values/);
    // Doubled quotes and backticks stay literal; one name under two column encoders is two numbers.
    const quoted = numbered({ sql: "SELECT 'it''s ?', `a?b`, ?, ?", params: [sql.placeholder("v"), sql.placeholder("v")] });
    expect(quoted.sql).toBe("SELECT 'it''s ?', `a?b`, ?1, ?1");
    const json = new Param(sql.placeholder("v"), slaConfigs.businessHours);
    const flag = new Param(sql.placeholder("v"), slaConfigs.enabled);
    const twice = numbered({ sql: "SELECT ?, ?, ?, ?", params: [json, flag, json, sql.placeholder("v")] });
    expect(twice.sql).toBe("SELECT ?1, ?2, ?1, ?3");
    expect(twice.slots).toEqual([json, flag, sql.placeholder("v")]);
  });
});
