import { beforeAll, describe, expect, it } from "vitest";
import { type Actor, actor, addMember, call, count, expectProblem, ingestOk, json, minutesAgo, newOrg, type TestOrg } from "./helpers";

type Conv = {
  id: string;
  unread_count: number;
  starred: boolean;
  archived: boolean;
  assigned_to: string | null;
  overdue: boolean;
  updated_at: string;
  last_read_at: string | null;
};

async function walk(org: TestOrg, query: string, limit = 7): Promise<Conv[]> {
  const seen: Conv[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: Conv[]; next_cursor: string | null } = await json(
      await org.as(org.owner)(`/conversations?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`),
    );
    expect(page.data.length).toBeLessThanOrEqual(limit);
    seen.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return seen;
}

describe("GET /conversations", () => {
  it("keyset pagination over 60 conversations with limit 7 returns each exactly once, newest first", async () => {
    const org = await newOrg();
    // Equal timestamps in pairs, so the id tiebreak is exercised.
    for (let i = 0; i < 60; i++) {
      await ingestOk(org, { contact: { phone: `+1415555${String(1000 + i)}` }, occurred_at: minutesAgo(100 - Math.floor(i / 2)) });
    }
    const seen = await walk(org, "scope=team");
    expect(seen).toHaveLength(60);
    expect(new Set(seen.map((c) => c.id)).size).toBe(60);
    const times = seen.map((c: any) => Date.parse(c.last_activity_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it("bad cursor, limit 0 or 101, non-boolean filters → 400 validation_failed", async () => {
    const org = await newOrg();
    for (const q of [
      "limit=0",
      "limit=101",
      "limit=ten",
      "cursor=abc",
      `cursor=${btoa(JSON.stringify([1, "x"]))}`,
      "starred=yes",
      "archived=1",
      "scope=everyone",
      "assigned_to=bob",
      "contact_id=7",
    ]) {
      await expectProblem(await org.as(org.owner)(`/conversations?${q}`), 400, "validation_failed");
    }
  });

  describe("filters", () => {
    let org: TestOrg;
    let agent: Actor;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      org = await newOrg();
      agent = await addMember(org, "agent");
      const as = org.as(org.owner);
      const mk = async (name: string, phone: string, extra: Record<string, unknown> = {}) => {
        const { message } = await ingestOk(org, { contact: { phone, name }, ...extra });
        ids[name] = message.conversation_id;
      };
      await mk("overdue", "+14155552001", { occurred_at: minutesAgo(120) });
      await mk("fresh", "+14155552002");
      await mk("answered", "+14155552003", { direction: "outbound" });
      await mk("archived", "+14155552004", { occurred_at: minutesAgo(120) });
      await mk("mine", "+14155552005", { direction: "outbound" });
      await as(`/conversations/${ids.archived}/archive`, { body: { archived: true } });
      await as(`/conversations/${ids.fresh}/star`, { method: "POST" });
      await as(`/conversations/${ids.mine}/assign`, { body: { assigned_to: agent.userId } });
      await as(`/conversations/${ids.overdue}/assign`, { body: { assigned_to: org.owner.userId } });
    });
    const names = async (query: string, who?: Actor) => {
      const { data } = await json(await org.as(who ?? org.owner)(`/conversations?${query}`));
      return data.map((c: Conv) => Object.keys(ids).find((k) => ids[k] === c.id)).sort();
    };

    it("archived (default false)", async () => {
      expect(await names("")).toEqual(["answered", "fresh", "mine", "overdue"]);
      expect(await names("archived=true")).toEqual(["archived"]);
    });
    it("scope=mine is the caller's; team is everyone's", async () => {
      expect(await names("scope=mine", agent)).toEqual(["mine"]);
      expect(await names("scope=mine")).toEqual(["overdue"]);
      expect(await names("scope=team", agent)).toEqual(["answered", "fresh", "mine", "overdue"]);
    });
    it("assigned_to a member or unassigned", async () => {
      expect(await names(`assigned_to=${agent.userId}`)).toEqual(["mine"]);
      expect(await names("assigned_to=unassigned")).toEqual(["answered", "fresh"]);
    });
    it("starred and unread", async () => {
      expect(await names("starred=true")).toEqual(["fresh"]);
      expect(await names("starred=false")).toEqual(["answered", "mine", "overdue"]);
      expect(await names("unread=true")).toEqual(["fresh", "overdue"]);
      expect(await names("unread=false")).toEqual(["answered", "mine"]);
    });
    it("overdue (sla_due_at passed, not archived)", async () => {
      expect(await names("overdue=true")).toEqual(["overdue"]);
      expect(await names("overdue=false")).toEqual(["answered", "fresh", "mine"]);
      expect(await names("overdue=true&archived=true")).toEqual([]);
    });
    it("contact_id, and filters combined", async () => {
      const { contact } = await json(await org.as(org.owner)(`/conversations/${ids.fresh}`));
      expect(await names(`contact_id=${contact.id}`)).toEqual(["fresh"]);
      expect(await names("unread=true&starred=false")).toEqual(["overdue"]);
    });
  });
});

describe("GET /conversations/{id}/messages", () => {
  it("pages a thread newest first (or oldest first with order=asc), calls inline", async () => {
    const org = await newOrg();
    const made: string[] = [];
    for (let i = 0; i < 9; i++) {
      const { message } = await ingestOk(org, { occurred_at: minutesAgo(60 - i), body: `m${i}` });
      made.push(message.id);
    }
    const { message: callMsg } = await ingestOk(org, {
      type: "call",
      body: undefined,
      call: { status: "completed", duration_seconds: 30, summary: "Booked a cleaning." },
      occurred_at: minutesAgo(1),
    });
    made.push(callMsg.id);
    const conversationId = callMsg.conversation_id;
    const collect = async (order: string) => {
      const out: any[] = [];
      let cursor: string | null = null;
      do {
        const p: any = await json(
          await org.as(org.owner)(`/conversations/${conversationId}/messages?order=${order}&limit=4${cursor ? `&cursor=${cursor}` : ""}`),
        );
        out.push(...p.data);
        cursor = p.next_cursor;
      } while (cursor);
      return out;
    };
    const desc = await collect("desc");
    expect(desc.map((m) => m.id)).toEqual([...made].reverse());
    expect(desc[0]).toMatchObject({ type: "call", call: { summary: "Booked a cleaning.", summary_status: "ready", duration_seconds: 30 } });
    expect((await collect("asc")).map((m) => m.id)).toEqual(made);
    await expectProblem(await org.as(org.owner)(`/conversations/${conversationId}/messages?order=up`), 400, "validation_failed");
  });
});

describe("POST /contacts/{id}/conversations", () => {
  it("opens (201) and then returns (200) the contact's one conversation", async () => {
    const org = await newOrg();
    const contact = await json(await org.as(org.owner)("/contacts", { body: { name: "New", phone: "+14155553001" } }));
    const first = await org.as(org.owner)(`/contacts/${contact.id}/conversations`, { method: "POST" });
    expect(first.status).toBe(201);
    const opened = await json(first);
    expect(opened).toMatchObject({ contact: { id: contact.id }, unread_count: 0, last_activity: null, last_activity_at: null });
    const again = await org.as(org.owner)(`/contacts/${contact.id}/conversations`, { method: "POST" });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual(opened);
    const { pending_suggestion, ...fetched } = await json(await org.as(org.owner)(`/conversations/${opened.id}`));
    expect(fetched).toEqual(opened);
    // It lists, and its first activity lands in it.
    const { data } = await json(await org.as(org.owner)("/conversations"));
    expect(data.map((c: Conv) => c.id)).toContain(opened.id);
    const { message } = await ingestOk(org, { contact: { id: contact.id } });
    expect(message.conversation_id).toBe(opened.id);
  });
});

describe("inbox state", () => {
  it("star/unstar, read/unread, archive, assign answer the conversation and are idempotent", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(agent);
    await ingestOk(org);
    const { message } = await ingestOk(org);
    const base = `/conversations/${message.conversation_id}`;
    // Each action answers exactly what GET answers next.
    const act = async (path: string, o: { method?: string; body?: unknown } = { method: "POST" }) => {
      const res = await as(`${base}${path}`, o);
      expect(res.status).toBe(200);
      const answered = (await res.json()) as Conv;
      const { pending_suggestion, ...current } = await json(await as(base));
      expect(pending_suggestion).toBeNull();
      expect(answered).toEqual(current);
      expect(answered.id).toBe(message.conversation_id);
      return answered;
    };
    expect((await act("/star")).starred).toBe(true);
    const starredTwice = await act("/star");
    expect(starredTwice.starred).toBe(true);
    expect((await act("/star", { method: "DELETE" })).starred).toBe(false);
    expect((await act("/star", { method: "DELETE" })).starred).toBe(false);

    expect((await json(await as(base))).unread_count).toBe(2);
    const read = await act("/read");
    expect(read.unread_count).toBe(0);
    expect(Date.parse(read.last_read_at!)).toBeGreaterThan(Date.now() - 5000);
    expect((await act("/read")).unread_count).toBe(0);
    expect((await act("/unread")).unread_count).toBe(1);
    expect((await act("/unread")).unread_count).toBe(1);
    await ingestOk(org);
    expect((await act("/unread")).unread_count).toBe(2);

    expect((await act("/archive", { body: { archived: true } })).archived).toBe(true);
    const archivedTwice = await act("/archive", { body: { archived: true } });
    expect(archivedTwice.archived).toBe(true);
    expect((await act("/archive", { body: { archived: false } })).archived).toBe(false);

    expect((await act("/assign", { body: { assigned_to: agent.userId } })).assigned_to).toBe(agent.userId);
    const again = await act("/assign", { body: { assigned_to: agent.userId } });
    expect(again.assigned_to).toBe(agent.userId);
    expect((await act("/assign", { body: { assigned_to: null } })).assigned_to).toBeNull();
  });

  it("a repeated action does not touch updated_at", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org);
    const base = `/conversations/${message.conversation_id}`;
    const first = await json(await org.as(org.owner)(`${base}/star`, { method: "POST" }));
    await new Promise((r) => setTimeout(r, 5));
    const second = await json(await org.as(org.owner)(`${base}/star`, { method: "POST" }));
    expect(second.updated_at).toBe(first.updated_at);
  });

  it("assign to a non-member → 422 assignee_not_member, nothing changed; bad bodies → 400", async () => {
    const org = await newOrg();
    const other = await newOrg("Other");
    const { message } = await ingestOk(org);
    const base = `/conversations/${message.conversation_id}`;
    const before = await json(await org.as(org.owner)(base));
    const p = await expectProblem(await org.as(org.owner)(`${base}/assign`, { body: { assigned_to: other.owner.userId } }), 422, "assignee_not_member");
    expect(p.errors?.[0].path).toBe("assigned_to");
    await expectProblem(await org.as(org.owner)(`${base}/assign`, { body: { assigned_to: "bob" } }), 400, "validation_failed");
    await expectProblem(await org.as(org.owner)(`${base}/assign`, { body: {} }), 400, "validation_failed");
    await expectProblem(await org.as(org.owner)(`${base}/archive`, { body: { archived: "yes" } }), 400, "validation_failed");
    expect(await json(await org.as(org.owner)(base))).toEqual(before);
  });
});

