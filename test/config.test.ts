import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import { settings, settingsProblems } from "../src/config/settings";
import type { Bindings } from "../src/env";
import { orgInbox } from "../src/org-inbox/client";
import { BASE, expectProblem, json, newOrg, type TestOrg } from "./helpers";

// One validated config (src/config/settings.ts): each setting is parsed once per env
// object; a bad value is not used (its default is), is logged once per isolate, and is
// listed in GET /health. The real Worker answers here, with the env varied per request.

afterEach(() => vi.restoreAllMocks());

const fetchWith = (e: Record<string, unknown>, path: string, init: RequestInit = {}) =>
  app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...e } as Bindings, createExecutionContext());

const health = async (e: Record<string, unknown>) => json(await fetchWith(e, "/health"));

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 1, 2, 3, 4]);

function upload(org: TestOrg, e: Record<string, unknown>, bytes: Uint8Array) {
  const fd = new FormData();
  fd.append("file", new File([bytes], "a.png", { type: "image/png" }));
  return fetchWith(e, "/conversations/media", { method: "POST", body: fd, headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } });
}

/**
 * The per-org limit the rate limiter applies under env `e`, read from its 429: the org's
 * ledger (OrgInbox) is told the window is already full, so the isolate's next report is
 * refused and the limiter answers "This org made N API calls this minute".
 */
async function rateLimitInForce(e: Record<string, unknown>): Promise<number> {
  const org = await newOrg();
  // Twice at most: a minute that rolls over between filling the window and asking starts an empty one.
  for (let attempt = 0; attempt < 2; attempt++) {
    await orgInbox(env, org.orgId).spendApi(Math.floor(Date.now() / 60_000) * 60_000, 10_000_000, 0, 1);
    for (let i = 0; i < 100; i++) {
      const res = await fetchWith(e, "/conversations?limit=1", { headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } });
      if (res.status === 429) {
        const problem = await expectProblem(res, 429, "rate_limited");
        return Number(/made (\d+) API calls/.exec(problem.detail)![1]);
      }
      expect(res.status).toBe(200);
    }
  }
  throw new Error("the org was never limited");
}

