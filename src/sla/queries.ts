import { and, count, eq, isNotNull, lte } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversations } from "../db/schema";

/** Overdue conversations of the org (or of one assignee): a range on an SLA index. */
export function overdueCountQuery(db: Db, orgId: string, assignee: string | null, now: number) {
  const cv = conversations;
  return db
    .select({ n: count() })
    .from(cv)
    .where(and(eq(cv.orgId, orgId), assignee ? eq(cv.assignedTo, assignee) : undefined, eq(cv.archived, false), isNotNull(cv.slaDueAt), lte(cv.slaDueAt, now)));
}
