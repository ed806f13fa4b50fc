// npm run db:generate [-- --name <name>]: a new migrations/shard/NNNN_name.sql from the shard
// schema (src/db/shard.ts, src/db/unroutable.ts; drizzle.shard.config.ts), with every
// CREATE TABLE / CREATE INDEX made IF NOT EXISTS: a single-database deployment upgrades
// by binding its one database as SHARD_0 too, where these tables already exist (see
// docs/decisions.md). Files that already say IF NOT EXISTS are left as they are, so a
// migration that has landed is never changed. The control database's migrations
// (migrations/control/) are written by hand.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DIR = "migrations/shard";
const r = spawnSync("npx", ["drizzle-kit", "generate", "--config", "drizzle.shard.config.ts", ...process.argv.slice(2)], { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);

for (const file of readdirSync(DIR).filter((f) => f.endsWith(".sql"))) {
  const path = join(DIR, file);
  const before = readFileSync(path, "utf8");
  const after = before.replace(/\bCREATE (TABLE|INDEX|UNIQUE INDEX) (?!IF NOT EXISTS)/g, "CREATE $1 IF NOT EXISTS ");
  if (after !== before) {
    writeFileSync(path, after);
    console.log(`${path}: CREATE … IF NOT EXISTS`);
  }
}