describe("settings", () => {
  it("the test env's settings are all valid: /health is ok", async () => {
    expect(settingsProblems(env)).toEqual([]);
    expect(await health({})).toEqual({ status: "ok", time: expect.any(String) });
  });

  it("are parsed once per env object; another env object gets its own", () => {
    const a = { ...env, RATE_LIMIT_PER_MINUTE: "42" };
    const b = { ...env, RATE_LIMIT_PER_MINUTE: "43" };
    expect(settings(a)).toBe(settings(a));
    expect(settings(a).rateLimitPerMinute).toBe(42);
    expect(settings(b).rateLimitPerMinute).toBe(43);
    expect(settings(env).rateLimitPerMinute).toBe(600); // wrangler.toml
  });

  it("unset or empty means the default", () => {
    const s = settings({});
    expect(s).toMatchObject({
      publicBaseUrl: null,
      defaultPhoneRegion: "US",
      mediaMaxBytes: 25 * 1024 * 1024,
      rateLimitPerMinute: 600,
      sendLimitPerMinute: 60,
      llmTimeoutMs: 20_000,
      llmBaseUrl: null,
      llmModel: "gpt-4o-mini",
      twilioApiBase: "https://api.twilio.com",
      postmarkApiBase: "https://api.postmarkapp.com",
    });
    expect(settings({ RATE_LIMIT_PER_MINUTE: "", SEND_LIMIT_PER_MINUTE: "  ", LLM_MODEL: "" })).toMatchObject({
      rateLimitPerMinute: 600,
      sendLimitPerMinute: 60,
      llmModel: "gpt-4o-mini",
    });
    expect(settingsProblems({ RATE_LIMIT_PER_MINUTE: "" })).toEqual([]);
  });

  it("good values are used as given: 0 turns a limit off, URLs lose a trailing slash, regions any case", () => {
    expect(
      settings({
        RATE_LIMIT_PER_MINUTE: "0",
        SEND_LIMIT_PER_MINUTE: " 5 ",
        PUBLIC_BASE_URL: "https://inbox.example.com/",
        DEFAULT_PHONE_REGION: "gb",
        LLM_TIMEOUT_MS: "1500",
      }),
    ).toMatchObject({ rateLimitPerMinute: 0, sendLimitPerMinute: 5, publicBaseUrl: "https://inbox.example.com", defaultPhoneRegion: "GB", llmTimeoutMs: 1500 });
  });

  it("SHARDS and OPEN_SHARDS are binding names separated by commas; a bad list is not used (SHARD_0 only; every shard open)", () => {
    expect(settings(env)).toMatchObject({ shards: ["SHARD_0", "SHARD_1"], openShards: null }); // wrangler.toml
    expect(settings({ SHARDS: " SHARD_0 , SHARD_1,SHARD_2 ", OPEN_SHARDS: "SHARD_2" })).toMatchObject({
      shards: ["SHARD_0", "SHARD_1", "SHARD_2"],
      openShards: ["SHARD_2"],
    });
    expect(settings({})).toMatchObject({ shards: ["SHARD_0"], openShards: null });
    for (const bad of ["shard-0", "SHARD_0,SHARD_0", "SHARD_0;SHARD_1"]) {
      expect(settings({ SHARDS: bad, OPEN_SHARDS: bad })).toMatchObject({ shards: ["SHARD_0"], openShards: null });
      expect(settingsProblems({ SHARDS: bad, OPEN_SHARDS: bad })).toEqual([
        { setting: "SHARDS", issue: "invalid", effect: "SHARD_0 is the only shard: orgs on any other answer 503" },
        { setting: "OPEN_SHARDS", issue: "invalid", effect: "every shard in SHARDS takes new orgs" },
      ]);
    }
  });

  it("a bad RATE_LIMIT_PER_MINUTE (abc, -5) is in /health's problems and the default, 600, is the limit", async () => {
    for (const [value, issue] of [
      ["abc", "invalid"],
      ["-5", "out_of_range"],
    ] as const) {
      const body = await health({ RATE_LIMIT_PER_MINUTE: value });
      expect(body.status).toBe("degraded");
      expect(body.problems).toEqual([{ setting: "RATE_LIMIT_PER_MINUTE", issue, effect: "each org may make 600 API calls a minute" }]);
      expect(await rateLimitInForce({ RATE_LIMIT_PER_MINUTE: value })).toBe(600);
    }
    // The same probe sees a good value.
    expect(await rateLimitInForce({ RATE_LIMIT_PER_MINUTE: "7" })).toBe(7);
  });

  it("numbers outside their range are out_of_range, not used: MEDIA_MAX_BYTES of 0 or over 100 MiB uploads up to 25 MiB", async () => {
    const org = await newOrg();
    for (const value of ["0", String(100 * 1024 * 1024 + 1), "1e12"]) {
      const body = await health({ MEDIA_MAX_BYTES: value });
      expect(body.problems).toEqual([{ setting: "MEDIA_MAX_BYTES", issue: "out_of_range", effect: "media uploads are limited to 25 MiB (26214400 bytes)" }]);
      expect((await upload(org, { MEDIA_MAX_BYTES: value }, PNG)).status).toBe(201);
    }
    // Just over the default is refused, naming it.
    const big = new Uint8Array(25 * 1024 * 1024 + 1);
    big.set(PNG);
    const refused = await expectProblem(await upload(org, { MEDIA_MAX_BYTES: "999999999999" }, big), 413, "payload_too_large");
    expect(refused.detail).toContain("26214400");
    expect((await health({ MEDIA_MAX_BYTES: "12.5" })).problems).toEqual([expect.objectContaining({ setting: "MEDIA_MAX_BYTES", issue: "invalid" })]);
  });

  it("every bad setting is listed, after the secrets' problems, each with what is in force instead", async () => {
    const body = await health({
      MEDIA_URL_SECRET: undefined,
      PUBLIC_BASE_URL: "inbox.example.com",
      DEFAULT_PHONE_REGION: "XX",
      SEND_LIMIT_PER_MINUTE: "lots",
      LLM_TIMEOUT_MS: "0",
      LLM_BASE_URL: "ftp://llm.example",
      TWILIO_API_BASE: "not a url",
      POSTMARK_API_BASE: "https://postmark.fake",
    });
    expect(body.status).toBe("degraded");
    expect(body.problems.map((p: any) => [p.setting, p.issue])).toEqual([
      ["MEDIA_URL_SECRET", "missing"],
      ["PUBLIC_BASE_URL", "invalid"],
      ["DEFAULT_PHONE_REGION", "invalid"],
      ["SEND_LIMIT_PER_MINUTE", "invalid"],
      ["LLM_BASE_URL", "invalid"],
      ["LLM_TIMEOUT_MS", "out_of_range"],
      ["TWILIO_API_BASE", "invalid"],
    ]);
    for (const p of body.problems) expect(p.effect).toEqual(expect.any(String));
  });

  it("a bad DEFAULT_PHONE_REGION reads numbers as US ones, as unset does", async () => {
    const org = await newOrg();
    const res = await fetchWith({ DEFAULT_PHONE_REGION: "Narnia" }, "/contacts", {
      method: "POST",
      body: JSON.stringify({ name: "Ann", phone: "(415) 555-0142" }),
      headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId, "content-type": "application/json" },
    });
    expect(res.status).toBe(201);
    expect((await json(res)).phone).toBe("+14155550142");
  });

  it("a bad value is logged once per isolate, naming the setting and what to use", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
    // A problem no other test in this file has, so this isolate has not logged it yet.
    const bad = { AI_MODEL: 42, SEND_LIMIT_PER_MINUTE: "99999999" };
    await fetchWith(bad, "/health");
    await fetchWith(bad, "/health");
    settings({ ...bad });
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "config_problem");
    expect(logged).toEqual([
      expect.objectContaining({
        level: "error",
        setting: "SEND_LIMIT_PER_MINUTE",
        issue: "out_of_range",
        hint: expect.stringContaining("0 (no limit) to 10000"),
      }),
      expect.objectContaining({ level: "error", setting: "AI_MODEL", issue: "invalid" }),
    ]);
  });
});
