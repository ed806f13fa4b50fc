import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { BASE, count, expectProblem, newOrg } from "./helpers";

describe("problem+json for every failure", () => {
  it("malformed JSON → 400 validation_failed, nothing stored", async () => {
    const org = await newOrg();
    const res = await org.as(org.owner)("/contacts", { method: "POST", raw: '{"phone": "+1415', headers: { "content-type": "application/json" } });
    const p = await expectProblem(res, 400, "validation_failed");
    expect(p.errors?.[0].path).toBe("body");
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a JSON route sent another content type → 415 unsupported_media_type", async () => {
    const org = await newOrg();
    const res = await org.as(org.owner)("/contacts", {
      method: "POST",
      raw: "phone=+14155550100",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await expectProblem(res, 415, "unsupported_media_type");
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
  });

  it("an unknown field → 400 naming it (no mass assignment)", async () => {
    const org = await newOrg();
    const p = await expectProblem(
      await org.as(org.owner)("/contacts", { body: { phone: "+14155550100", org_id: crypto.randomUUID() } }),
      400,
      "validation_failed",
    );
    expect(p.errors?.[0].path).toContain("org_id");
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a JSON body over 1 MiB → 413 payload_too_large, nothing stored", async () => {
    const org = await newOrg();
    const big = JSON.stringify({ name: "x".repeat(1024 * 1024 + 10), phone: "+14155550100" });
    await expectProblem(
      await org.as(org.owner)("/contacts", { method: "POST", raw: big, headers: { "content-type": "application/json" } }),
      413,
      "payload_too_large",
    );
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a thrown error → 500 internal without a stack trace", async () => {
    const org = await newOrg();
    const broken = { ...env, DB: undefined } as unknown as Bindings;
    const res = await app.fetch(
      new Request(`${BASE}/members`, { headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId } }),
      broken,
      createExecutionContext(),
    );
    const p = await expectProblem(res, 500, "internal");
    const text = JSON.stringify(p);
    expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(text).not.toMatch(/TypeError|undefined/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("/openapi.json", () => {
  it("is OpenAPI 3.1 and documents every implemented route with its error responses", async () => {
    const res = await app.fetch(new Request(`${BASE}/openapi.json`), env, createExecutionContext());
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };
    expect(doc.openapi).toBe("3.1.0");
    const implemented = app.routes
      // The /docs page's script is an asset of /docs, not an operation; the bench's ceiling
      // route is no part of the API (404 unless BENCH_CEILING=1: test/ingest-batch.test.ts).
      .filter((r) => r.method !== "ALL" && r.path !== "/docs/scalar.js" && r.path !== "/bench/ceiling")
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(implemented.length).toBeGreaterThan(10);
    for (const route of new Set(implemented)) {
      const [method, path] = route.split(" ");
      const op = doc.paths[path]?.[method];
      expect(op, route).toBeDefined();
      if (path.startsWith("/webhooks/twilio/") || path.startsWith("/webhooks/postmark/")) {
        // Provider webhooks authenticate by signature or HTTP Basic, not bearer token.
        expect(op.security, route).toEqual([path.includes("twilio") ? { twilioSignature: [] } : { postmarkBasic: [] }]);
        expect(Object.keys(op.responses), route).toEqual(expect.arrayContaining([path.includes("twilio") ? "403" : "401"]));
      } else if (path.startsWith("/operator/")) {
        // SPEC 14: the operator's own bearer token, OPERATOR_TOKEN.
        expect(op.security, route).toEqual([{ operatorToken: [] }]);
        expect(Object.keys(op.responses), route).toEqual(expect.arrayContaining(["401", "404", "500"]));
      } else if (path === "/media/{media_id}") {
        // Signed links: no bearer token, a bad signature is 403.
        expect(op.security, route).toEqual([]);
        expect(Object.keys(op.responses), route).toEqual(expect.arrayContaining(["403", "404", "500"]));
      } else if (["/health", "/openapi.json", "/docs"].includes(path)) {
        expect(op.security, route).toEqual([]);
      } else {
        expect(Object.keys(op.responses), route).toEqual(expect.arrayContaining(["400", "401", "500"]));
        expect(op.security, route).toEqual([{ bearerAuth: [] }]);
      }
    }
  });
});
