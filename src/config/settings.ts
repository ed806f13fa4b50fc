import { isSupportedCountry } from "libphonenumber-js";
import { z } from "zod";
import { type ConfigProblem, reportConfigProblem } from "./problems";

// Every setting the Worker reads from its environment (wrangler.toml [vars], secrets,
// .dev.vars), parsed once per env object with zod: a default for each, a range for each
// number. Unset or empty means the default. A value that does not parse, or is out of
// range, is not used: the default is, the setting is logged once per isolate and listed
// in GET /health's problems. Code reads `settings(env).x`, never `env.X`.
// The secrets' fail-closed rules (503 not_configured) are src/config/secrets.ts.

const MiB = 1024 * 1024;

export type Settings = {
  /** Where this API is reached; null: media links are relative, Twilio signatures are checked against the request's own URL. No trailing slash. */
  publicBaseUrl: string | null;
  /** Region for phone numbers written without a country code (ISO 3166 alpha-2). */
  defaultPhoneRegion: string;
  /** The largest media upload (bytes). */
  mediaMaxBytes: number;
  /** API calls per org a minute, across isolates (0: no limit). */
  rateLimitPerMinute: number;
  /** Sends per member a minute (0: no limit). */
  sendLimitPerMinute: number;
  /** An OpenAI-compatible endpoint for the setter; wins over the AI binding. */
  llmBaseUrl: string | null;
  llmApiKey: string | null;
  llmModel: string;
  /** The Workers AI model, when the AI binding is used. */
  aiModel: string;
  /** How long one LLM call may take (ms). */
  llmTimeoutMs: number;
  /** Extra JWT checks, on top of the key (src/config/secrets.ts). */
  authIssuer: string | null;
  authAudience: string | null;
  twilioAccountSid: string | null;
  twilioAuthToken: string | null;
  /** No trailing slash. */
  twilioApiBase: string;
  postmarkServerToken: string | null;
  /** No trailing slash. */
  postmarkApiBase: string;
  /**
   * The shard bindings, in order (SHARDS, e.g. "SHARD_0,SHARD_1"). Which of them are bound
   * is checked by src/db/shards.ts, the only reader of these two.
   */
  shards: readonly string[];
  /** The shards that take new orgs (OPEN_SHARDS); null: all of them. */
  openShards: readonly string[] | null;
  /** Outgoing webhooks may go to http:// and to private, loopback and link-local hosts (local dev and tests only). */
  allowPrivateWebhookUrls: boolean;
  /** How long one webhook delivery attempt may take before it counts as failed (ms; SPEC 18: 15 s). */
  webhookTimeoutMs: number;
};

type Spec<T> = {
  setting: string;
  schema: z.ZodType<NonNullable<T>>;
  fallback: T;
  /** What a bad value leaves in force (the /health `effect` and the log line). */
  effect: string;
  /** What a good value looks like (the log line's hint). */
  expect: string;
};

const httpUrl = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "https:" || u.protocol === "http:";
    } catch {
      return false;
    }
  })
  .transform((s) => s.replace(/\/$/, ""));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const text = z.string();
/** A comma-separated list of binding names (SHARD_0, SHARD_1, …): at least one, none twice. */
const bindingNames = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[A-Z][A-Z0-9_]*$/))
      .min(1)
      .refine((names) => new Set(names).size === names.length),
  );
const region = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .refine((s) => isSupportedCountry(s));

export const DEFAULT_AI_MODEL = "@cf/meta/llama-3.1-8b-instruct";

