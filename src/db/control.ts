import { sql } from "drizzle-orm";
import { index, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { created, ms, updated } from "./columns";
import { CHANNEL_KINDS, MOVE_STATUSES, ROLES } from "./enums";

// The control database (binding DB): who the orgs are, where each one lives, who
// belongs to it, and which org an address routes to. Everything else of an org is in
// its shard (src/db/shard.ts). Its migrations (migrations/control/) are written by hand:
// they must match this file, and they never drop a table (see docs/decisions.md).

export const orgs = sqliteTable(
  "orgs",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    createdAt: created(),
    // The shard binding (a name in SHARDS) that holds everything else of the org, resolved
    // only by src/db/shards.ts. The column's SQL default ('SHARD_0', migrations/control/
    // 0002_shards.sql) placed the orgs of a single-database deployment; code always names it.
    shard: text("shard").notNull(),
  },
  // A new org goes to the open shard with the fewest orgs: one GROUP BY on this index.
  (t) => [index("orgs_shard_idx").on(t.shard)],
);

export const members = sqliteTable(
  "members",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    userId: text("user_id").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    name: text("name"),
    email: text("email"),
    createdAt: created(),
    updatedAt: updated(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("members_user_idx").on(t.userId), index("members_org_role_idx").on(t.orgId, t.role)],
);

// Every channel's address, unique across all orgs: the claim a channel makes before its
// row is written into the org's shard, and how provider webhooks find the org.
export const channelRoutes = sqliteTable(
  "channel_routes",
  {
    kind: text("kind", { enum: CHANNEL_KINDS }).notNull(),
    // E.164 for sms, lowercased for email (as the channel's own row).
    address: text("address").notNull(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    channelId: text("channel_id").notNull(),
    createdAt: created(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.address] }), index("channel_routes_org_idx").on(t.orgId, t.channelId)],
);

// Moving an org to another shard (SPEC 14: POST /operator/orgs/{org_id}/move). Written by
// the POST (the row) and by the org's OrgInbox (progress, outcome, cleanup). `finished_at`
// stays NULL while the move holds anything of the org (copying, verifying, or done with
// the old rows not yet deleted): one such move per org (a partial unique index).
export const orgMoves = sqliteTable(
  "org_moves",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => orgs.id),
    fromShard: text("from_shard").notNull(),
    toShard: text("to_shard").notNull(),
    status: text("status", { enum: MOVE_STATUSES }).notNull(),
    // { table: { copied, total } }, as the copy goes.
    tables: text("tables", { mode: "json" }).$type<Record<string, { copied: number; total: number }>>().notNull(),
    error: text("error"),
    createdAt: created(),
    updatedAt: updated(),
    // When the org's rows began answering from the new shard (the flip).
    switchedAt: ms("switched_at"),
    // When the old shard's rows were deleted (done) or the partial copy was (failed).
    finishedAt: ms("finished_at"),
  },
  (t) => [uniqueIndex("org_moves_open_uq").on(t.orgId).where(sql`${t.finishedAt} IS NULL`), index("org_moves_org_idx").on(t.orgId, t.createdAt)],
);

export type OrgMove = typeof orgMoves.$inferSelect;
