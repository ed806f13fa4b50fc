import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { actor, addMember, BASE, call, count, expectProblem, json, newOrg, type TestOrg, token } from "./helpers";

const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

describe("bearer tokens (HS256)", () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await newOrg();
  });

  it("accepts a valid token", async () => {
    const res = await call("/members", { token: org.owner.token, org: org.orgId });
    expect(res.status).toBe(200);
  });

  it("refuses a token once it expires, though it was accepted (and remembered) a moment before", async () => {
    const soon = await token(org.owner.userId, { expiresIn: Math.floor(Date.now() / 1000) + 2 });
    expect((await call("/members", { token: soon, org: org.orgId })).status).toBe(200);
    expect((await call("/members", { token: soon, org: org.orgId })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_600));
    await expectProblem(await call("/members", { token: soon, org: org.orgId }), 401, "unauthenticated");
  });

  const refused: [string, () => Promise<Record<string, string>>][] = [
    ["no Authorization header", async () => ({})],
    ["a scheme other than Bearer", async () => ({ authorization: `Basic ${btoa("a:b")}` })],
    ["a malformed token", async () => ({ authorization: "Bearer not.a.jwt" })],
    ["a bad signature", async () => ({ authorization: `Bearer ${await token(org.owner.userId, { secret: "another-secret-of-enough-length-0123" })}` })],
    ["an expired token", async () => ({ authorization: `Bearer ${await token(org.owner.userId, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}` })],
    [
      "alg: none",
      async () => {
        const header = b64url(JSON.stringify({ alg: "none", typ: "JWT" }));
        const payload = b64url(JSON.stringify({ sub: org.owner.userId, exp: Math.floor(Date.now() / 1000) + 600 }));
        return { authorization: `Bearer ${header}.${payload}.` };
      },
    ],
    [
      "no exp claim",
      async () => {
        const t = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(org.owner.userId).sign(new TextEncoder().encode(env.AUTH_JWT_SECRET));
        return { authorization: `Bearer ${t}` };
      },
    ],
    ["a sub that is not a UUID", async () => ({ authorization: `Bearer ${await token("user-42")}` })],
    [
      "HS512 with the right secret (algorithm not allowed)",
      async () => {
        const t = await new SignJWT({})
          .setProtectedHeader({ alg: "HS512" })
          .setSubject(org.owner.userId)
          .setExpirationTime("1h")
          .sign(new TextEncoder().encode(env.AUTH_JWT_SECRET));
        return { authorization: `Bearer ${t}` };
      },
    ],
  ];

  it.each(refused)("refuses %s with 401 unauthenticated", async (_name, headers) => {
    const res = await call("/members", { headers: { ...(await headers()), "x-org-id": org.orgId } });
    await expectProblem(res, 401, "unauthenticated");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("POST /orgs needs a token too, and stores nothing without one", async () => {
    const before = await count("orgs");
    await expectProblem(await call("/orgs", { body: { name: "x" } }), 401, "unauthenticated");
    expect(await count("orgs")).toBe(before);
  });
});

describe("issuer and audience, when configured", () => {
  const withIssAud = { ...env, AUTH_ISSUER: "https://idp.test/", AUTH_AUDIENCE: "inbox-api" } as Bindings;
  const fetchWith = (e: Bindings, t: string, org: string) =>
    app.fetch(new Request(`${BASE}/members`, { headers: { authorization: `Bearer ${t}`, "x-org-id": org } }), e, createExecutionContext());
  const sign = (sub: string, iss?: string, aud?: string) => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("1h");
    if (iss) jwt.setIssuer(iss);
    if (aud) jwt.setAudience(aud);
    return jwt.sign(new TextEncoder().encode(env.AUTH_JWT_SECRET));
  };

  it("accepts the right iss/aud and refuses a wrong or missing one", async () => {
    const org = await newOrg();
    const sub = org.owner.userId;
    expect((await fetchWith(withIssAud, await sign(sub, "https://idp.test/", "inbox-api"), org.orgId)).status).toBe(200);
    await expectProblem(await fetchWith(withIssAud, await sign(sub, "https://evil.test/", "inbox-api"), org.orgId), 401, "unauthenticated");
    await expectProblem(await fetchWith(withIssAud, await sign(sub, "https://idp.test/", "other-api"), org.orgId), 401, "unauthenticated");
    await expectProblem(await fetchWith(withIssAud, await sign(sub), org.orgId), 401, "unauthenticated");
  });
});

