import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { actor, addMember, count, expectProblem, ingestOk, json, newOrg, shardOf, type TestOrg } from "./helpers";

// SPEC 17: templates. Twilio and Postmark are answered at the HTTP boundary (as in
// test/sending.test.ts), so a send goes through the real queue and adapters.
type Seen = { url: string; body: string };
let seen: Seen[] = [];
beforeEach(() => {
  seen = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    const host = new URL(req.url).host;
    if (host !== "twilio.fake" && host !== "postmark.fake") return real(input as RequestInfo, init);
    seen.push({ url: req.url, body: await req.text() });
    return host === "twilio.fake"
      ? Response.json({ sid: `SM${crypto.randomUUID().replace(/-/g, "")}`, status: "queued" }, { status: 201 })
      : Response.json({ MessageID: crypto.randomUUID(), ErrorCode: 0, Message: "OK" });
  });
});
afterEach(() => vi.restoreAllMocks());

let numbers = 0;
/** An org ("Acme Dental") with twilio sms and postmark email channels and a conversation with `contact`. */
async function setup(contact: Record<string, unknown> = { phone: "+14155550142", name: "Maria Lopez" }, email: string | null = "maria@example.com") {
  const org = await newOrg("Acme Dental");
  const as = org.as(org.owner);
  const number = `+1415557${String(1000 + ++numbers)}`;
  expect((await as("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
  expect((await as("/channels", { body: { kind: "email", address: `t-${org.orgId.slice(-8)}@acme.test`, provider: "postmark" } })).status).toBe(201);
  const { message } = await ingestOk(org, { contact });
  if (email) expect((await as(`/contacts/${message.contact_id}`, { method: "PATCH", body: { email } })).status).toBe(200);
  return { org, as, conversationId: message.conversation_id as string };
}

async function createTemplate(org: TestOrg, body: Record<string, unknown>) {
  const res = await org.as(org.owner)("/templates", { body });
  expect(res.status, await res.clone().text()).toBe(201);
  return json(res);
}

const preview = async (org: TestOrg, templateId: string, conversationId?: string) => {
  const res = await org.as(org.owner)(`/templates/${templateId}/render${conversationId ? `?conversation_id=${conversationId}` : ""}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return json<{ subject: string | null; body: string }>(res);
};

async function settle(org: TestOrg, conversationId: string, id: string) {
  const until = Date.now() + 40_000;
  for (;;) {
    const { data } = await json(await org.as(org.owner)(`/conversations/${conversationId}/messages?limit=100`));
    const m = data.find((x: { id: string }) => x.id === id);
    if (m.status === "sent" || m.status === "failed") return m;
    if (Date.now() > until) throw new Error(`message ${id} still ${m.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("templates CRUD", () => {
  it("creates, reads, lists in name order, changes and deletes", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const b = await createTemplate(org, { name: "beta", body: "B" });
    const a = await createTemplate(org, { name: "Alpha", channel: "email", subject: "Hello {{contact.first_name}}", body: "Hi {{contact.name}}" });
    const c = await createTemplate(org, { name: "Gamma", channel: "sms", body: "G" });
    expect(a).toMatchObject({ name: "Alpha", channel: "email", subject: "Hello {{contact.first_name}}", body: "Hi {{contact.name}}" });
    expect(a.created_at).toMatch(/Z$/);
    expect(b).toMatchObject({ channel: null, subject: null });
    expect(await json(await as(`/templates/${a.id}`))).toEqual(a);

    // Name order, case-insensitive, across pages.
    const first = await json(await as("/templates?limit=2"));
    expect(first.data.map((t: { name: string }) => t.name)).toEqual(["Alpha", "beta"]);
    const second = await json(await as(`/templates?limit=2&cursor=${first.next_cursor}`));
    expect(second.data.map((t: { name: string }) => t.name)).toEqual(["Gamma"]);
    expect(second.next_cursor).toBeNull();
    await expectProblem(await as("/templates?cursor=bm9wZQ"), 400, "validation_failed");

    const patched = await json(await as(`/templates/${c.id}`, { method: "PATCH", body: { name: "Aardvark", body: "New {{org.name}}" } }));
    expect(patched).toMatchObject({ id: c.id, name: "Aardvark", channel: "sms", body: "New {{org.name}}" });
    expect(Date.parse(patched.updated_at)).toBeGreaterThan(Date.parse(c.updated_at));
    // What a GET answers is accepted back (read-only fields ignored).
    expect((await as(`/templates/${c.id}`, { method: "PATCH", body: patched })).status).toBe(200);
    expect((await json(await as("/templates"))).data.map((t: { name: string }) => t.name)).toEqual(["Aardvark", "Alpha", "beta"]);

    expect((await as(`/templates/${b.id}`, { method: "DELETE" })).status).toBe(204);
    await expectProblem(await as(`/templates/${b.id}`), 404, "not_found");
    await expectProblem(await as(`/templates/${b.id}`, { method: "DELETE" }), 404, "not_found");
    await expectProblem(await as(`/templates/${b.id}`, { method: "PATCH", body: { name: "x" } }), 404, "not_found");
  });

  it("a name in unicode pages fine", async () => {
    const org = await newOrg();
    for (const name of ["Ça va", "Über", "日本語の挨拶", "😀 smile"]) await createTemplate(org, { name, body: "x" });
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await json(await org.as(org.owner)(`/templates?limit=1${cursor ? `&cursor=${cursor}` : ""}`));
      names.push(...page.data.map((t: { name: string }) => t.name));
      cursor = page.next_cursor;
    } while (cursor);
    expect(names).toHaveLength(4);
    expect(new Set(names).size).toBe(4);
  });

  it("members read and use them; only owners and admins write them", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const admin = await addMember(org, "admin");
    const t = await createTemplate(org, { name: "Hi", body: "Hi" });
    const asAgent = org.as(agent);
    expect((await asAgent("/templates")).status).toBe(200);
    expect((await asAgent(`/templates/${t.id}`)).status).toBe(200);
    expect((await asAgent(`/templates/${t.id}/render`)).status).toBe(200);
    await expectProblem(await asAgent("/templates", { body: { name: "Mine", body: "x" } }), 403, "forbidden");
    await expectProblem(await asAgent(`/templates/${t.id}`, { method: "PATCH", body: { body: "y" } }), 403, "forbidden");
    await expectProblem(await asAgent(`/templates/${t.id}`, { method: "DELETE" }), 403, "forbidden");
    expect((await org.as(admin)("/templates", { body: { name: "Admin's", body: "x" } })).status).toBe(201);
    expect((await org.as(admin)(`/templates/${t.id}`, { method: "PATCH", body: { body: "y" } })).status).toBe(200);
  });

  it("another org's template answers 404, and cannot be sent or previewed", async () => {
    const { org, conversationId } = await setup();
    const other = await newOrg("Other");
    const theirs = await createTemplate(other, { name: "Theirs", body: "secret {{org.name}}" });
    const as = org.as(org.owner);
    await expectProblem(await as(`/templates/${theirs.id}`), 404, "not_found");
    await expectProblem(await as(`/templates/${theirs.id}/render`), 404, "not_found");
    await expectProblem(await as(`/templates/${theirs.id}`, { method: "PATCH", body: { body: "mine" } }), 404, "not_found");
    await expectProblem(await as(`/templates/${theirs.id}`, { method: "DELETE" }), 404, "not_found");
    const refused = await expectProblem(
      await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", template_id: theirs.id } }),
      422,
      "template_invalid",
    );
    expect(refused.errors?.[0].path).toBe("template_id");
    expect(refused.detail).not.toContain("Other");
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", conversationId)).toBe(0);
    expect((await json(await other.as(other.owner)(`/templates/${theirs.id}`))).body).toBe("secret {{org.name}}");
    // A conversation of another org in the preview: 404.
    const mine = await createTemplate(org, { name: "Mine", body: "x" });
    const theirConversation = (await ingestOk(other, { contact: { phone: "+14155550199" } })).message.conversation_id;
    await expectProblem(await as(`/templates/${mine.id}/render?conversation_id=${theirConversation}`), 404, "not_found");
  });

  it("a taken name is 409 conflict, case-insensitively, on create and rename", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    await createTemplate(org, { name: "Welcome", body: "x" });
    const dup = await expectProblem(await as("/templates", { body: { name: "wELCOME", body: "y" } }), 409, "conflict");
    expect(dup.detail).toContain("wELCOME");
    await expectProblem(await as("/templates", { body: { name: "  WELCOME  ", body: "y" } }), 409, "conflict");
    expect((await as("/templates", { body: { name: "ÜBER", body: "y" } })).status).toBe(201);
    expect((await as("/templates", { body: { name: "über", body: "y" } })).status).toBe(409);
    const other = await createTemplate(org, { name: "Other", body: "z" });
    await expectProblem(await as(`/templates/${other.id}`, { method: "PATCH", body: { name: "welcome" } }), 409, "conflict");
    // Renaming a template to its own name in another case is fine.
    expect((await json(await as(`/templates/${other.id}`, { method: "PATCH", body: { name: "OTHER" } }))).name).toBe("OTHER");
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(3);
    // Another org may use the name.
    const b = await newOrg();
    await createTemplate(b, { name: "Welcome", body: "x" });
  });

  it("limits: name, body (sms 1600, else 50,000), subject (≤ 200, not for sms), the org's 500", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const bad = async (body: Record<string, unknown>, path: string) => {
      const p = await expectProblem(await as("/templates", { body }), 400, "validation_failed");
      expect(p.errors?.map((e) => e.path)).toContain(path);
    };
    await bad({ name: "", body: "x" }, "name");
    await bad({ name: "   ", body: "x" }, "name");
    await bad({ name: "n".repeat(81), body: "x" }, "name");
    await bad({ name: "n", body: "" }, "body");
    await bad({ name: "n", body: "   " }, "body");
    await bad({ name: "n", channel: "sms", body: "x".repeat(1601) }, "body");
    await bad({ name: "n", body: "x".repeat(50_001) }, "body");
    await bad({ name: "n", channel: "sms", subject: "Hi", body: "x" }, "subject");
    await bad({ name: "n", subject: "s".repeat(201), body: "x" }, "subject");
    await bad({ name: "n", channel: "fax", body: "x" }, "channel");
    await bad({ name: "n", body: "x", extra: 1 }, "extra");
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(0);
    await createTemplate(org, { name: "n".repeat(80), channel: "sms", body: "x".repeat(1600) });
    const long = await createTemplate(org, { name: "long", channel: "email", subject: "s".repeat(200), body: "x".repeat(50_000) });
    // A PATCH is checked as a whole: this email template cannot become sms.
    const p = await expectProblem(await as(`/templates/${long.id}`, { method: "PATCH", body: { channel: "sms" } }), 400, "validation_failed");
    expect(p.errors?.map((e) => e.path).sort()).toEqual(["body", "subject"]);
    expect((await as(`/templates/${long.id}`, { method: "PATCH", body: { channel: "sms", subject: null, body: "short" } })).status).toBe(200);

    // The org's cap: 500 (seeded straight into the shard, then one through the API).
    const shard = await shardOf(org.orgId);
    const now = Date.now();
    const rows = Array.from({ length: 498 }, (_, i) => [crypto.randomUUID(), org.orgId, `seed ${i}`, `seed ${i}`, "x", now, now]);
    for (let i = 0; i < rows.length; i += 50) {
      await shard.batch(
        rows
          .slice(i, i + 50)
          .map((r) =>
            shard.prepare("INSERT INTO templates (id, org_id, name, name_key, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)").bind(...r),
          ),
      );
    }
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(500);
    const full = await expectProblem(await as("/templates", { body: { name: "one more", body: "x" } }), 409, "conflict");
    expect(full.detail).toContain("500");
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(500);
  });

  it("an unknown variable or a malformed tag is refused when saving (422 template_invalid, naming it), and nothing is stored", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ name: "a", body: "Hi {{contact.nmae}}" }, "body", "{{contact.nmae}}"],
      [{ name: "a", body: "Hi {{ Contact.Name }}" }, "body", "{{Contact.Name}}"],
      [{ name: "a", body: "Hi {{}}" }, "body", "{{}}"],
      [{ name: "a", body: "Hi {{contact.name" }, "body", "malformed"],
      [{ name: "a", body: "Hi {{{contact.name}}}" }, "body", "malformed"],
      [{ name: "a", body: "Hi {{contact.name\n}}" }, "body", "malformed"],
      [{ name: "a", body: "{{ member.name }} {{deal.value}}" }, "body", "{{deal.value}}"],
      [{ name: "a", channel: "email", subject: "Re {{ticket.id}}", body: "ok" }, "subject", "{{ticket.id}}"],
    ];
    for (const [body, path, named] of cases) {
      const p = await expectProblem(await as("/templates", { body }), 422, "template_invalid");
      expect(p.errors?.[0].path, JSON.stringify(body)).toBe(path);
      expect(p.detail, JSON.stringify(body)).toContain(named);
    }
    // Every problem named (body and subject), at most 10 a field.
    const two = await expectProblem(
      await as("/templates", { body: { name: "a", subject: "{{x}}", body: "{{a}} {{contact.name}} {{b" } }),
      422,
      "template_invalid",
    );
    expect(two.errors?.map((e) => e.path)).toEqual(["body", "body", "subject"]);
    const many = await expectProblem(await as("/templates", { body: { name: "a", body: "{{x}}".repeat(5000) } }), 422, "template_invalid");
    expect(many.errors).toHaveLength(10);
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(0);
    const t = await createTemplate(org, { name: "ok", body: "Hi }} there {{contact.name}}" });
    const p = await expectProblem(await as(`/templates/${t.id}`, { method: "PATCH", body: { body: "Hi {{contact.surname}}" } }), 422, "template_invalid");
    expect(p.detail).toContain("{{contact.surname}}");
    expect((await json(await as(`/templates/${t.id}`))).body).toBe("Hi }} there {{contact.name}}");
  });

  it("POST honours Idempotency-Key: a repeat replays the first answer, one template stored", async () => {
    const org = await newOrg();
    const send = () => org.as(org.owner)("/templates", { body: { name: "Once", body: "x" }, headers: { "idempotency-key": "tpl-1" } });
    const first = await send();
    expect(first.status).toBe(201);
    const again = await send();
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(1);
    // Without the key, the same name is a conflict.
    await expectProblem(await org.as(org.owner)("/templates", { body: { name: "Once", body: "x" } }), 409, "conflict");
  });

  it("two creates of one name at once: one 201, one 409, never a 5xx (many rounds)", async () => {
    const org = await newOrg();
    const admin = await addMember(org, "admin");
    for (let round = 0; round < 15; round++) {
      const name = `Race ${round}`;
      const statuses = (
        await Promise.all([
          org.as(org.owner)("/templates", { body: { name, body: "a" } }),
          org.as(admin)("/templates", { body: { name: name.toUpperCase(), body: "b" } }),
        ])
      )
        .map((r) => r.status)
        .sort();
      expect(statuses, `round ${round}`).toEqual([201, 409]);
    }
    expect(await count("templates", "org_id = ?", org.orgId)).toBe(15);
    // Two renames to one name at once.
    for (let round = 0; round < 8; round++) {
      const [x, y] = await Promise.all([createTemplate(org, { name: `x${round}`, body: "x" }), createTemplate(org, { name: `y${round}`, body: "y" })]);
      const statuses = (
        await Promise.all([
          org.as(org.owner)(`/templates/${x.id}`, { method: "PATCH", body: { name: `z${round}` } }),
          org.as(admin)(`/templates/${y.id}`, { method: "PATCH", body: { name: `Z${round}` } }),
        ])
      )
        .map((r) => r.status)
        .sort();
      expect(statuses, `rename round ${round}`).toEqual([200, 409]);
    }
  });
});

