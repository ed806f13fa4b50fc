import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { setterConfigs, trainingPairs } from "../db/schema";

export const setterConfigOf = (db: Db, orgId: string) => db.select().from(setterConfigs).where(eq(setterConfigs.orgId, orgId)).get();

/** Newest first, keyset on (created_at, id); one more row than asked tells whether a next page exists. */
export function pairsPage(db: Db, orgId: string, filter: SQL | undefined, after: [number, string] | null, limit: number) {
  const t = trainingPairs;
  const keyset = after ? or(lt(t.createdAt, after[0]), and(eq(t.createdAt, after[0]), lt(t.id, after[1]))) : undefined;
  return db
    .select()
    .from(t)
    .where(and(eq(t.orgId, orgId), filter, keyset))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(limit + 1)
    .all();
}
