import { eq, getTableName } from "drizzle-orm";
import type { Db } from "../db/client";
import { jsonInserts, quote } from "../db/json-rows";
import {
  activities,
  activityDayTallies,
  channels,
  contacts,
  conversationLabels,
  conversations,
  conversationTallies,
  idempotencyKeys,
  labels,
  labelTallies,
  media,
  orgFences,
  setterConfigs,
  slaConfigs,
  templates,
  trainingPairs,
  views,
  webhookDeliveries,
  webhookEndpoints,
  webhookEvents,
} from "../db/shard";
import { unroutableEvents } from "../db/unroutable";
import { sha256Hex } from "../lib/bytes";

// Moving an org's rows from one shard to another (SPEC 14), for OrgInbox, which runs it
// as one turn of its chain (its own writes wait) while the fence (org_fences and the
// triggers of migrations/shard/0002_move_fences.sql) refuses every other writer's.
// Nothing here decides when: OrgInbox does (src/org-inbox/org-inbox.ts, runMove).

/** Every table that holds an org's rows in a shard, parents before children (D1 enforces foreign keys). */
export const ORG_TABLES: readonly string[] = [
  contacts,
  channels,
  conversations,
  conversationTallies,
  activityDayTallies,
  activities,
  views,
  slaConfigs,
  setterConfigs,
  media,
  trainingPairs,
  idempotencyKeys,
  unroutableEvents,
  webhookEndpoints,
  webhookEvents,
  webhookDeliveries,
  templates,
  labels,
  conversationLabels,
  // Last: the target's triggers fill it while the links are copied (see TRIGGER_FILLED),
  // and a delete (children first, so first here) empties it before the links go, whose
  // delete triggers then find no row to move under a `deleting` fence.
  labelTallies,
].map((t) => getTableName(t));

/**
 * Tables the target's own triggers write while the tables before them are copied
 * (label_tallies: migrations/shard/0016_label_tally_triggers.sql counts each copied link).
 * Their rows in the target are cleared just before their own copy, so they are the
 * source's rows exactly, in the source's order, and verified like every other table
 * (the triggers' count would be the same numbers, but in another row order, and a
 * second copy would count each link twice).
 */
const TRIGGER_FILLED: ReadonlySet<string> = new Set([getTableName(labelTallies)]);

export type TableProgress = { copied: number; total: number };
export type Progress = Record<string, TableProgress>;

type Row = Record<string, unknown>;

/** Rows read at a time: one SELECT, then one batch of inserts. */
const PAGE_ROWS = 500;
/** Rows deleted at a time from the shard the org left (or a failed copy). */
const DELETE_ROWS = 500;

// The copy speaks SQL to D1 itself (db.$client): its statements are built per table from
// the names in ORG_TABLES and the columns a page came back with, never from input.
/** How many rows of the org each table holds: one query. */
export async function countRows(db: Db, orgId: string): Promise<Record<string, number>> {
  const parts = ORG_TABLES.map((name) => `(SELECT count(*) FROM ${quote(name)} WHERE org_id = ?1) AS ${quote(name)}`);
  const row = await db.$client
    .prepare(`SELECT ${parts.join(", ")}`)
    .bind(orgId)
    .first<Record<string, number>>();
  return Object.fromEntries(ORG_TABLES.map((name) => [name, Number(row?.[name] ?? 0)]));
}

/**
 * One page of the org's rows of `name`, in rowid order after `after`. The `+` keeps
 * SQLite off the org indexes (none is in rowid order), so the pages of a table are one
 * walk of it: the copy in the target is inserted in this order, and read back the same way.
 */
async function readPage(db: Db, name: string, orgId: string, after: number): Promise<{ rows: Row[]; last: number }> {
  const { results } = await db.$client
    .prepare(`SELECT rowid AS "__rowid", * FROM ${quote(name)} WHERE +org_id = ? AND rowid > ? ORDER BY rowid LIMIT ?`)
    .bind(orgId, after, PAGE_ROWS)
    .all<Row>();
  let last = after;
  const rows = results.map(({ __rowid, ...row }) => {
    last = Number(__rowid);
    return row;
  });
  return { rows, last };
}

/** The fingerprint of a table's pages: SHA-256 over each page's SHA-256, pages cut alike on both sides. */
class Checksum {
  private pages: string[] = [];
  async add(rows: Row[]) {
    if (rows.length) this.pages.push(await sha256Hex(JSON.stringify(rows)));
  }
  digest = () => sha256Hex(this.pages.join(""));
}

export type CopyReport = { copied: number; checksum: string };

/**
 * Walks the org's rows of `name` in `db` page by page, handing each page to `onPage`
 * (with the running count) before the next is read: the count and checksum of what it saw.
 */
