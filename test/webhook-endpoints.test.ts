import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { signedHeaders } from "../src/webhook-endpoints/signing";
import { addMember, BASE, count, expectProblem, json, newOrg, shardOf } from "./helpers";

// SPEC 18, the endpoints (deliveries are not built yet): CRUD, URL rules, the secret
// shown once, rotation with a 24 h overlap in which both secrets sign.

const HOOK = "https://crm.example.com/hooks/inbox";

describe("/webhook-endpoints", () => {
  it("create (secret once), list, get, patch, delete; another org's id is 404; an agent may not", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const created = await as("/webhook-endpoints", { body: { url: HOOK, description: "CRM" } });
    expect(created.status, await created.clone().text()).toBe(201);
    const endpoint = await json(created);
    expect(endpoint).toMatchObject({ url: HOOK, description: "CRM", events: ["*"], enabled: true, disabled_reason: null });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const listed = (await json(await as("/webhook-endpoints"))).data;
    expect(listed).toEqual([{ ...endpoint, secret: undefined }].map(({ secret: _s, ...e }) => e));
    const path = `/webhook-endpoints/${endpoint.id}`;
    expect(await json(await as(path))).not.toHaveProperty("secret");
    const patched = await json(await as(path, { method: "PATCH", body: { events: ["message.created", "contact.opted_out"], enabled: false } }));
    expect(patched).toMatchObject({ events: ["message.created", "contact.opted_out"], enabled: false, url: HOOK });
    // What GET answers, PATCH takes back (read-only fields ignored).
    const back = await as(path, { method: "PATCH", body: { ...patched, enabled: true } });
    expect(await json(back)).toMatchObject({ enabled: true, disabled_reason: null });

    const other = await newOrg();
    for (const [method, p, body] of [
      ["GET", path, undefined],
      ["PATCH", path, { enabled: false }],
      ["DELETE", path, undefined],
      ["POST", `${path}/rotate-secret`, undefined],
    ] as const) {
      await expectProblem(await other.as(other.owner)(p, { method, body }), 404, "not_found");
    }
    // A creating POST honours Idempotency-Key (SPEC part two): the retry answers the same endpoint and secret.
    const key = crypto.randomUUID();
    const once = await as("/webhook-endpoints", { body: { url: `${HOOK}/keyed` }, headers: { "idempotency-key": key } });
    const twice = await as("/webhook-endpoints", { body: { url: `${HOOK}/keyed` }, headers: { "idempotency-key": key } });
    expect(twice.headers.get("idempotent-replayed")).toBe("true");
    expect(await json(twice)).toEqual(await json(once));
    expect(await count("webhook_endpoints", "org_id = ? AND url = ?", org.orgId, `${HOOK}/keyed`)).toBe(1);
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/webhook-endpoints"), 403, "forbidden");
    expect((await json(await as(path))).enabled).toBe(true);

    expect((await as(path, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await as(path), 404, "not_found");
    await expectProblem(await as(path, { method: "DELETE" }), 404, "not_found");
  });

  it("refuses http, localhost and private, loopback or link-local IPs (unless ALLOW_PRIVATE_WEBHOOK_URLS), and bad event lists, storing nothing", async () => {
    const org = await newOrg();
    const strict = { ...env, ALLOW_PRIVATE_WEBHOOK_URLS: "false" } as unknown as Bindings;
    const headers = { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId, "content-type": "application/json" };
    const post = (body: unknown) =>
      app.fetch(new Request(`${BASE}/webhook-endpoints`, { method: "POST", headers, body: JSON.stringify(body) }), strict, createExecutionContext());
    for (const url of [
      "http://crm.example.com/hook",
      "https://localhost/hook",
      "https://api.localhost/hook",
      "https://127.0.0.1/hook",
      "https://0x7f.1/hook",
      "https://2130706433/hook",
      "https://10.1.2.3/hook",
      "https://172.20.0.1/hook",
      "https://192.168.1.10/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/hook",
      "https://0.0.0.0/hook",
      "https://[::1]/hook",
      "https://[fe80::1]/hook",
      "https://[fd00::1]/hook",
      "https://[::ffff:127.0.0.1]/hook",
      "https://[::127.0.0.1]/hook",
      "https://[64:ff9b::10.0.0.1]/hook",
      "https://localhost./hook",
      "https://user:pass@crm.example.com/hook",
      "ftp://crm.example.com/hook",
      "not a url",
    ]) {
      const problem = await expectProblem(await post({ url }), 400, "validation_failed");
      expect(problem.errors, url).toEqual([expect.objectContaining({ path: "url" })]);
    }
    for (const events of [["*", "message.created"], ["message.created", "message.created"], ["message.deleted"], []]) {
      await expectProblem(await post({ url: HOOK, events }), 400, "validation_failed");
    }
    expect(await count("webhook_endpoints", "org_id = ?", org.orgId)).toBe(0);
    expect((await post({ url: "https://8.8.8.8/hook" })).status).toBe(201);
    expect((await post({ url: HOOK })).status).toBe(201);
    // Local dev and the tests allow a receiver on this machine.
    expect((await org.as(org.owner)("/webhook-endpoints", { body: { url: "http://127.0.0.1:8788/hook" } })).status).toBe(201);
  });

  it("an org has at most 20; creates at once never pass the cap", async () => {
    const org = await newOrg();
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => org.as(org.owner)("/webhook-endpoints", { body: { url: `${HOOK}/${i}` } })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    for (const r of answers.filter((a) => a.status !== 201)) await expectProblem(r, 409, "conflict");
    expect(await count("webhook_endpoints", "org_id = ?", org.orgId)).toBe(20);
  });
});

describe("signing", () => {
  it("a receiver verifies with standardwebhooks; after a rotation either secret verifies for 24 h, then only the new one", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const { id, secret: first } = await json(await as("/webhook-endpoints", { body: { url: HOOK } }));
    const body = JSON.stringify({ type: "message.created", timestamp: new Date().toISOString(), data: { org_id: org.orgId, seq: 1 } });
    const row = async () =>
      (await shardOf(org.orgId))
        .prepare("SELECT secret, previous_secret AS previousSecret, previous_secret_until AS previousSecretUntil FROM webhook_endpoints WHERE id = ?")
        .bind(id)
        .first<{ secret: string; previousSecret: string | null; previousSecretUntil: number | null }>();
    const before = signedHeaders((await row())!, "msg_1", body);
    expect(new Webhook(first).verify(body, before)).toMatchObject({ type: "message.created" });

    const rotated = await json(await as(`/webhook-endpoints/${id}/rotate-secret`, { method: "POST" }));
    expect(rotated.secret).not.toBe(first);
    const during = signedHeaders((await row())!, "msg_2", body);
    expect(during["webhook-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(first).verify(body, during)).toBeTruthy();
    expect(new Webhook(rotated.secret).verify(body, during)).toBeTruthy();

    const later = new Date(Date.now() + 25 * 3600 * 1000);
    const after = signedHeaders((await row())!, "msg_3", body, later);
    expect(after["webhook-signature"].split(" ")).toHaveLength(1);
    // The same past the overlap, signed now (the library checks the timestamp against now;
    // the signature covers the timestamp, so the headers are verified as they were signed).
    const resigned = signedHeaders({ ...(await row())!, previousSecretUntil: Date.now() - 1 }, "msg_4", body);
    expect(resigned["webhook-signature"].split(" ")).toHaveLength(1);
    expect(() => new Webhook(first).verify(body, resigned)).toThrow();
    expect(new Webhook(rotated.secret).verify(body, resigned)).toBeTruthy();
    expect(after["webhook-id"]).toBe("msg_3");
  });
});
