import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The real Worker (wrangler.toml bindings: the control DB and two shards) in workerd; the
// same migrations wrangler applies in dev are read once here and applied by test/setup.ts.
export default defineConfig(async () => {
  const controlMigrations = await readD1Migrations("./migrations/control");
  const shardMigrations = await readD1Migrations("./migrations/shard");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_CONTROL_MIGRATIONS: controlMigrations,
            TEST_SHARD_MIGRATIONS: shardMigrations,
            AUTH_JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789",
            MEDIA_URL_SECRET: "test-media-secret-0123456789abcdef",
            PUBLIC_BASE_URL: "https://inbox.test",
            OPERATOR_TOKEN: "test-operator-token-0123456789abcdef",
            ALLOW_PRIVATE_WEBHOOK_URLS: "true",
            // Providers are faked at the HTTP boundary (tests spy on fetch for these hosts).
            TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000000",
            TWILIO_AUTH_TOKEN: "twilio-test-token",
            TWILIO_API_BASE: "https://twilio.fake",
            POSTMARK_SERVER_TOKEN: "postmark-test-token",
            POSTMARK_API_BASE: "https://postmark.fake",
            POSTMARK_WEBHOOK_USER: "postmark-hook",
            POSTMARK_WEBHOOK_PASSWORD: "hook-secret",
            // The setter's LLM, faked the same way (test/setter.test.ts answers llm.fake).
            LLM_BASE_URL: "https://llm.fake/v1",
            LLM_API_KEY: "llm-test-key",
            LLM_MODEL: "fake-model",
            LLM_TIMEOUT_MS: "3000",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/setup.ts"],
      // Request logs are one JSON line each; keep test output to warnings and errors.
      onConsoleLog: (_log: string, type: "stdout" | "stderr") => type === "stderr",
    },
  };
});
