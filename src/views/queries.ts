import { and, asc, eq, notInArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { type View, views } from "../db/schema";
import { ApiError, type FieldError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { SYSTEM_VIEWS, sameFilters, type ViewFilters, type ViewKey } from "./system-views";

export const MAX_VIEWS = 50;

export const toView = (v: View) => ({
  id: v.id,
  key: v.key,
  name: v.name,
  system: v.key !== null,
  position: v.position,
  filters: v.filters as ViewFilters,
});

const ofMember = (orgId: string, userId: string) => and(eq(views.orgId, orgId), eq(views.userId, userId));

export const memberViewsQuery = (db: Db, orgId: string, userId: string) =>
  db.select().from(views).where(ofMember(orgId, userId)).orderBy(asc(views.position), asc(views.id));

/** The member's views by position; the four system views are created on first use. */
export async function memberViews(db: Db, orgId: string, userId: string): Promise<View[]> {
  let rows = await memberViewsQuery(db, orgId, userId).all();
  const missing = SYSTEM_VIEWS.filter((s) => !rows.some((r) => r.key === s.key));
  if (missing.length) {
    const now = Date.now();
    const base = rows.length;
    await db
      .insert(views)
      .values(
        missing.map((s, i) => ({
          id: uuidv7(now),
          orgId,
          userId,
          key: s.key,
          name: s.name,
          position: base + i,
          filters: s.filters,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .onConflictDoNothing();
    rows = await memberViewsQuery(db, orgId, userId).all();
  }
  return rows;
}

export const findMemberView = (db: Db, orgId: string, userId: string, id: string) =>
  db
    .select()
    .from(views)
    .where(and(ofMember(orgId, userId), eq(views.id, id)))
    .get();

export type WantedView = { id?: string; key?: ViewKey | null; name: string; system?: boolean; position?: number; filters: ViewFilters };

/**
 * PUT /conversations/views: checks every rule first (SPEC 7 and 13: the first of
 * system_view_required, system_view_immutable, invalid_views wins), then writes the
 * new list in one batch.
 */
export async function replaceViews(db: Db, orgId: string, userId: string, wanted: WantedView[]) {
  const current = await memberViews(db, orgId, userId);
  const byId = new Map(current.map((v) => [v.id, v]));
  const resolved = wanted.map((w) => {
    const owned = w.id ? byId.get(w.id.toLowerCase()) : undefined;
    const systemKey = owned?.key ?? w.key ?? null;
    return { w, owned, systemKey };
  });

  const missing = SYSTEM_VIEWS.filter((s) => !resolved.some((r) => r.systemKey === s.key));
  if (missing.length) {
    throw new ApiError(
      "system_view_required",
      `The system views must stay: ${missing.map((s) => s.name).join(", ")}.`,
      missing.map((s) => ({ path: "views", message: `missing system view "${s.key}"` })),
    );
  }

  const immutable: FieldError[] = [];
  resolved.forEach(({ w, systemKey }, i) => {
    const sys = SYSTEM_VIEWS.find((s) => s.key === systemKey);
    if (sys && (w.name !== sys.name || !sameFilters(w.filters, sys.filters))) {
      immutable.push({ path: `views.${i}`, message: `the ${sys.key} view's name and filters cannot change` });
    }
  });
  if (immutable.length) throw new ApiError("system_view_immutable", "System views cannot be renamed or refiltered.", immutable);

  const errors: FieldError[] = [];
  if (wanted.length > MAX_VIEWS) errors.push({ path: "views", message: `at most ${MAX_VIEWS} views, the system views included` });
  const names = new Map<string, number>();
  const seen = new Set<string>();
  resolved.forEach(({ w, owned, systemKey }, i) => {
    if (w.id && !owned) errors.push({ path: `views.${i}.id`, message: "no such view of yours" });
    if (w.id && owned && w.key && owned.key !== w.key) errors.push({ path: `views.${i}.key`, message: "does not match the view's id" });
    const identity = owned?.id ?? (systemKey ? `key:${systemKey}` : null);
    if (identity) {
      if (seen.has(identity)) errors.push({ path: `views.${i}`, message: "this view is listed twice" });
      seen.add(identity);
    }
    const folded = w.name.toLowerCase();
    if (names.has(folded)) errors.push({ path: `views.${i}.name`, message: `duplicate name (also views.${names.get(folded)})` });
    else names.set(folded, i);
  });
  if (errors.length) throw new ApiError("invalid_views", "The views cannot be saved as sent.", errors);

  const now = Date.now();
  // A custom view sent without id is new: it keeps no existing row (its systemKey is null, which must not match a custom row's key).
  const keepIds = resolved
    .map(({ owned, systemKey }) => owned?.id ?? (systemKey ? current.find((v) => v.key === systemKey)?.id : undefined))
    .filter((x): x is string => !!x);
  const statements = [];
  statements.push(
    keepIds.length ? db.delete(views).where(and(ofMember(orgId, userId), notInArray(views.id, keepIds))) : db.delete(views).where(ofMember(orgId, userId)),
  );
  resolved.forEach(({ w, owned, systemKey }, position) => {
    const existing = owned ?? (systemKey ? current.find((v) => v.key === systemKey) : undefined);
    if (existing) {
      statements.push(
        db
          .update(views)
          .set(existing.key ? { position, updatedAt: now } : { position, name: w.name, filters: w.filters, updatedAt: now })
          .where(and(ofMember(orgId, userId), eq(views.id, existing.id))),
      );
    } else {
      statements.push(
        db
          .insert(views)
          .values({ id: uuidv7(now + position), orgId, userId, key: null, name: w.name, position, filters: w.filters, createdAt: now, updatedAt: now }),
      );
    }
  });
  await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
  return memberViews(db, orgId, userId);
}
