import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";

// A drizzle handle on one D1 database. Which database (the control one or an org's
// shard) is src/db/shards.ts's business: it is the only module that names a binding.

const handles = new WeakMap<D1Database, ReturnType<typeof drizzle>>();

/** The drizzle handle of a D1 binding (one per binding object). */
export function wrap(d1: D1Database) {
  const known = handles.get(d1);
  if (known) return known;
  const handle = drizzle(d1);
  handles.set(d1, handle);
  return handle;
}

export type Db = ReturnType<typeof wrap>;

/**
 * A source of exactly one row, for a SELECT made of scalar subqueries: a builder (which a
 * D1 batch accepts, raw SQL it does not) needs a FROM, and a shard has no org row to
 * anchor on (orgs are in the control database).
 */
export const oneRow = () => sql`(SELECT 1)`;
