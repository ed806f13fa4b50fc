// Applies every D1 database's migrations: the control set (migrations/control/) to DB and
// the shard set (migrations/shard/) to every SHARD_n, as wrangler.toml binds them (each
// binding names its migrations_dir and migrations_table; this loops over them).
//
//   node scripts/migrate.mjs --local [--persist-to <dir>]   (npm run db:migrate:local -- --persist-to <dir>)
//   node scripts/migrate.mjs --remote                       (npm run deploy runs it before wrangler deploy)
//
// Any other argument is handed to each `wrangler d1 migrations apply`.
import { spawnSync } from "node:child_process";
import { d1Bindings } from "./lib.mjs";

const args = process.argv.slice(2);
if (!args.includes("--local") && !args.includes("--remote")) {
  console.error("usage: node scripts/migrate.mjs --local [--persist-to <dir>] | --remote");
  process.exit(2);
}
// Offline and unattended: no telemetry, no confirmation prompt.
const env = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env, CI: "true" };
const bindings = d1Bindings();
if (!bindings.length) {
  console.error("wrangler.toml binds no D1 database");
  process.exit(1);
}
for (const { binding, dir } of bindings) {
  console.log(`${binding} ← ${dir}`);
  const r = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", binding, ...args], { stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`migrations of ${binding} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}
