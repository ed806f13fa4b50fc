import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Label, labels } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { decodeNameCursor, encodeNameCursor } from "../lib/cursor";
import { ApiError, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { inbox, inOrgShard } from "../org-inbox/client";
import type * as routes from "./labels.routes";
import { MAX_LABELS } from "./labels.routes";
import { presentOne } from "./present";
import { labelKey, toLabel } from "./queries";

const nameTaken = (name: string) => new ApiError("conflict", `A label named "${name}" exists in this org (names are compared case-insensitively).`);

const mine = (orgId: string, id: string) => and(eq(labels.orgId, orgId), eq(labels.id, id.toLowerCase()));

/** The org's label with this name key, if any. */
const holderOf = (db: Db, orgId: string, key: string) =>
  db
    .select({ id: labels.id })
    .from(labels)
    .where(and(eq(labels.orgId, orgId), eq(labels.nameKey, key)))
    .get();

async function findOwn(db: Db, orgId: string, id: string) {
  const row = await db.select().from(labels).where(mine(orgId, id)).get();
  if (!row) throw notFound("Label");
  return row;
}

export const listLabels: AppRouteHandler<typeof routes.listLabels> = async (c) => {
  const { limit = 25, cursor } = c.req.valid("query");
  const after = decodeNameCursor(cursor);
  const rows = await c.var.db
    .select()
    .from(labels)
    .where(and(eq(labels.orgId, c.get("orgId")), after === null ? undefined : gt(labels.nameKey, after)))
    .orderBy(asc(labels.nameKey))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  return c.json({ data: data.map(toLabel), next_cursor: more ? encodeNameCursor(data[data.length - 1].nameKey) : null }, 200);
};

export const createLabel: AppRouteHandler<typeof routes.createLabel> = async (c) => {
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const now = Date.now();
  const row: Label = { id: uuidv7(now), orgId, name: body.name, nameKey: labelKey(body.name), color: body.color ?? null, createdAt: now, updatedAt: now };
  // The cap and the name in one statement: of creates at once, one takes a name (the others
  // meet the unique index and insert nothing), and the count holds.
  const inserted = await inOrgShard(c.env, orgId, c.var.db, async (db) => {
    const result = await db.run(sql`INSERT INTO ${labels} (id, org_id, name, name_key, color, created_at, updated_at)
      SELECT ${row.id}, ${orgId}, ${row.name}, ${row.nameKey}, ${row.color}, ${now}, ${now}
      WHERE (SELECT count(*) FROM ${labels} WHERE org_id = ${orgId}) < ${MAX_LABELS}
      ON CONFLICT DO NOTHING`);
    return (result.meta.changes ?? 0) === 1;
  });
  if (!inserted) {
    if (await holderOf(c.var.db, orgId, row.nameKey)) throw nameTaken(body.name);
    throw new ApiError("conflict", `An org has at most ${MAX_LABELS} labels; delete one first.`);
  }
  return c.json(toLabel(row), 201);
};

export const getLabel: AppRouteHandler<typeof routes.getLabel> = async (c) =>
  c.json(toLabel(await findOwn(c.var.db, c.get("orgId"), c.req.valid("param").label_id)), 200);

/** Tries of a PATCH that lost a race to another write of the same label. */
const PATCH_TRIES = 3;

export const updateLabel: AppRouteHandler<typeof routes.updateLabel> = async (c) => {
  const id = c.req.valid("param").label_id.toLowerCase();
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  for (let attempt = 1; ; attempt++) {
    const current = await findOwn(c.var.db, orgId, id);
    const next = { name: body.name ?? current.name, color: body.color !== undefined ? body.color : current.color };
    const key = labelKey(next.name);
    // Written only over the version read, and only while no other label holds the name;
    // updated_at always moves, so a racing PATCH sees it.
    const [row] = await inOrgShard(c.env, orgId, c.var.db, (db) =>
      db
        .update(labels)
        .set({ ...next, nameKey: key, updatedAt: Math.max(Date.now(), current.updatedAt + 1) })
        .where(
          and(
            mine(orgId, id),
            eq(labels.updatedAt, current.updatedAt),
            sql`NOT EXISTS (SELECT 1 FROM ${labels} AS other WHERE other.org_id = ${orgId} AND other.name_key = ${key} AND other.id <> ${id})`,
          ),
        )
        .returning(),
    );
    if (row) return c.json(toLabel(row), 200);
    const holder = await holderOf(c.var.db, orgId, key);
    if (holder && holder.id !== id) throw nameTaken(next.name);
    if (attempt >= PATCH_TRIES) throw new ApiError("conflict", "The label is being changed by another request; retry.");
  }
};

/** Turns of OrgInbox a delete may take (each unlinks up to UNLINK_PER_TURN conversations). */
const DELETE_TURNS = 200;

export const deleteLabel: AppRouteHandler<typeof routes.deleteLabel> = async (c) => {
  const client = inbox(c.env, c.get("orgId"));
  const id = c.req.valid("param").label_id.toLowerCase();
  for (let turn = 0; turn < DELETE_TURNS; turn++) {
    if ((await client.removeLabel(id)) === "gone") return c.body(null, 204);
  }
  throw new ApiError("internal", "The label is on too many conversations to remove in one request; repeat the DELETE to continue.");
};

export const setConversationLabels: AppRouteHandler<typeof routes.setConversationLabels> = async (c) => {
  const orgId = c.get("orgId");
  const row = await inbox(c.env, orgId).setLabels(c.req.valid("param").conversation_id.toLowerCase(), c.req.valid("json").label_ids);
  return c.json(await presentOne(c.var.db, orgId, row), 200);
};
