import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { activities, conversations, conversationTallies as t } from "../db/schema";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";

// The machine's raw write ceiling, for the bench only (issue 16; the route is
// src/system/bench-ceiling.ts): each item written as two bare rows, an activity-shaped
// row in the bench's thread and a counter upsert, in batches of 250 items, with no read,
// no dedup and no aggregate. In OrgInbox, like the group commit it is measured against.

const BATCH = 250;

export async function benchCeiling(db: Db, orgId: string, conversationId: string, items: { body?: string | null }[]) {
  const thread = await db
    .select({ contactId: conversations.contactId })
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId)))
    .get();
  if (!thread) throw new ApiError("not_found", "No such conversation.");
  const now = Date.now();
  for (let i = 0; i < items.length; i += BATCH) {
    const statements: BatchItem<"sqlite">[] = [];
    for (const item of items.slice(i, i + BATCH)) {
      statements.push(
        db.insert(activities).values({
          id: uuidv7(now),
          orgId,
          conversationId,
          contactId: thread.contactId,
          type: "sms",
          direction: "inbound",
          status: "received",
          body: item.body ?? null,
          provider: "bench",
          occurredAt: now,
          createdAt: now,
          updatedAt: now,
        }),
        db
          .insert(t)
          .values({ orgId, archived: false, starred: false, unread: false, assignee: "bench-ceiling", n: 1 })
          .onConflictDoUpdate({ target: [t.orgId, t.archived, t.starred, t.unread, t.assignee], set: { n: sql`${t.n} + 1` } }),
      );
    }
    await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  }
  return items.length;
}