describe("rendering", () => {
  it("each variable, from the contact, the sending member and the org", async () => {
    const { org, conversationId } = await setup({ phone: "+14155550142", name: "  Maria   del Carmen Lopez " });
    const t = await createTemplate(org, {
      name: "All",
      body: "{{contact.name}}|{{contact.first_name}}|{{contact.phone}}|{{contact.email}}|{{member.name}}|{{org.name}}",
    });
    const r = await preview(org, t.id, conversationId);
    const [name, first, ...rest] = r.body.split("|");
    expect(first).toBe("Maria");
    expect(name.trim()).toMatch(/^Maria\s+del Carmen Lopez$/);
    expect(rest).toEqual(["+14155550142", "maria@example.com", "Olivia Owner", "Acme Dental"]);
    expect(r.subject).toBeNull();
  });

  it("white space inside the braces, repeats, and text around the tags are kept as written", async () => {
    const { org, conversationId } = await setup();
    const t = await createTemplate(org, { name: "ws", body: "Hi {{ contact.first_name }},\n\n{{contact.first_name}}!  — {{   org.name\t}} }} {single}" });
    expect((await preview(org, t.id, conversationId)).body).toBe("Hi Maria,\n\nMaria!  — Acme Dental }} {single}");
  });

  it("a missing value renders empty; `|fallback` fills it (and only when empty)", async () => {
    const { org, conversationId } = await setup({ phone: "+14155550143" }, null);
    const t = await createTemplate(org, {
      name: "fb",
      body: "Hi {{contact.first_name|there}}, [{{contact.name}}] [{{contact.email}}] {{ contact.email | no email on file }} {{contact.phone|x}}",
    });
    expect((await preview(org, t.id, conversationId)).body).toBe("Hi there, [] [] no email on file +14155550143");
    // With a name, the fallback steps aside.
    const named = await setup();
    const t2 = await createTemplate(named.org, { name: "fb", body: "Hi {{contact.first_name|there}}" });
    expect((await preview(named.org, t2.id, named.conversationId)).body).toBe("Hi Maria");
    // Without a conversation: the contact's values are empty, the rest is filled.
    const t3 = await createTemplate(named.org, { name: "nc", body: "Hi {{contact.first_name|there}} from {{member.name}} at {{org.name}}" });
    expect(await preview(named.org, t3.id)).toEqual({ subject: null, body: "Hi there from Olivia Owner at Acme Dental" });
  });

  it("{{member.name}}: the member's name, else their token's name claim, else empty (or the fallback)", async () => {
    const { org, conversationId } = await setup();
    const t = await createTemplate(org, { name: "m", body: "{{member.name|Team}}" });
    const named = await actor({ name: "Claire Claims" });
    expect((await org.as(org.owner)(`/members/${named.userId}`, { method: "PUT", body: { role: "agent" } })).status).toBe(201);
    const stored = await actor({ name: "Token Name" });
    expect((await org.as(org.owner)(`/members/${stored.userId}`, { method: "PUT", body: { role: "agent", name: "Stored Name" } })).status).toBe(201);
    const nameless = await addMember(org, "agent");
    const render = async (who: typeof named) => json(await org.as(who)(`/templates/${t.id}/render?conversation_id=${conversationId}`));
    expect((await render(named)).body).toBe("Claire Claims");
    expect((await render(stored)).body).toBe("Stored Name");
    expect((await render(nameless)).body).toBe("Team");
  });

  it("values are plain text: no escaping, and a value's braces are not read as tags", async () => {
    const { org, conversationId } = await setup({ phone: "+14155550144", name: "<b>Tom</b> & {{org.name}}" });
    const t = await createTemplate(org, { name: "raw", body: "Hi {{contact.name}}" });
    expect((await preview(org, t.id, conversationId)).body).toBe("Hi <b>Tom</b> & {{org.name}}");
  });
});

