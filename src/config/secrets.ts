import type { Bindings } from "../env";
import { ApiError } from "../lib/errors";
import { type ConfigProblem, reportConfigProblem } from "./problems";

// Secrets fail closed: a route whose secret is missing (or, for our own HMAC keys,
// shorter than 32 bytes) refuses with 503 `not_configured` instead of signing or
// checking with an empty or guessable key. /health lists every such problem.

/** The least length of a key we sign with ourselves (HS256 tokens, media links): 256 bits. */
export const MIN_SECRET_BYTES = 32;

/** A secret that refuses (this file) or a setting whose value was not used (src/config/settings.ts). */
export type { ConfigProblem };

/** UTF-8 bytes of `s`; a string of at least `atLeast` UTF-16 units has at least as many bytes, and is not encoded (checked each request). */
const bytesAtLeast = (s: string, atLeast: number) => s.length >= atLeast || new TextEncoder().encode(s).byteLength >= atLeast;

function hmacKeyProblem(name: string, value: string | undefined, effect: string): ConfigProblem | null {
  if (!value) return { setting: name, issue: "missing", effect };
  if (!bytesAtLeast(value, MIN_SECRET_BYTES)) return { setting: name, issue: "too_short", effect };
  return null;
}

const report = (problem: ConfigProblem) =>
  reportConfigProblem(problem, problem.issue === "too_short" ? `use at least ${MIN_SECRET_BYTES} random bytes` : "set it with `wrangler secret put`");

const notConfigured = (problem: ConfigProblem) => {
  report(problem);
  return new ApiError("not_configured", `This server is not configured for this route (${problem.setting}); its operator has been told.`);
};

export type AuthConfig = { kind: "hs256"; secret: string } | { kind: "jwks"; url: string };

/** SPEC 2: HS256 with AUTH_JWT_SECRET when set, else RS256/ES256 from AUTH_JWKS_URL; neither, or a weak secret, is a problem. */
function authConfig(env: Bindings): AuthConfig | ConfigProblem {
  const effect = "every bearer-token route answers 503";
  if (env.AUTH_JWT_SECRET) return hmacKeyProblem("AUTH_JWT_SECRET", env.AUTH_JWT_SECRET, effect) ?? { kind: "hs256", secret: env.AUTH_JWT_SECRET };
  if (env.AUTH_JWKS_URL) {
    let url: URL | null = null;
    try {
      url = new URL(env.AUTH_JWKS_URL);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) return { setting: "AUTH_JWKS_URL", issue: "invalid", effect };
    return { kind: "jwks", url: env.AUTH_JWKS_URL };
  }
  return { setting: "AUTH_JWT_SECRET", issue: "missing", effect: `${effect} (set AUTH_JWT_SECRET or AUTH_JWKS_URL)` };
}

const mediaProblem = (env: Pick<Bindings, "MEDIA_URL_SECRET">) =>
  hmacKeyProblem("MEDIA_URL_SECRET", env.MEDIA_URL_SECRET, "media links are not signed (url: null) and GET /media/{id} answers 503");

const twilioProblem = (env: Bindings): ConfigProblem | null =>
  env.TWILIO_AUTH_TOKEN ? null : { setting: "TWILIO_AUTH_TOKEN", issue: "missing", effect: "Twilio webhooks answer 503" };

const postmarkProblems = (env: Bindings): ConfigProblem[] =>
  (["POSTMARK_WEBHOOK_USER", "POSTMARK_WEBHOOK_PASSWORD"] as const)
    .filter((name) => !env[name])
    .map((name) => ({ setting: name, issue: "missing" as const, effect: "Postmark webhooks answer 503" }));

const operatorProblem = (env: Pick<Bindings, "OPERATOR_TOKEN">) =>
  hmacKeyProblem("OPERATOR_TOKEN", env.OPERATOR_TOKEN, "the operator routes (/operator/…, SPEC 14) answer 404");

/**
 * A short operator token is a problem /health lists; a missing one is not: the operator
 * routes are off by choice on a deployment that sets none (they answer 404, SPEC 14).
 */
const shortOperatorToken = (env: Pick<Bindings, "OPERATOR_TOKEN">) => {
  const problem = operatorProblem(env);
  return problem?.issue === "too_short" ? problem : null;
};

/**
 * The operator's bearer token (SPEC 14), or null when it is missing or under 32 bytes:
 * the operator routes then answer 404, as if they did not exist (logged once).
 */
export function operatorToken(env: Pick<Bindings, "OPERATOR_TOKEN">): string | null {
  const problem = operatorProblem(env);
  if (problem) {
    report(problem);
    return null;
  }
  return env.OPERATOR_TOKEN!;
}

/** Every secret a route depends on that is missing, short or malformed (GET /health). */
export function configProblems(env: Bindings): ConfigProblem[] {
  const auth = authConfig(env);
  const problems = ["setting" in auth ? auth : null, mediaProblem(env), twilioProblem(env), ...postmarkProblems(env), shortOperatorToken(env)].filter(
    (p): p is ConfigProblem => p !== null,
  );
  problems.forEach(report);
  return problems;
}

/** The verified-token setup, or 503 `not_configured`. */
export function requireAuthConfig(env: Bindings): AuthConfig {
  const auth = authConfig(env);
  if ("setting" in auth) throw notConfigured(auth);
  return auth;
}

/** The media-link key, or null (nothing is signed and no link is accepted); the problem is logged once. */
export function mediaSecret(env: Pick<Bindings, "MEDIA_URL_SECRET">): string | null {
  const problem = mediaProblem(env);
  if (problem) {
    report(problem);
    return null;
  }
  return env.MEDIA_URL_SECRET!;
}

export function requireMediaSecret(env: Bindings): string {
  const problem = mediaProblem(env);
  if (problem) throw notConfigured(problem);
  return env.MEDIA_URL_SECRET!;
}

export function requireTwilioAuthToken(env: Bindings): string {
  const problem = twilioProblem(env);
  if (problem) throw notConfigured(problem);
  return env.TWILIO_AUTH_TOKEN!;
}

export function requirePostmarkWebhookAuth(env: Bindings): { user: string; password: string } {
  const [problem] = postmarkProblems(env);
  if (problem) throw notConfigured(problem);
  return { user: env.POSTMARK_WEBHOOK_USER!, password: env.POSTMARK_WEBHOOK_PASSWORD! };
}
