import { sql } from "drizzle-orm";
import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { ms } from "./columns";

// In both kinds of database: an event whose org is known is kept in that org's shard
// (GET /webhooks/unroutable lists it); one whose org is unknown (an address no org
// has, a payload we cannot read, an early call callback waiting for its CallSid) in the
// control database, for the operator. One table object serves both: drizzle tables are
// not bound to a database.

export const unroutableEvents = sqliteTable(
  "unroutable_events",
  {
    id: text("id").primaryKey(),
    // NULL when no org owns the address; those stay for the operator.
    orgId: text("org_id"),
    provider: text("provider").notNull(),
    reason: text("reason").notNull(),
    // For early call callbacks: the CallSid they wait for.
    waitingFor: text("waiting_for"),
    payload: text("payload", { mode: "json" }).$type<unknown>().notNull(),
    receivedAt: ms("received_at").notNull(),
    resolvedAt: ms("resolved_at"),
  },
  (t) => [
    index("unroutable_org_idx").on(t.orgId, t.receivedAt, t.id),
    index("unroutable_waiting_idx").on(t.provider, t.waitingFor).where(sql`${t.waitingFor} IS NOT NULL`),
  ],
);
