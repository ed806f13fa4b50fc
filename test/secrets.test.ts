import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { deliver } from "../src/sending/queue";
import { BASE, expectProblem, json, newOrg, queuedMessage, shardOf, twilioSign } from "./helpers";

// Secrets fail closed: a missing or short secret never signs or accepts anything;
// the routes that need it answer 503 not_configured and /health names it.

afterEach(() => vi.restoreAllMocks());

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 1, 2, 3, 4]);
const SHORT = "only-31-bytes-long-secret-value"; // one byte under the floor
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

const fetchWith = (e: Partial<Bindings>, path: string, init: RequestInit = {}) =>
  app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...e } as Bindings, createExecutionContext());

/** A media link signed with `key`, computed from the documented scheme, not with the app's code. */
async function linkSignedWith(key: string, mediaId: string) {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `/media/${mediaId}?exp=${exp}&sig=${hex(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(`${mediaId}.${exp}`)))}`;
}

async function uploadPng(e: Partial<Bindings> = {}) {
  const org = await newOrg();
  const fd = new FormData();
  fd.append("file", new File([PNG], "a.png", { type: "image/png" }));
  const res = await fetchWith(e, "/conversations/media", {
    method: "POST",
    body: fd,
    headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId },
  });
  return { org, res };
}

describe("GET /health", () => {
  it("answers { status: ok, time } when every secret is usable", async () => {
    const res = await fetchWith({}, "/health");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Object.keys(body).sort()).toEqual(["status", "time"]);
    expect(body.status).toBe("ok");
  });

  it("answers 200 degraded and names every missing or short secret", async () => {
    const res = await fetchWith(
      { AUTH_JWT_SECRET: SHORT, MEDIA_URL_SECRET: undefined, TWILIO_AUTH_TOKEN: undefined, POSTMARK_WEBHOOK_USER: "", POSTMARK_WEBHOOK_PASSWORD: undefined },
      "/health",
    );
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.status).toBe("degraded");
    expect(body.problems.map((p: any) => [p.setting, p.issue])).toEqual([
      ["AUTH_JWT_SECRET", "too_short"],
      ["MEDIA_URL_SECRET", "missing"],
      ["TWILIO_AUTH_TOKEN", "missing"],
      ["POSTMARK_WEBHOOK_USER", "missing"],
      ["POSTMARK_WEBHOOK_PASSWORD", "missing"],
    ]);
    for (const p of body.problems) expect(p.effect).toEqual(expect.any(String));
  });

  it("measures a secret's length in UTF-8 bytes: 16 two-byte characters are enough, 31 ASCII ones are not", async () => {
    const problems = async (secret: string) => (await json(await fetchWith({ AUTH_JWT_SECRET: secret }, "/health"))).problems ?? [];
    expect(await problems("é".repeat(16))).toEqual([]);
    expect((await problems("é".repeat(15))).map((p: any) => [p.setting, p.issue])).toEqual([["AUTH_JWT_SECRET", "too_short"]]);
    expect((await problems("x".repeat(31))).map((p: any) => [p.setting, p.issue])).toEqual([["AUTH_JWT_SECRET", "too_short"]]);
  });

  it("logs each problem once per isolate, naming the setting", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
    // A problem no other test in this file has, so this isolate has not logged it yet.
    const bad = { AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: "not a url" };
    expect((await json(await fetchWith(bad, "/health"))).problems).toEqual([expect.objectContaining({ setting: "AUTH_JWKS_URL", issue: "invalid" })]);
    await fetchWith(bad, "/health");
    await fetchWith(bad, "/members");
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "config_problem");
    expect(logged).toEqual([expect.objectContaining({ level: "error", setting: "AUTH_JWKS_URL", issue: "invalid" })]);
  });
});

describe("bearer tokens", () => {
  it("a short AUTH_JWT_SECRET verifies nothing: 503 not_configured even for a token signed with it", async () => {
    const org = await newOrg();
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(org.owner.userId)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(SHORT));
    const res = await fetchWith({ AUTH_JWT_SECRET: SHORT }, "/members", { headers: { authorization: `Bearer ${forged}`, "x-org-id": org.orgId } });
    await expectProblem(res, 503, "not_configured");
  });

  it("with neither AUTH_JWT_SECRET nor AUTH_JWKS_URL every bearer route answers 503, with a token or without", async () => {
    const org = await newOrg();
    const none = { AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: undefined };
    await expectProblem(
      await fetchWith(none, "/members", { headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } }),
      503,
      "not_configured",
    );
    await expectProblem(await fetchWith(none, "/members", { headers: { "x-org-id": org.orgId } }), 503, "not_configured");
    await expectProblem(await fetchWith(none, "/orgs", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), 503, "not_configured");
  });

  it("a secret of exactly 32 bytes is enough", async () => {
    const key = "k".repeat(32);
    const org = await newOrg();
    // The org's owner, but with a token from the 32-byte key.
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(org.owner.userId)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(key));
    expect((await fetchWith({ AUTH_JWT_SECRET: key }, "/members", { headers: { authorization: `Bearer ${t}`, "x-org-id": org.orgId } })).status).toBe(200);
  });
});

