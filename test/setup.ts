import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shardBindings } from "./helpers";

// Storage is isolated per test file; migrations are applied once per file: the control
// set to DB, the shard set to every shard of SHARDS (as scripts/migrate.mjs does).
await applyD1Migrations(env.DB, env.TEST_CONTROL_MIGRATIONS);
for (const shard of shardBindings()) await applyD1Migrations(shard, env.TEST_SHARD_MIGRATIONS, "d1_migrations_shard");
