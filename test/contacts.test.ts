import { describe, expect, it } from "vitest";
import { addMember, count, expectProblem, ingest, json, newOrg, shardOf } from "./helpers";

describe("contacts", () => {
  it("POST normalizes phone to E.164 and lowercases email; GET returns it", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const res = await as("/contacts", { body: { name: "Dana Diaz", phone: "415-555-0199", email: " Dana@Example.COM " } });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created).toMatchObject({ name: "Dana Diaz", phone: "+14155550199", email: "dana@example.com" });
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await json(await as(`/contacts/${created.id}`))).toEqual(created);
  });

  it("needs a phone or an email; an unparseable phone → 400; nothing stored", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    await expectProblem(await as("/contacts", { body: { name: "Nobody" } }), 400, "validation_failed");
    const bad = await expectProblem(await as("/contacts", { body: { phone: "call me maybe" } }), 400, "validation_failed");
    expect(bad.errors?.[0].path).toBe("phone");
    await expectProblem(await as("/contacts", { body: { email: "not-an-email" } }), 400, "validation_failed");
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a phone or email already in the org → 409 with the existing id in detail", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const first = await json(await as("/contacts", { body: { phone: "+14155550198", email: "x@y.test" } }));
    const byPhone = await expectProblem(await as("/contacts", { body: { phone: "(415) 555-0198" } }), 409, "conflict");
    expect(byPhone.detail).toContain(first.id);
    const byEmail = await expectProblem(await as("/contacts", { body: { email: "X@Y.test" } }), 409, "conflict");
    expect(byEmail.detail).toContain(first.id);
    expect(await count("contacts", "org_id = ?", org.orgId)).toBe(1);
    // The same phone in another org is another contact.
    const other = await newOrg("Other");
    expect((await other.as(other.owner)("/contacts", { body: { phone: "+14155550198" } })).status).toBe(201);
  });

  it("PATCH changes fields, refuses a taken phone (409) and leaves the row as it was", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const a = await json(await as("/contacts", { body: { name: "A", phone: "+14155550101" } }));
    const b = await json(await as("/contacts", { body: { name: "B", email: "b@b.test" } }));
    const patched = await json(await as(`/contacts/${b.id}`, { method: "PATCH", body: { name: "Bea", phone: "+1 415 555 0102" } }));
    expect(patched).toMatchObject({ id: b.id, name: "Bea", phone: "+14155550102", email: "b@b.test" });
    const conflict = await expectProblem(await as(`/contacts/${b.id}`, { method: "PATCH", body: { phone: "+14155550101" } }), 409, "conflict");
    expect(conflict.detail).toContain(a.id);
    expect(await json(await as(`/contacts/${b.id}`))).toMatchObject({ phone: "+14155550102" });
    await expectProblem(await as(`/contacts/${a.id}`, { method: "PATCH", body: { phone: null } }), 400, "validation_failed");
    await expectProblem(await as(`/contacts/${a.id}`, { method: "PATCH", body: { nickname: "x" } }), 400, "validation_failed");
    expect(await json(await as(`/contacts/${a.id}`))).toMatchObject({ name: "A", phone: "+14155550101" });
  });

  it("another org's contact answers 404 on GET and PATCH, and is not changed", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    const contact = await json(await a.as(a.owner)("/contacts", { body: { name: "Secret", phone: "+14155550103" } }));
    await expectProblem(await b.as(b.owner)(`/contacts/${contact.id}`), 404, "not_found");
    await expectProblem(await b.as(b.owner)(`/contacts/${contact.id}`, { method: "PATCH", body: { name: "Pwned" } }), 404, "not_found");
    expect(await json(await a.as(a.owner)(`/contacts/${contact.id}`))).toMatchObject({ name: "Secret" });
    await expectProblem(await b.as(b.owner)(`/contacts/not-a-uuid`), 404, "not_found");
  });

  it("lists newest first with cursor pagination, each contact once", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(agent);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await json(await as("/contacts", { body: { name: `C${i}`, phone: `+1415555020${i}` } }))).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { data: { id: string }[]; next_cursor: string | null } = await json(await as(`/contacts?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
      expect(res.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.data.map((c) => c.id));
      cursor = res.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it("q searches name, phone and email case-insensitively", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    await as("/contacts", { body: { name: "Maria Lopez", phone: "+14155550301" } });
    await as("/contacts", { body: { name: "John Smith", email: "jsmith@Lopez.test" } });
    await as("/contacts", { body: { name: "Zed", phone: "+442079460958" } });
    const names = async (q: string) => (await json(await as(`/contacts?q=${encodeURIComponent(q)}`))).data.map((c: { name: string }) => c.name).sort();
    expect(await names("lopez")).toEqual(["John Smith", "Maria Lopez"]);
    expect(await names("MARIA")).toEqual(["Maria Lopez"]);
    expect(await names("555-0301")).toEqual(["Maria Lopez"]);
    expect(await names("2079")).toEqual(["Zed"]);
    expect(await names("100%")).toEqual([]);
  });

  it("bad list parameters → 400: limit 0, 101, non-digits; a forged cursor; a non-boolean", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    for (const q of ["limit=0", "limit=101", "limit=5x", "limit=-1", "cursor=%%%", `cursor=${btoa('["x"]')}`]) {
      const p = await expectProblem(await as(`/contacts?${q}`), 400, "validation_failed");
      expect(p.errors?.[0].path).toMatch(/limit|cursor/);
    }
  });

  it("races: POST /contacts and an inbound message for the same new phone, 60 rounds → one contact, the message kept, never a 5xx", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    for (let round = 0; round < 60; round++) {
      const phone = `+1415556${String(1000 + round)}`;
      const [created, ingested] = await Promise.all([
        as("/contacts", { body: { name: "By hand", phone } }),
        ingest(org, { contact: { phone, name: "From SMS" }, provider_message_id: `SMrace${round}` }),
      ]);
      expect(ingested.status, await ingested.clone().text()).toBe(201);
      const { message } = await json(ingested);
      const rows = await (await shardOf(org.orgId))
        .prepare("SELECT id FROM contacts WHERE org_id = ? AND phone = ?")
        .bind(org.orgId, phone)
        .all<{ id: string }>();
      expect(rows.results).toHaveLength(1);
      const only = rows.results[0].id;
      expect(message.contact_id).toBe(only);
      // Either serial order: the hand-made contact first (201, the message joins it), or the message first (409 naming it).
      if (created.status === 201) expect((await json(created)).id).toBe(only);
      else expect((await expectProblem(created, 409, "conflict")).detail).toContain(only);
    }
  }, 60_000);

  it("races: PATCH a phone onto a contact while an inbound message for that phone arrives, 20 rounds → 200 or 409 as some serial order gives", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    for (let round = 0; round < 20; round++) {
      const phone = `+1415556${String(2000 + round)}`;
      const contact = await json(await as("/contacts", { body: { email: `race${round}@example.com` } }));
      const [patched, ingested] = await Promise.all([
        as(`/contacts/${contact.id}`, { method: "PATCH", body: { phone } }),
        ingest(org, { contact: { phone }, provider_message_id: `SMpatch${round}` }),
      ]);
      expect(ingested.status, await ingested.clone().text()).toBe(201);
      const { message } = await json(ingested);
      const holders = await (await shardOf(org.orgId))
        .prepare("SELECT id FROM contacts WHERE org_id = ? AND phone = ?")
        .bind(org.orgId, phone)
        .all<{ id: string }>();
      expect(holders.results).toHaveLength(1);
      if (patched.status === 200) {
        // PATCH first: the message found the patched contact.
        expect(message.contact_id).toBe(contact.id);
        expect((await json(patched)).phone).toBe(phone);
      } else {
        // The message first: it created the phone's contact, and the PATCH names it.
        expect((await expectProblem(patched, 409, "conflict")).detail).toContain(message.contact_id);
        expect(holders.results[0].id).toBe(message.contact_id);
        expect((await json(await as(`/contacts/${contact.id}`))).phone).toBeNull();
      }
    }
  }, 60_000);
});