async function walk(db: Db, name: string, orgId: string, onPage?: (rows: Row[], seen: number) => Promise<void>): Promise<CopyReport> {
  const sum = new Checksum();
  let after = 0;
  let seen = 0;
  for (;;) {
    const { rows, last } = await readPage(db, name, orgId, after);
    if (!rows.length) break;
    seen += rows.length;
    await onPage?.(rows, seen);
    await sum.add(rows);
    after = last;
    if (rows.length < PAGE_ROWS) break;
    await breather();
  }
  return { copied: seen, checksum: await sum.digest() };
}

/** Copies the org's rows of `name` page by page; `onPage` hears the running count. */
export const copyTable = (from: Db, to: Db, name: string, orgId: string, onPage: (copied: number) => Promise<void>): Promise<CopyReport> =>
  walk(from, name, orgId, async (rows, copied) => {
    await to.$client.batch(jsonInserts(to.$client, name, rows));
    await onPage(copied);
  });

/** The org's rows of `name` as they are in `db`: count and checksum, read as copyTable reads. */
export const fingerprint = (db: Db, name: string, orgId: string): Promise<CopyReport> => walk(db, name, orgId);

/**
 * A macrotask between pages: a long copy leaves room for the rest of the process (on
 * `wrangler dev` everything shares one thread, and D1's answers alone never yield it).
 */
const breather = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Deletes every row of the org from `db`, children first, a page at a time (the org indexes find them). */
export async function deleteOrgRows(db: Db, orgId: string): Promise<number> {
  let deleted = 0;
  for (const name of [...ORG_TABLES].reverse()) {
    for (;;) {
      const result = await db.$client
        .prepare(`DELETE FROM ${quote(name)} WHERE rowid IN (SELECT rowid FROM ${quote(name)} WHERE org_id = ? LIMIT ?)`)
        .bind(orgId, DELETE_ROWS)
        .run();
      const changes = result.meta.changes ?? 0;
      deleted += changes;
      if (changes < DELETE_ROWS) break;
    }
  }
  return deleted;
}

export type FenceState = (typeof orgFences.$inferSelect)["state"];

/** Puts (or changes) the org's fence in `db`: from now on its rows there are read-only (`deleting`: deletable). */
export const setFence = (db: Db, orgId: string, moveId: string, state: FenceState, now = Date.now()) =>
  db.insert(orgFences).values({ orgId, moveId, state, createdAt: now }).onConflictDoUpdate({ target: orgFences.orgId, set: { moveId, state } });

export const dropFence = (db: Db, orgId: string) => db.delete(orgFences).where(eq(orgFences.orgId, orgId));

/** What made a move give up, in words for GET /operator/moves/{move_id}. */
export class MoveFailure extends Error {}

/**
 * Copies every table of the org from `from` to `to` (which must hold none of its rows),
 * then verifies each: the source's count now, the rows copied and the rows in the target
 * agree, and the target's checksum is the source's. `report` hears the progress (at most
 * once a second while copying, and at each change of status).
 */
export async function copyAndVerify(
  from: Db,
  to: Db,
  orgId: string,
  report: (status: "copying" | "verifying", tables: Progress) => Promise<void>,
): Promise<Progress> {
  const totals = await countRows(from, orgId);
  const tables: Progress = Object.fromEntries(ORG_TABLES.map((name) => [name, { copied: 0, total: totals[name] }]));
  await report("copying", tables);
  const copies: Record<string, CopyReport> = {};
  let reported = Date.now();
  for (const name of ORG_TABLES) {
    if (TRIGGER_FILLED.has(name))
      await to.$client
        .prepare(`DELETE FROM ${quote(name)} WHERE org_id = ?`)
        .bind(orgId)
        .run();
    copies[name] = await copyTable(from, to, name, orgId, async (copied) => {
      tables[name].copied = copied;
      if (Date.now() - reported < 1000) return;
      reported = Date.now();
      await report("copying", tables);
    });
    tables[name].copied = copies[name].copied;
    await report("copying", tables);
  }
  await report("verifying", tables);
  const now = await countRows(from, orgId);
  for (const name of ORG_TABLES) {
    const copy = copies[name];
    const there = await fingerprint(to, name, orgId);
    if (now[name] !== copy.copied || there.copied !== copy.copied) {
      throw new MoveFailure(`${name}: ${copy.copied} rows copied, ${now[name]} in the source, ${there.copied} in the target`);
    }
    if (there.checksum !== copy.checksum) throw new MoveFailure(`${name}: the target's rows differ from the source's (checksum)`);
  }
  return tables;
}
