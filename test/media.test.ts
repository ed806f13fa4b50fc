import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { signedMediaUrl } from "../src/media/signing";
import { BASE, call, count, expectProblem, json, newOrg, type TestOrg } from "./helpers";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 1, 2, 3, 4]);
const PDF = new TextEncoder().encode("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n");

const form = (bytes: Uint8Array, type: string, name = "file.bin", field = "file") => {
  const f = new FormData();
  f.append(field, new File([bytes], name, { type }));
  return f;
};
const upload = (org: TestOrg, body: FormData) => org.as(org.owner)("/conversations/media", { method: "POST", raw: body });
const sha256 = async (b: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
const objects = async (orgId: string) => (await env.MEDIA.list({ prefix: `orgs/${orgId}/media/` })).objects.length;

describe("POST /conversations/media", () => {
  it("stores the bytes in R2 under the org, answers the Media shape with sha256 and a signed url", async () => {
    const org = await newOrg();
    const res = await upload(org, form(PNG, "image/png", "smile.png"));
    expect(res.status).toBe(201);
    const m = await json(res);
    expect(m).toMatchObject({ content_type: "image/png", size: PNG.byteLength, filename: "smile.png", sha256: await sha256(PNG) });
    expect(m.url).toMatch(new RegExp(`^https://inbox\\.test/media/${m.id}\\?exp=\\d+&sig=[0-9a-f]{64}$`));
    const stored = await env.MEDIA.get(`orgs/${org.orgId}/media/${m.id}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(PNG);

    const member = await org.as(org.owner)(`/conversations/media/${m.id}`);
    expect(member.status).toBe(200);
    expect(member.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await member.arrayBuffer())).toEqual(PNG);

    // The signed link needs no token: it is what providers fetch.
    const signed = await call(new URL(m.url).pathname + new URL(m.url).search);
    expect(signed.status).toBe(200);
    expect(new Uint8Array(await signed.arrayBuffer())).toEqual(PNG);
  });

  it("honours Idempotency-Key: the same upload replays the same Media, stored once", async () => {
    const org = await newOrg();
    const send = () =>
      org.as(org.owner)("/conversations/media", { method: "POST", raw: form(PNG, "image/png", "a.png"), headers: { "idempotency-key": "up-1" } });
    const first = await send();
    expect(first.status).toBe(201);
    const again = await send();
    expect(again.status).toBe(201);
    expect((await json(again)).id).toBe((await json(first)).id);
    expect(await count("media", "org_id = ?", org.orgId)).toBe(1);
  });

  it("refuses a type outside the allowlist, and content that is not the declared type (415, nothing stored)", async () => {
    const org = await newOrg();
    await expectProblem(await upload(org, form(new Uint8Array([0x50, 0x4b, 3, 4]), "application/zip", "a.zip")), 415, "unsupported_media_type");
    await expectProblem(await upload(org, form(new TextEncoder().encode("just text"), "image/png", "fake.png")), 415, "unsupported_media_type");
    await expectProblem(await upload(org, form(PNG, "application/pdf", "fake.pdf")), 415, "unsupported_media_type");
    await expectProblem(await upload(org, form(new Uint8Array([0xff, 0xfe, 0xfd]), "text/plain", "bad.txt")), 415, "unsupported_media_type");
    expect(await count("media", "org_id = ?", org.orgId)).toBe(0);
    expect(await objects(org.orgId)).toBe(0);
    // The same check accepts what it should.
    expect((await upload(org, form(PDF, "application/pdf", "ok.pdf"))).status).toBe(201);
    expect((await upload(org, form(new TextEncoder().encode("BEGIN:VCARD\nFN:Ann\nEND:VCARD\n"), "text/vcard", "ann.vcf"))).status).toBe(201);
  });

  it("a file over MEDIA_MAX_BYTES → 413 payload_too_large, nothing stored", async () => {
    const org = await newOrg();
    const small = { ...env, MEDIA_MAX_BYTES: "1000" } as Bindings;
    const big = new Uint8Array(2000);
    big.set(PNG);
    const res = await app.fetch(
      new Request(`${BASE}/conversations/media`, {
        method: "POST",
        body: form(big, "image/png"),
        headers: { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId },
      }),
      small,
      createExecutionContext(),
    );
    await expectProblem(res, 413, "payload_too_large");
    expect(await count("media", "org_id = ?", org.orgId)).toBe(0);
    expect(await objects(org.orgId)).toBe(0);
  });

  it("needs multipart with a `file` field: JSON → 415, another field name → 400", async () => {
    const org = await newOrg();
    await expectProblem(await org.as(org.owner)("/conversations/media", { body: { file: "x" } }), 415, "unsupported_media_type");
    await expectProblem(await upload(org, form(PNG, "image/png", "a.png", "upload")), 400, "validation_failed");
    expect(await count("media", "org_id = ?", org.orgId)).toBe(0);
  });
});

describe("reading media", () => {
  it("another org's media → 404 for members; a tampered, foreign, missing or expired signature → 403", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    const m = await json(await upload(a, form(PNG, "image/png")));
    const other = await json(await upload(a, form(PDF, "application/pdf")));
    await expectProblem(await b.as(b.owner)(`/conversations/media/${m.id}`), 404, "not_found");
    await expectProblem(await a.as(a.owner)(`/conversations/media/${crypto.randomUUID()}`), 404, "not_found");

    const url = new URL(m.url);
    const sig = url.searchParams.get("sig")!;
    const exp = url.searchParams.get("exp")!;
    const flipped = (sig[0] === "a" ? "b" : "a") + sig.slice(1);
    await expectProblem(await call(`/media/${m.id}?exp=${exp}&sig=${flipped}`), 403, "forbidden");
    await expectProblem(await call(`/media/${m.id}?exp=${Number(exp) + 1}&sig=${sig}`), 403, "forbidden");
    await expectProblem(await call(`/media/${other.id}?exp=${exp}&sig=${sig}`), 403, "forbidden");
    await expectProblem(await call(`/media/${m.id}`), 403, "forbidden");
    const expired = new URL((await signedMediaUrl(env, m.id, -60))!);
    await expectProblem(await call(expired.pathname + expired.search), 403, "forbidden");
    // A validly signed link for an id that does not exist.
    const ghost = new URL((await signedMediaUrl(env, crypto.randomUUID()))!);
    await expectProblem(await call(ghost.pathname + ghost.search), 404, "not_found");
  });
});