describe("sending with template_id", () => {
  it("an sms: the preview equals the stored and the sent body", async () => {
    const { org, as, conversationId } = await setup();
    const t = await createTemplate(org, {
      name: "Reminder",
      channel: "sms",
      body: "Hi {{contact.first_name|there}}, see you soon. — {{member.name}}, {{org.name}}",
    });
    const { body } = await preview(org, t.id, conversationId);
    expect(body).toBe("Hi Maria, see you soon. — Olivia Owner, Acme Dental");
    const res = await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", template_id: t.id } });
    expect(res.status, await res.clone().text()).toBe(202);
    const queued = await json(res);
    expect(queued.body).toBe(body);
    const sent = await settle(org, conversationId, queued.id);
    expect(sent.status).toBe("sent");
    expect(sent.body).toBe(body);
    expect(seen).toHaveLength(1);
    expect(new URLSearchParams(seen[0].body).get("Body")).toBe(body);
  });

  it("an email takes the template's rendered subject unless the request gives one", async () => {
    const { org, as, conversationId } = await setup();
    const t = await createTemplate(org, {
      name: "Visit",
      channel: "email",
      subject: "Your visit, {{ contact.first_name }}",
      body: "Dear {{contact.name}},\nsee you Tuesday.\n{{org.name}}",
    });
    const r = await preview(org, t.id, conversationId);
    expect(r).toEqual({ subject: "Your visit, Maria", body: "Dear Maria Lopez,\nsee you Tuesday.\nAcme Dental" });
    const queued = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", template_id: t.id } }));
    expect(queued).toMatchObject({ type: "email", subject: r.subject, body: r.body, html: null });
    const sent = await settle(org, conversationId, queued.id);
    expect(sent.status).toBe("sent");
    const mail = JSON.parse(seen[0].body);
    expect(mail).toMatchObject({ Subject: "Your visit, Maria", TextBody: r.body });
    // The request's own subject wins.
    const own = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", template_id: t.id, subject: "Mine" } }));
    expect(own.subject).toBe("Mine");
    // A template without a subject answers the thread (its last email), as a typed email does.
    const plain = await createTemplate(org, { name: "Plain", body: "Thanks, {{contact.first_name}}" });
    const reply = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "email", template_id: plain.id } }));
    expect(reply).toMatchObject({ subject: "Re: Mine", body: "Thanks, Maria" });
    // A channel-less template also makes a note (its subject is for emails only).
    const note = await as(`/conversations/${conversationId}/messages`, { body: { type: "note", template_id: plain.id } });
    expect(note.status).toBe(201);
    expect(await json(note)).toMatchObject({ type: "note", body: "Thanks, Maria", subject: null });
  });

  it("refusals: body and template_id both or neither (400), another channel's template, a render too long or empty (422), nothing stored", async () => {
    const { org, as, conversationId } = await setup({ phone: "+14155550145" }, null);
    const sms = await createTemplate(org, { name: "s", channel: "sms", body: "Hi" });
    const email = await createTemplate(org, { name: "e", channel: "email", subject: "S", body: "Hi" });
    const send = (body: Record<string, unknown>) => as(`/conversations/${conversationId}/messages`, { body });
    const both = await expectProblem(await send({ type: "sms", body: "x", template_id: sms.id }), 400, "validation_failed");
    expect(both.errors?.[0].path).toBe("template_id");
    await expectProblem(await send({ type: "sms" }), 400, "validation_failed");
    await expectProblem(await send({ type: "email", template_id: email.id, html: "<p>x</p>" }), 400, "validation_failed");
    const wrong = await expectProblem(await send({ type: "email", template_id: sms.id }), 422, "template_invalid");
    expect(wrong.detail).toContain("sms template");
    await expectProblem(await send({ type: "sms", template_id: email.id }), 422, "template_invalid");
    await expectProblem(await send({ type: "note", template_id: sms.id }), 422, "template_invalid");
    await expectProblem(await send({ type: "sms", template_id: crypto.randomUUID() }), 422, "template_invalid");
    // Renders empty for a contact without a name.
    const empty = await createTemplate(org, { name: "empty", body: "{{contact.name}}" });
    await expectProblem(await send({ type: "sms", template_id: empty.id }), 422, "template_invalid");
    // A channel-less template longer than an sms can carry, sent as one.
    const grow = await createTemplate(org, { name: "grow", body: `${"x".repeat(1590)} {{contact.phone}}` });
    const long = await expectProblem(await send({ type: "sms", template_id: grow.id }), 422, "template_invalid");
    expect(long.detail).toContain("1600");
    // Unknown conversation: 404, as without a template.
    await expectProblem(await as(`/conversations/${crypto.randomUUID()}/messages`, { body: { type: "sms", template_id: sms.id } }), 404, "not_found");
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", conversationId)).toBe(0);
    expect(seen).toHaveLength(0);
  });

  it("a template changed or deleted after the preview: the send renders what the template is now", async () => {
    const { org, as, conversationId } = await setup();
    const t = await createTemplate(org, { name: "v", body: "one {{contact.first_name}}" });
    expect((await preview(org, t.id, conversationId)).body).toBe("one Maria");
    await as(`/templates/${t.id}`, { method: "PATCH", body: { body: "two {{contact.first_name}}" } });
    const sent = await json(await as(`/conversations/${conversationId}/messages`, { body: { type: "note", template_id: t.id } }));
    expect(sent.body).toBe("two Maria");
    await as(`/templates/${t.id}`, { method: "DELETE" });
    await expectProblem(await as(`/conversations/${conversationId}/messages`, { body: { type: "note", template_id: t.id } }), 422, "template_invalid");
  });
});