describe("tenancy", () => {
  it("a member of org B, with org B's X-Org-Id, gets 404 for org A's ids on every route, and org A is unchanged", async () => {
    const a = await newOrg("A");
    const b = await newOrg("B");
    const { message } = await ingestOk(a);
    const id = message.conversation_id;
    const contactId = message.contact_id;
    const snapshot = async () => ({
      conv: await json(await a.as(a.owner)(`/conversations/${id}`)),
      rows: await count("conversations"),
    });
    const before = await snapshot();
    const asB = b.as(b.owner);
    const attempts: [string, { method?: string; body?: unknown }][] = [
      [`/conversations/${id}`, {}],
      [`/conversations/${id}/messages`, {}],
      [`/conversations/${id}/star`, { method: "POST" }],
      [`/conversations/${id}/star`, { method: "DELETE" }],
      [`/conversations/${id}/read`, { method: "POST" }],
      [`/conversations/${id}/unread`, { method: "POST" }],
      [`/conversations/${id}/archive`, { body: { archived: true } }],
      [`/conversations/${id}/assign`, { body: { assigned_to: null } }],
      [`/contacts/${contactId}/conversations`, { method: "POST" }],
    ];
    for (const [path, o] of attempts) await expectProblem(await asB(path, o), 404, "not_found");
    await expectProblem(
      await asB("/activities", { body: { contact: { id: contactId }, type: "sms", direction: "inbound", body: "x", provider: "twilio" } }),
      422,
      "unknown_contact",
    );
    const { data } = await json(await asB(`/conversations?contact_id=${contactId}`));
    expect(data).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("org routes refuse strangers (403) and anonymous callers (401)", async () => {
    const a = await newOrg("A");
    const stranger = await actor();
    await expectProblem(await call("/conversations", { token: stranger.token, org: a.orgId }), 403, "forbidden");
    await expectProblem(await call("/conversations", { org: a.orgId }), 401, "unauthenticated");
  });
});
