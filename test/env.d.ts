import type { D1Migration } from "cloudflare:test";
import type { Secrets } from "../src/env";

// `env` from cloudflare:workers is the generated Env (src/worker-configuration.d.ts, which
// also names the main module), plus the secrets and what vitest.config.ts binds for tests.
declare global {
  namespace Cloudflare {
    interface Env extends Secrets {
      TEST_CONTROL_MIGRATIONS: D1Migration[];
      TEST_SHARD_MIGRATIONS: D1Migration[];
    }
  }
}
