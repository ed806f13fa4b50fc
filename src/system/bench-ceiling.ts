import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { activities, conversations, conversationTallies } from "../db/schema";
import { createRouter } from "../http/router";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { authenticate } from "../middleware/auth";
import { orgScope, requireRole } from "../middleware/org";

// The machine's raw write ceiling, for the bench only (issue 16): each item written as two
// bare rows, an activity-shaped row and a counter upsert, in batches of 250 statements
// pairs, with no read, no dedup and no aggregate. `npm run bench` starts its server with
// BENCH_CEILING=1; anywhere else the route answers 404. Not part of the API (not in the
// OpenAPI document): it writes rows no client asked for, into the bench's own thread.

const BATCH = 250;

export const benchCeilingRouter = createRouter().post("/bench/ceiling", authenticate, orgScope, requireRole("owner", "admin"), async (c) => {
  if (c.env.BENCH_CEILING !== "1") throw new ApiError("not_found", `No route for POST ${c.req.path}.`);
  const body = (await c.req.json()) as { conversation_id?: string; activities?: { body?: string; provider_message_id?: string }[] };
  const items = body.activities ?? [];
  if (!body.conversation_id || !Array.isArray(items) || items.length > 500) throw new ApiError("validation_failed", "conversation_id and 0-500 activities");
  const db = c.var.db;
  const orgId = c.get("orgId");
  const thread = await db
    .select({ contactId: conversations.contactId })
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), eq(conversations.id, body.conversation_id)))
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
          conversationId: body.conversation_id,
          contactId: thread.contactId,
          type: "sms",
          direction: "inbound",
          status: "received",
          body: item.body ?? null,
          provider: "bench",
          providerMessageId: item.provider_message_id ?? null,
          occurredAt: now,
          createdAt: now,
          updatedAt: now,
        }),
        db
          .insert(conversationTallies)
          .values({ orgId, archived: false, starred: false, unread: false, assignee: "bench-ceiling", n: 1 })
          .onConflictDoUpdate({
            target: [
              conversationTallies.orgId,
              conversationTallies.archived,
              conversationTallies.starred,
              conversationTallies.unread,
              conversationTallies.assignee,
            ],
            set: { n: sql`${conversationTallies.n} + 1` },
          }),
      );
    }
    await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  }
  return c.json({ stored: items.length }, 200);
});