describe("JWKS (RS256/ES256), when no shared secret is set", () => {
  const JWKS_URL = "https://idp.test/.well-known/jwks.json";
  const jwksEnv = { ...env, AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: JWKS_URL } as Bindings;
  afterEach(() => vi.restoreAllMocks());

  it("verifies RS256 and ES256 tokens against the key set and refuses HS256 ones", async () => {
    const org = await newOrg();
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const ec = await generateKeyPair("ES256", { extractable: true });
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ];
    // The identity provider lies outside this Worker: fake it at the HTTP boundary.
    const realFetch = globalThis.fetch;
    const idp = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === JWKS_URL) return Response.json({ keys });
      return realFetch(input, init);
    });
    const sign = (alg: string, key: CryptoKey | Uint8Array, kid?: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
        .setSubject(org.owner.userId)
        .setExpirationTime("1h")
        .sign(key);
    const get = (t: string) =>
      app.fetch(new Request(`${BASE}/members`, { headers: { authorization: `Bearer ${t}`, "x-org-id": org.orgId } }), jwksEnv, createExecutionContext());

    expect((await get(await sign("RS256", rsa.privateKey, "rsa-1"))).status).toBe(200);
    expect((await get(await sign("ES256", ec.privateKey, "ec-1"))).status).toBe(200);
    expect(idp.mock.calls.some(([u]) => String(u instanceof Request ? u.url : u) === JWKS_URL)).toBe(true);
    // An HS256 token signed with the (now unset) shared secret must not pass.
    await expectProblem(await get(await sign("HS256", new TextEncoder().encode(env.AUTH_JWT_SECRET))), 401, "unauthenticated");
    // A key the set does not hold.
    const stranger = await generateKeyPair("RS256");
    await expectProblem(await get(await sign("RS256", stranger.privateKey, "rsa-1")), 401, "unauthenticated");
  });
});

describe("org scope", () => {
  it("X-Org-Id missing or not a UUID → 400 validation_failed naming the header", async () => {
    const org = await newOrg();
    const missing = await expectProblem(await call("/members", { token: org.owner.token }), 400, "validation_failed");
    expect(missing.errors?.[0].path).toBe("X-Org-Id");
    const bad = await expectProblem(await call("/members", { token: org.owner.token, org: "acme" }), 400, "validation_failed");
    expect(bad.errors?.[0].path).toBe("X-Org-Id");
  });

  it("a caller who is not a member of the org → 403 forbidden", async () => {
    const org = await newOrg();
    const stranger = await actor();
    await expectProblem(await call("/members", { token: stranger.token, org: org.orgId }), 403, "forbidden");
    await expectProblem(await call("/contacts", { token: stranger.token, org: crypto.randomUUID() }), 403, "forbidden");
  });

  it("the creator of an org is its owner, named from the token's claims", async () => {
    const org = await newOrg();
    const { data } = await json(await org.as(org.owner)("/members"));
    expect(data).toEqual([expect.objectContaining({ user_id: org.owner.userId, role: "owner", name: "Olivia Owner", email: "olivia@example.com" })]);
  });

  it("an agent reads members and channels but cannot manage them (403, nothing changed)", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(agent);
    expect((await as("/members")).status).toBe(200);
    expect((await as("/channels")).status).toBe(200);
    const target = crypto.randomUUID();
    await expectProblem(await as(`/members/${target}`, { method: "PUT", body: { role: "agent" } }), 403, "forbidden");
    await expectProblem(await as(`/members/${org.owner.userId}`, { method: "DELETE" }), 403, "forbidden");
    await expectProblem(await as("/channels", { body: { kind: "sms", address: "+14155550111", provider: "log" } }), 403, "forbidden");
    expect(await count("members", "org_id = ?", org.orgId)).toBe(2);
    expect(await count("channels", "org_id = ?", org.orgId)).toBe(0);
    const ch = await json(await org.as(org.owner)("/channels", { body: { kind: "email", address: "help@acme.test", provider: "log" } }));
    await expectProblem(await as(`/channels/${ch.id}`, { method: "DELETE" }), 403, "forbidden");
    expect(await count("channels", "org_id = ?", org.orgId)).toBe(1);
  });
});
