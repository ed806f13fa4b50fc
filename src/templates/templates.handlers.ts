import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Template, templates } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { decodeNameCursor, encodeNameCursor } from "../lib/cursor";
import { ApiError, type FieldError, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { iso } from "../lib/time";
import { inOrgShard } from "../org-inbox/client";
import { TEMPLATE_VARIABLES, templateErrors } from "./render";
import type * as routes from "./templates.routes";
import { MAX_TEMPLATES, shapeIssues } from "./templates.routes";
import { ownTemplate, renderWith, templateValues } from "./use";

export const toTemplate = (t: Template) => ({
  id: t.id,
  name: t.name,
  channel: t.channel,
  subject: t.subject,
  body: t.body,
  created_at: iso(t.createdAt),
  updated_at: iso(t.updatedAt),
});

/** A name as compared: "Welcome" and "WELCOME" are one name. */
export const nameKey = (name: string) => name.normalize("NFC").toLowerCase();

/** Unknown variables and malformed tags: 422 template_invalid, naming each. */
function checkVariables(fields: { body: string; subject?: string | null }) {
  const errors = templateErrors(fields);
  if (errors.length)
    throw new ApiError(
      "template_invalid",
      `The template cannot be saved: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}. Variables: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ")}.`,
      errors,
    );
}

const nameTaken = (name: string) => new ApiError("conflict", `A template named "${name}" exists in this org (names are compared case-insensitively).`);

const mine = (orgId: string, id: string) => and(eq(templates.orgId, orgId), eq(templates.id, id.toLowerCase()));

/** Another template of the org with this name key, if any. */
const holderOf = (db: Db, orgId: string, key: string) =>
  db
    .select({ id: templates.id })
    .from(templates)
    .where(and(eq(templates.orgId, orgId), eq(templates.nameKey, key)))
    .get();

export const listTemplates: AppRouteHandler<typeof routes.listTemplates> = async (c) => {
  const { limit = 25, cursor } = c.req.valid("query");
  const after = decodeNameCursor(cursor);
  const rows = await c.var.db
    .select()
    .from(templates)
    .where(and(eq(templates.orgId, c.get("orgId")), after === null ? undefined : gt(templates.nameKey, after)))
    .orderBy(asc(templates.nameKey))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  return c.json({ data: data.map(toTemplate), next_cursor: more ? encodeNameCursor(data[data.length - 1].nameKey) : null }, 200);
};

export const createTemplate: AppRouteHandler<typeof routes.createTemplate> = async (c) => {
  const body = c.req.valid("json");
  const channel = body.channel ?? null;
  const subject = body.subject ?? null;
  checkVariables({ body: body.body, subject });
  const orgId = c.get("orgId");
  const now = Date.now();
  const row: Template = {
    id: uuidv7(now),
    orgId,
    name: body.name,
    nameKey: nameKey(body.name),
    channel,
    subject,
    body: body.body,
    createdAt: now,
    updatedAt: now,
  };
  // The cap and the name in the one statement: of creates at once, one takes a name (the
  // others meet the unique index and insert nothing), and the count holds.
  const inserted = await inOrgShard(c.env, orgId, c.var.db, async (db) => {
    const result = await db.run(sql`INSERT INTO ${templates} (id, org_id, name, name_key, channel, subject, body, created_at, updated_at)
      SELECT ${row.id}, ${orgId}, ${row.name}, ${row.nameKey}, ${channel}, ${subject}, ${row.body}, ${now}, ${now}
      WHERE (SELECT count(*) FROM ${templates} WHERE org_id = ${orgId}) < ${MAX_TEMPLATES}
      ON CONFLICT DO NOTHING`);
    return (result.meta.changes ?? 0) === 1;
  });
  if (!inserted) {
    if (await holderOf(c.var.db, orgId, row.nameKey)) throw nameTaken(body.name);
    throw new ApiError("conflict", `An org has at most ${MAX_TEMPLATES} templates; delete one first.`);
  }
  return c.json(toTemplate(row), 201);
};

async function findOwn(db: Db, orgId: string, id: string) {
  const row = await ownTemplate(db, orgId, id);
  if (!row) throw notFound("Template");
  return row;
}

export const getTemplate: AppRouteHandler<typeof routes.getTemplate> = async (c) =>
  c.json(toTemplate(await findOwn(c.var.db, c.get("orgId"), c.req.valid("param").template_id)), 200);

/** Tries of a PATCH that lost a race to another write of the same template. */
const PATCH_TRIES = 3;

export const updateTemplate: AppRouteHandler<typeof routes.updateTemplate> = async (c) => {
  const id = c.req.valid("param").template_id.toLowerCase();
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  for (let attempt = 1; ; attempt++) {
    const current = await findOwn(c.var.db, orgId, id);
    const next = {
      name: body.name ?? current.name,
      channel: body.channel !== undefined ? body.channel : current.channel,
      subject: body.subject !== undefined ? body.subject : current.subject,
      body: body.body ?? current.body,
    };
    const issues: FieldError[] = shapeIssues(next).map((i) => ({ path: i.path.join("."), message: i.message }));
    if (issues.length) throw new ApiError("validation_failed", issues.map((i) => i.message).join("; "), issues);
    checkVariables(next);
    const key = nameKey(next.name);
    // Written only over the version read (the whole result was checked), and only while no
    // other template holds the name; updated_at always moves, so a racing PATCH sees it.
    const [row] = await inOrgShard(c.env, orgId, c.var.db, (db) =>
      db
        .update(templates)
        .set({ ...next, nameKey: key, updatedAt: Math.max(Date.now(), current.updatedAt + 1) })
        .where(
          and(
            mine(orgId, id),
            eq(templates.updatedAt, current.updatedAt),
            sql`NOT EXISTS (SELECT 1 FROM ${templates} AS other WHERE other.org_id = ${orgId} AND other.name_key = ${key} AND other.id <> ${id})`,
          ),
        )
        .returning(),
    );
    if (row) return c.json(toTemplate(row), 200);
    const holder = await holderOf(c.var.db, orgId, key);
    if (holder && holder.id !== id) throw nameTaken(next.name);
    if (attempt >= PATCH_TRIES) throw new ApiError("conflict", "The template is being changed by another request; retry.");
  }
};

export const deleteTemplate: AppRouteHandler<typeof routes.deleteTemplate> = async (c) => {
  const orgId = c.get("orgId");
  const id = c.req.valid("param").template_id;
  const gone = await inOrgShard(c.env, orgId, c.var.db, (db) => db.delete(templates).where(mine(orgId, id)).returning({ id: templates.id }));
  if (!gone.length) throw notFound("Template");
  return c.body(null, 204);
};

export const previewTemplate: AppRouteHandler<typeof routes.previewTemplate> = async (c) => {
  const orgId = c.get("orgId");
  const { conversation_id } = c.req.valid("query");
  const caller = { userId: c.get("userId"), claims: c.get("claims") };
  const [template, values] = await Promise.all([
    findOwn(c.var.db, orgId, c.req.valid("param").template_id),
    templateValues(c.env, c.var.db, orgId, caller, conversation_id ?? null),
  ]);
  return c.json(renderWith(template, values), 200);
};
