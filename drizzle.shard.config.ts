import { defineConfig } from "drizzle-kit";

// The shard schema's migrations (`npm run db:generate`): drizzle-kit 0.31 writes flat
// NNNN_name.sql files into migrations/shard/, the layout wrangler's `d1 migrations apply`
// and the vitest setup read, for every SHARD_n binding. After generating, turn each
// CREATE TABLE / CREATE INDEX into … IF NOT EXISTS (see docs/decisions.md: a database
// that was a single-database deployment's DB is bound as SHARD_0 and already has them).
// The control database's migrations (migrations/control/) are written by hand.
export default defineConfig({
  dialect: "sqlite",
  schema: ["./src/db/shard.ts", "./src/db/unroutable.ts"],
  out: "./migrations/shard",
});
