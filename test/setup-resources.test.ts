import { describe, expect, it } from "vitest";
import { addMember, count, expectProblem, json, newOrg, shardOf } from "./helpers";

describe("POST /orgs", () => {
  it("creates the org (201, Org shape) and validates the name", async () => {
    const org = await newOrg("Globex");
    const { data } = await json(await org.as(org.owner)("/members"));
    expect(data).toHaveLength(1);
    const bad = await expectProblem(await org.as(org.owner)("/orgs", { body: { name: "" } }), 400, "validation_failed");
    expect(bad.errors?.[0].path).toBe("name");
    await expectProblem(await org.as(org.owner)("/orgs", { body: { name: "x", plan: "pro" } }), 400, "validation_failed");
  });
});

describe("members", () => {
  it("PUT creates (201) then updates (200) a member; GET lists them", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const user = crypto.randomUUID();
    const created = await as(`/members/${user}`, { method: "PUT", body: { role: "agent", name: "Ann", email: "ANN@Acme.test" } });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ user_id: user, role: "agent", name: "Ann", email: "ann@acme.test" });
    const updated = await as(`/members/${user}`, { method: "PUT", body: { role: "admin" } });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ user_id: user, role: "admin", name: "Ann" });
    const { data } = await json(await as("/members"));
    expect(data.map((m: { user_id: string }) => m.user_id)).toEqual([org.owner.userId, user]);
  });

  it("an admin cannot grant or change the owner role (403, nothing changed)", async () => {
    const org = await newOrg();
    const admin = await addMember(org, "admin");
    const as = org.as(admin);
    const user = crypto.randomUUID();
    await expectProblem(await as(`/members/${user}`, { method: "PUT", body: { role: "owner" } }), 403, "forbidden");
    await expectProblem(await as(`/members/${org.owner.userId}`, { method: "PUT", body: { role: "agent" } }), 403, "forbidden");
    await expectProblem(await as(`/members/${org.owner.userId}`, { method: "DELETE" }), 403, "forbidden");
    expect(await count("members", "org_id = ? AND role = 'owner'", org.orgId)).toBe(1);
    expect(await count("members", "org_id = ?", org.orgId)).toBe(2);
    // An admin manages agents freely.
    expect((await as(`/members/${user}`, { method: "PUT", body: { role: "agent" } })).status).toBe(201);
    expect((await as(`/members/${user}`, { method: "DELETE" })).status).toBe(204);
  });

  it("the last owner cannot be demoted or removed (422 last_owner); with two owners one can go", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    await expectProblem(await as(`/members/${org.owner.userId}`, { method: "PUT", body: { role: "admin" } }), 422, "last_owner");
    await expectProblem(await as(`/members/${org.owner.userId}`, { method: "DELETE" }), 422, "last_owner");
    expect(await count("members", "org_id = ? AND role = 'owner'", org.orgId)).toBe(1);
    const second = await addMember(org, "owner");
    expect((await as(`/members/${org.owner.userId}`, { method: "PUT", body: { role: "admin" } })).status).toBe(200);
    await expectProblem(await org.as(second)(`/members/${second.userId}`, { method: "DELETE" }), 422, "last_owner");
  });

  it("deleting a non-member → 404; a bad user id → 404", async () => {
    const org = await newOrg();
    await expectProblem(await org.as(org.owner)(`/members/${crypto.randomUUID()}`, { method: "DELETE" }), 404, "not_found");
    await expectProblem(await org.as(org.owner)(`/members/not-a-uuid`, { method: "DELETE" }), 404, "not_found");
  });

  it("a removed member's conversations become unassigned", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const shard = await shardOf(org.orgId);
    const now = Date.now();
    const contactId = crypto.randomUUID();
    const conversationId = crypto.randomUUID();
    await shard.batch([
      shard
        .prepare("INSERT INTO contacts (id, org_id, phone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        .bind(contactId, org.orgId, "+14155550100", now, now),
      shard
        .prepare("INSERT INTO conversations (id, org_id, contact_id, assigned_to, sort_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(conversationId, org.orgId, contactId, agent.userId, now, now, now),
    ]);
    expect((await org.as(org.owner)(`/members/${agent.userId}`, { method: "DELETE" })).status).toBe(204);
    const row = await shard.prepare("SELECT assigned_to FROM conversations WHERE id = ?").bind(conversationId).first();
    expect(row).toEqual({ assigned_to: null });
    await expectProblem(await org.as(agent)("/members"), 403, "forbidden");
  });
});

describe("channels", () => {
  it("creates sms and email channels with normalized addresses", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const sms = await as("/channels", { body: { kind: "sms", address: "(415) 555-0123", provider: "twilio" } });
    expect(sms.status).toBe(201);
    expect(await sms.json()).toMatchObject({ kind: "sms", address: "+14155550123", provider: "twilio" });
    const email = await as("/channels", { body: { kind: "email", address: "Support@Acme.TEST", provider: "postmark" } });
    expect(await email.json()).toMatchObject({ kind: "email", address: "support@acme.test" });
    const { data } = await json(await as("/channels"));
    expect(data.map((c: { kind: string }) => c.kind)).toEqual(["sms", "email"]);
  });

  it("an address another org already uses → 409 conflict, nothing stored", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    expect((await a.as(a.owner)("/channels", { body: { kind: "sms", address: "+14155550124", provider: "log" } })).status).toBe(201);
    await expectProblem(await b.as(b.owner)("/channels", { body: { kind: "sms", address: "+1 415 555 0124", provider: "log" } }), 409, "conflict");
    expect(await count("channels", "org_id = ?", b.orgId)).toBe(0);
  });

  it("a provider that does not fit the kind, or a bad address → 400", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const wrong = await expectProblem(
      await as("/channels", { body: { kind: "sms", address: "+14155550125", provider: "postmark" } }),
      400,
      "validation_failed",
    );
    expect(wrong.errors?.[0].path).toBe("provider");
    const badPhone = await expectProblem(await as("/channels", { body: { kind: "sms", address: "12", provider: "log" } }), 400, "validation_failed");
    expect(badPhone.errors?.[0].path).toBe("address");
    await expectProblem(await as("/channels", { body: { kind: "email", address: "nope", provider: "log" } }), 400, "validation_failed");
    expect(await count("channels", "org_id = ?", org.orgId)).toBe(0);
  });

  it("DELETE removes a channel; another org's channel → 404 and stays", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    const ch = await json(await a.as(a.owner)("/channels", { body: { kind: "email", address: "a@a.test", provider: "log" } }));
    await expectProblem(await b.as(b.owner)(`/channels/${ch.id}`, { method: "DELETE" }), 404, "not_found");
    expect(await count("channels", "id = ?", ch.id)).toBe(1);
    expect((await a.as(a.owner)(`/channels/${ch.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await count("channels", "id = ?", ch.id)).toBe(0);
  });
});