const SPECS: { [K in keyof Settings]: Spec<Settings[K]> } = {
  publicBaseUrl: {
    setting: "PUBLIC_BASE_URL",
    schema: httpUrl,
    fallback: null,
    effect: "ignored: media links are relative and Twilio signatures are checked against the request's own URL",
    expect: "an http(s) URL such as https://inbox.example.com",
  },
  defaultPhoneRegion: {
    setting: "DEFAULT_PHONE_REGION",
    schema: region,
    fallback: "US",
    effect: "phone numbers without a country code are read as US numbers",
    expect: "a two-letter region code such as US or GB",
  },
  mediaMaxBytes: {
    setting: "MEDIA_MAX_BYTES",
    schema: int(1, 100 * MiB),
    fallback: 25 * MiB,
    effect: "media uploads are limited to 25 MiB (26214400 bytes)",
    expect: `a whole number of bytes from 1 to ${100 * MiB} (100 MiB)`,
  },
  rateLimitPerMinute: {
    setting: "RATE_LIMIT_PER_MINUTE",
    schema: int(0, 1_000_000),
    fallback: 600,
    effect: "each org may make 600 API calls a minute",
    expect: "a whole number from 0 (no limit) to 1000000",
  },
  sendLimitPerMinute: {
    setting: "SEND_LIMIT_PER_MINUTE",
    schema: int(0, 10_000),
    fallback: 60,
    effect: "each member may send 60 messages a minute",
    expect: "a whole number from 0 (no limit) to 10000",
  },
  llmBaseUrl: {
    setting: "LLM_BASE_URL",
    schema: httpUrl,
    fallback: null,
    effect: "ignored: the setter uses Workers AI when bound, else writes no drafts",
    expect: "an http(s) URL such as https://api.openai.com/v1",
  },
  llmApiKey: { setting: "LLM_API_KEY", schema: text, fallback: null, effect: "", expect: "" },
  llmModel: { setting: "LLM_MODEL", schema: text, fallback: "gpt-4o-mini", effect: "", expect: "" },
  aiModel: { setting: "AI_MODEL", schema: text, fallback: DEFAULT_AI_MODEL, effect: "", expect: "" },
  llmTimeoutMs: {
    setting: "LLM_TIMEOUT_MS",
    schema: int(100, 300_000),
    fallback: 20_000,
    effect: "an LLM call may take 20 s",
    expect: "a whole number of milliseconds from 100 to 300000",
  },
  authIssuer: { setting: "AUTH_ISSUER", schema: text, fallback: null, effect: "", expect: "" },
  authAudience: { setting: "AUTH_AUDIENCE", schema: text, fallback: null, effect: "", expect: "" },
  twilioAccountSid: { setting: "TWILIO_ACCOUNT_SID", schema: text, fallback: null, effect: "", expect: "" },
  twilioAuthToken: { setting: "TWILIO_AUTH_TOKEN", schema: text, fallback: null, effect: "", expect: "" },
  twilioApiBase: {
    setting: "TWILIO_API_BASE",
    schema: httpUrl,
    fallback: "https://api.twilio.com",
    effect: "Twilio is called at https://api.twilio.com",
    expect: "an http(s) URL",
  },
  postmarkServerToken: { setting: "POSTMARK_SERVER_TOKEN", schema: text, fallback: null, effect: "", expect: "" },
  postmarkApiBase: {
    setting: "POSTMARK_API_BASE",
    schema: httpUrl,
    fallback: "https://api.postmarkapp.com",
    effect: "Postmark is called at https://api.postmarkapp.com",
    expect: "an http(s) URL",
  },
  shards: {
    setting: "SHARDS",
    schema: bindingNames,
    fallback: ["SHARD_0"],
    effect: "SHARD_0 is the only shard: orgs on any other answer 503",
    expect: "D1 binding names separated by commas, such as SHARD_0,SHARD_1",
  },
  openShards: {
    setting: "OPEN_SHARDS",
    schema: bindingNames,
    fallback: null,
    effect: "every shard in SHARDS takes new orgs",
    expect: "names from SHARDS separated by commas, such as SHARD_1",
  },
  allowPrivateWebhookUrls: {
    setting: "ALLOW_PRIVATE_WEBHOOK_URLS",
    schema: z.enum(["true", "false"]).transform((v) => v === "true"),
    fallback: false,
    effect: "webhook endpoints must be https:// on public hosts",
    expect: "true or false",
  },
  webhookTimeoutMs: {
    setting: "WEBHOOK_TIMEOUT_MS",
    schema: int(100, 60_000),
    fallback: 15_000,
    effect: "a webhook delivery attempt may take 15 s",
    expect: "a whole number of milliseconds from 100 to 60000",
  },
};

/** The Worker's env, or any object with some of its names (a test's env). */
export type SettingsSource = object;

type Parsed = { settings: Readonly<Settings>; problems: ConfigProblem[] };

// Parsed once per env object: the Worker's env is one object for the isolate's life,
// and a test that passes another env gets that env's settings.
const parsedByEnv = new WeakMap<object, Parsed>();

function parse(env: SettingsSource): Parsed {
  const settings: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, spec] of Object.entries(SPECS) as [keyof Settings, Spec<unknown>][]) {
    const raw = (env as Record<string, unknown>)[spec.setting];
    if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) {
      settings[key] = spec.fallback;
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (result.success) {
      settings[key] = result.data;
      continue;
    }
    settings[key] = spec.fallback;
    const range = result.error.issues.some((i) => i.code === "too_small" || i.code === "too_big");
    const problem: ConfigProblem = { setting: spec.setting, issue: range ? "out_of_range" : "invalid", effect: spec.effect || "ignored" };
    problems.push(problem);
    reportConfigProblem(problem, `use ${spec.expect || "a string"}`);
  }
  return { settings: Object.freeze(settings as Settings), problems };
}

function parsed(env: SettingsSource): Parsed {
  const known = parsedByEnv.get(env);
  if (known) return known;
  const fresh = parse(env);
  parsedByEnv.set(env, fresh);
  return fresh;
}

/** The settings of this env, parsed once (a bad value is its default; see settingsProblems). */
export const settings = (env: SettingsSource): Readonly<Settings> => parsed(env).settings;

/** Each setting whose value was not used, and what is in force instead (GET /health). */
export const settingsProblems = (env: SettingsSource): ConfigProblem[] => parsed(env).problems;