describe("signed media links", () => {
  it("MEDIA_URL_SECRET unset: uploads still work, with url: null, and no link is accepted (503)", async () => {
    const { org, res } = await uploadPng({ MEDIA_URL_SECRET: undefined });
    expect(res.status).toBe(201);
    const m = await json(res);
    expect(m.url).toBeNull();
    expect(await env.MEDIA.get(`orgs/${org.orgId}/media/${m.id}`)).not.toBeNull();
    // Any link, well-formed or not, is refused as unservable (workerd cannot even import an empty HMAC key).
    const exp = Math.floor(Date.now() / 1000) + 3600;
    for (const secret of [undefined, ""]) {
      await expectProblem(await fetchWith({ MEDIA_URL_SECRET: secret }, `/media/${m.id}?exp=${exp}&sig=${"0".repeat(64)}`), 503, "not_configured");
    }
  });

  it("a short MEDIA_URL_SECRET signs nothing and accepts nothing, not even a link signed with it", async () => {
    const { res } = await uploadPng({ MEDIA_URL_SECRET: SHORT });
    const m = await json(res);
    expect(m.url).toBeNull();
    await expectProblem(await fetchWith({ MEDIA_URL_SECRET: SHORT }, await linkSignedWith(SHORT, m.id)), 503, "not_configured");
    // The same media through a properly configured server: signed, and the link works.
    const good = await linkSignedWith(env.MEDIA_URL_SECRET!, m.id);
    expect((await fetchWith({}, good)).status).toBe(200);
  });

  it("messages list their media with url: null, and an mms with media is not handed to Twilio", async () => {
    const { org, job } = await queuedMessage("sms", "+14155557301");
    const fd = new FormData();
    fd.append("file", new File([PNG], "a.png", { type: "image/png" }));
    const media = await json(await org.as(org.owner)("/conversations/media", { method: "POST", raw: fd }));
    const shard = await shardOf(org.orgId);
    await shard
      .prepare("UPDATE activities SET media_ids = ? WHERE id = ?")
      .bind(JSON.stringify([media.id]), job.messageId)
      .run();
    const convo = await shard.prepare("SELECT conversation_id FROM activities WHERE id = ?").bind(job.messageId).first<{ conversation_id: string }>();
    const thread = await json(
      await fetchWith({ MEDIA_URL_SECRET: undefined }, `/conversations/${convo!.conversation_id}/messages`, {
        headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId },
      }),
    );
    expect(thread.data.find((x: any) => x.id === job.messageId).media).toEqual([expect.objectContaining({ id: media.id, url: null })]);

    const twilio = vi.spyOn(globalThis, "fetch");
    expect(await deliver({ ...env, MEDIA_URL_SECRET: undefined } as Bindings, job)).toEqual({});
    expect(twilio).not.toHaveBeenCalled();
    const row = await shard.prepare("SELECT status, error_code FROM activities WHERE id = ?").bind(job.messageId).first();
    expect(row).toEqual({ status: "failed", error_code: "media_links_not_configured" });
  });
});

describe("provider webhooks", () => {
  const params = { MessageSid: "SMcfg1", From: "+14155550142", To: "+14155557302", Body: "hi" };
  const twilio = async (e: Partial<Bindings>, signature: string) =>
    fetchWith(e, "/webhooks/twilio/messages", {
      method: "POST",
      body: new URLSearchParams(params).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    });

  it("no TWILIO_AUTH_TOKEN: every Twilio webhook refuses (503), a signed request included", async () => {
    const signed = await twilioSign(`${BASE}/webhooks/twilio/messages`, params);
    for (const token of [undefined, ""]) {
      await expectProblem(await twilio({ TWILIO_AUTH_TOKEN: token }, signed), 503, "not_configured");
    }
    for (const path of ["/webhooks/twilio/status", "/webhooks/twilio/calls"]) {
      await expectProblem(
        await fetchWith({ TWILIO_AUTH_TOKEN: undefined }, path, { method: "POST", body: "", headers: { "content-type": "application/x-www-form-urlencoded" } }),
        503,
        "not_configured",
      );
    }
    // Configured, the same signed request is taken.
    expect((await twilio({}, signed)).status).toBe(200);
  });

  it("Postmark credentials missing: both Postmark webhooks refuse (503), even Basic with empty parts", async () => {
    for (const missing of [
      { POSTMARK_WEBHOOK_USER: undefined },
      { POSTMARK_WEBHOOK_PASSWORD: undefined },
      { POSTMARK_WEBHOOK_USER: "", POSTMARK_WEBHOOK_PASSWORD: "" },
    ]) {
      for (const path of ["/webhooks/postmark/inbound", "/webhooks/postmark/events"]) {
        for (const basic of [btoa(":"), btoa("postmark-hook:"), btoa(":hook-secret")]) {
          const res = await fetchWith(missing, path, {
            method: "POST",
            body: "{}",
            headers: { "content-type": "application/json", authorization: `Basic ${basic}` },
          });
          await expectProblem(res, 503, "not_configured");
        }
      }
    }
  });
});
