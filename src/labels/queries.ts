import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversationLabels as cl, conversations, type Label, labels } from "../db/schema";
import { inChunks } from "../lib/schemas";
import { iso } from "../lib/time";

// Labels as read (SPEC 17): the label's REST shape, and the labels of many conversations
// at once (one query per page of conversations, never one per conversation).

export const toLabel = (l: Label) => ({ id: l.id, name: l.name, color: l.color, created_at: iso(l.createdAt), updated_at: iso(l.updatedAt) });

/** Labels one conversation may have (the PUT's `label_ids`; add_labels in bulk). */
export const MAX_CONVERSATION_LABELS = 20;

/** A label as a conversation shows it. */
export type LabelRef = { id: string; name: string; color: string | null };

/** A name as compared: "Urgent" and "URGENT" are one name. */
export const labelKey = (name: string) => name.normalize("NFC").toLowerCase();

/** The labels of up to ID_CHUNK conversations, by conversation then name key. */
export const labelsOfQuery = (db: Db, orgId: string, conversationIds: string[]) =>
  db
    .select({ conversationId: cl.conversationId, id: labels.id, name: labels.name, color: labels.color, key: labels.nameKey })
    .from(cl)
    .innerJoin(labels, eq(labels.id, cl.labelId))
    // Unary + keeps the planner on the links' primary key (conversation_id first): the org's
    // index would read every link of the org.
    .where(and(inArray(cl.conversationId, conversationIds), sql`+${cl.orgId} = ${orgId}`))
    .orderBy(asc(cl.conversationId), asc(labels.nameKey));

/**
 * The labels of the outer query's `conversations` row as a JSON array of LabelRef, by name
 * key (labelsOfQuery's order): a correlated subquery for a page's select list, so the
 * page and its labels are one statement. `+` as in labelsOfQuery: the links' primary key.
 */
export const labelsJson = (orgId: unknown) => sql<string>`(
  SELECT json_group_array(json_object('id', lb.id, 'name', lb.name, 'color', lb.color) ORDER BY lb.name_key)
  FROM conversation_labels AS cl JOIN labels AS lb ON lb.id = cl.label_id
  WHERE cl.conversation_id = ${conversations}.id AND +cl.org_id = ${orgId})`;

/** Each conversation's labels, by name (case-insensitive); a conversation without any is absent from the map. */
export async function labelsOf(db: Db, orgId: string, conversationIds: readonly string[]): Promise<Map<string, LabelRef[]>> {
  const map = new Map<string, LabelRef[]>();
  if (!conversationIds.length) return map;
  const rows = await inChunks(conversationIds, (slice) => labelsOfQuery(db, orgId, slice).all());
  // Chunks may interleave one conversation's rows only if it were in two chunks: it is not (ids are unique).
  for (const r of rows) {
    const list = map.get(r.conversationId) ?? [];
    list.push({ id: r.id, name: r.name, color: r.color });
    map.set(r.conversationId, list);
  }
  return map;
}

/** The org's labels among `ids` (lowercased). */
export const ownLabels = (db: Db, orgId: string, ids: readonly string[]) =>
  ids.length
    ? inChunks(ids, (slice) =>
        db
          .select()
          .from(labels)
          .where(and(eq(labels.orgId, orgId), inArray(labels.id, slice)))
          .all(),
      )
    : Promise.resolve([] as Label[]);
