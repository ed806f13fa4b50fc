import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleAiJob } from "../src/setter/jobs";
import { addMember, count, expectProblem, ingestOk, json, minutesAgo, newOrg, shardOf, type TestOrg } from "./helpers";

// The LLM lies outside this Worker: answered here, at the HTTP boundary (llm.fake).
type Seen = { url: string; headers: Headers; body: any };
let seen: Seen[] = [];
let llm: (body: any) => Response = () => Response.json({ choices: [{ message: { role: "assistant", content: "Tuesday at 2pm works. See you then!" } }] });
beforeEach(() => {
  seen = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (new URL(req.url).host !== "llm.fake") return real(input as RequestInfo, init);
    const body = await req.json();
    seen.push({ url: req.url, headers: req.headers, body });
    return llm(body);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  llm = () => Response.json({ choices: [{ message: { role: "assistant", content: "Tuesday at 2pm works. See you then!" } }] });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const detail = async (org: TestOrg, id: string) => json(await org.as(org.owner)(`/conversations/${id}`));
const thread = async (org: TestOrg, id: string, q = "") => (await json(await org.as(org.owner)(`/conversations/${id}/messages?limit=100${q}`))).data as any[];
const suggestive = (org: TestOrg, instructions = "We are Bright Smile Dental. Offer Tuesday or Thursday afternoons.") =>
  org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "suggestive", instructions } });

let numbers = 0;
async function withSms(org: TestOrg) {
  const res = await org.as(org.owner)("/channels", { body: { kind: "sms", address: `+1415557${String(1000 + ++numbers)}`, provider: "log" } });
  expect(res.status).toBe(201);
}

/** A transcribed call's summary goes through the same queue after the sms before it: a barrier. */
async function afterQueue(org: TestOrg, phone: string) {
  const { message } = await ingestOk(org, {
    contact: { phone },
    type: "call",
    direction: "inbound",
    occurred_at: minutesAgo(30),
    call: { status: "completed", duration_seconds: 60, transcript: "Hi, this is a barrier call. I would like to confirm my appointment on Tuesday at 3pm." },
  });
  await until("the barrier call's summary", async () =>
    (await thread(org, message.conversation_id)).find((m) => m.id === message.id && m.call.summary_status !== "pending"),
  );
}

describe("GET|PUT /setter/config", () => {
  it("is off by default, names the generator, and is owner/admin only", async () => {
    const org = await newOrg();
    expect(await json(await org.as(org.owner)("/setter/config"))).toEqual({
      mode: "off",
      instructions: null,
      generator: "openai-compatible",
      updated_at: null,
    });
    const res = await suggestive(org, "  Be brief.  ");
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ mode: "suggestive", instructions: "Be brief.", generator: "openai-compatible" });
    expect(await json(await org.as(org.owner)("/setter/config"))).toMatchObject({ mode: "suggestive", instructions: "Be brief." });

    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/setter/config"), 403, "forbidden");
    await expectProblem(await org.as(agent)("/setter/config", { method: "PUT", body: { mode: "off" } }), 403, "forbidden");
    await expectProblem(await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "auto" } }), 400, "validation_failed");
    await expectProblem(await org.as(org.owner)("/setter/config", { method: "PUT", body: { mode: "off", model: "x" } }), 400, "validation_failed");
    expect(await json(await org.as(org.owner)("/setter/config"))).toMatchObject({ mode: "suggestive", instructions: "Be brief." });
  });
});

describe("setter drafts", () => {
  it("in suggestive mode an inbound sms gets a draft written from the instructions and the thread", async () => {
    const org = await newOrg("Bright Smile");
    await withSms(org);
    expect((await suggestive(org)).status).toBe(200);
    await ingestOk(org, { contact: { phone: "+14155550199" }, body: "Hi, do you have openings next week?", occurred_at: minutesAgo(10) });
    await ingestOk(org, { contact: { phone: "+14155550199" }, direction: "outbound", body: "We do! Which day suits you?", occurred_at: minutesAgo(8) });
    const { message } = await ingestOk(org, { contact: { phone: "+14155550199" }, body: "Tuesday afternoon if possible", occurred_at: minutesAgo(1) });

    const conversation = await until("a draft", async () => (await detail(org, message.conversation_id)).pending_suggestion);
    expect(conversation).toMatchObject({
      type: "suggestion",
      channel: "sms",
      body: "Tuesday at 2pm works. See you then!",
      status: "pending",
      sent_message_id: null,
    });

    // The prompt: the org's instructions, then the thread as chat turns, the contact's last message last.
    const drafts = seen.filter((s) => s.body.messages.some((m: any) => m.content.includes("Tuesday afternoon")));
    expect(drafts.length).toBeGreaterThan(0);
    const req = drafts[drafts.length - 1];
    expect(req.url).toBe("https://llm.fake/v1/chat/completions");
    expect(req.headers.get("authorization")).toBe("Bearer llm-test-key");
    expect(req.body.model).toBe("fake-model");
    const [system, ...turns] = req.body.messages;
    expect(system.role).toBe("system");
    expect(system.content).toContain("Offer Tuesday or Thursday afternoons.");
    expect(system.content).toContain("SMS");
    expect(turns).toEqual([
      { role: "user", content: "Hi, do you have openings next week?" },
      { role: "assistant", content: "We do! Which day suits you?" },
      { role: "user", content: "Tuesday afternoon if possible" },
    ]);
    // Hidden from the thread unless asked for.
    expect((await thread(org, message.conversation_id)).some((m) => m.type === "suggestion")).toBe(false);
    expect((await thread(org, message.conversation_id, "&include=suggestions")).filter((m) => m.type === "suggestion")).toHaveLength(1);
  });

  it("the org's saved replies for the draft's channel are in the prompt as examples, rendered for the contact", async () => {
    const org = await newOrg("Bright Smile");
    await withSms(org);
    expect((await suggestive(org)).status).toBe(200);
    const as = org.as(org.owner);
    const template = (body: Record<string, unknown>) => as("/templates", { body }).then((r) => expect(r.status).toBe(201));
    await template({ name: "Opening hours", channel: "sms", body: "Hi {{contact.first_name|there}}, we open at 8 on weekdays. {{member.name|The team}}" });
    await template({ name: "Any channel", body: "Thanks for writing to {{org.name}}!" });
    await template({ name: "Invoice email", channel: "email", subject: "Your invoice", body: "EMAIL-ONLY invoice text" });
    const { message } = await ingestOk(org, { contact: { phone: "+14155550177", name: "Maria Lopez" }, body: "When do you open?" });
    await until("a draft", async () => (await detail(org, message.conversation_id)).pending_suggestion);
    const req = seen.filter((x) => x.body.messages.some((m: any) => m.content.includes("When do you open?"))).at(-1)!;
    const system: string = req.body.messages[0].content;
    expect(system).toContain("Saved replies Bright Smile uses");
    expect(system).toContain("- Opening hours: Hi Maria, we open at 8 on weekdays. The team");
    expect(system).toContain("- Any channel: Thanks for writing to Bright Smile!");
    expect(system).not.toContain("EMAIL-ONLY");
    expect(system).not.toContain("{{");
  });

  it("writes nothing in off mode, and nothing when the LLM fails or times out (the ingest still succeeds)", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org, { contact: { phone: "+14155550301" }, body: "Anyone there?" });
    await afterQueue(org, "+14155550302");
    expect(seen.some((s) => JSON.stringify(s.body).includes("Anyone there?"))).toBe(false);
    expect((await detail(org, message.conversation_id)).pending_suggestion).toBeNull();

    expect((await suggestive(org)).status).toBe(200);
    llm = () => new Response("upstream exploded", { status: 500 });
    const failed = await ingestOk(org, { contact: { phone: "+14155550303" }, body: "Hello?" });
    await until("the failing LLM call", async () => seen.some((s) => JSON.stringify(s.body).includes("Hello?")));
    await afterQueue(org, "+14155550304");
    expect((await detail(org, failed.message.conversation_id)).pending_suggestion).toBeNull();
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion'", failed.message.conversation_id)).toBe(0);
  });

  it("a draft for a message already answered is dropped", async () => {
    const org = await newOrg();
    await withSms(org);
    expect((await suggestive(org)).status).toBe(200);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    llm = () => Response.json({ choices: [{ message: { content: "Late draft" } }] });
    const slow = llm;
    llm = (body) => {
      // Hold the first draft until a member has replied.
      return body.messages.some((m: any) => m.content === "Question?") ? (gate.then(() => slow(body)) as unknown as Response) : slow(body);
    };
    const { message } = await ingestOk(org, { contact: { phone: "+14155550311" }, body: "Question?" });
    await until("the LLM call", async () => seen.length > 0);
    expect((await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`, { body: { type: "sms", body: "Answered by hand" } })).status).toBe(
      202,
    );
    release();
    await afterQueue(org, "+14155550312");
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion'", message.conversation_id)).toBe(0);
  });

  it("the Workers AI binding (stubbed) is used when no LLM_BASE_URL is set", async () => {
    const org = await newOrg();
    expect((await suggestive(org)).status).toBe(200);
    const { message } = await ingestOk(org, { contact: { phone: "+14155550321" }, body: "Can I get a quote?" });
    const calls: { model: string; input: any }[] = [];
    const AI = { run: async (model: string, input: any) => (calls.push({ model, input }), { response: " Sure! What do you need quoted? " }) } as unknown as Ai;
    await handleAiJob(
      { ...env, LLM_BASE_URL: undefined, AI },
      { kind: "draft", orgId: org.orgId, conversationId: message.conversation_id, triggerId: message.id },
    );
    expect(calls).toHaveLength(1);
    expect(calls[0].model).toBe("@cf/meta/llama-3.1-8b-instruct");
    expect(calls[0].input.messages.at(-1)).toEqual({ role: "user", content: "Can I get a quote?" });
    expect((await detail(org, message.conversation_id)).pending_suggestion).toMatchObject({ body: "Sure! What do you need quoted?", status: "pending" });
  });
});

describe("suggestions: post, send, dismiss", () => {
  async function setup() {
    const org = await newOrg();
    await withSms(org);
    const { message } = await ingestOk(org, { contact: { phone: "+14155550401" }, body: "Is Tuesday free?" });
    return { org, as: org.as(org.owner), id: message.conversation_id as string };
  }
  const post = (org: TestOrg, id: string, body: unknown) => org.as(org.owner)(`/conversations/${id}/suggestions`, { body });

  it("a new draft supersedes the pending one; at most one is pending", async () => {
    const { org, id } = await setup();
    const first = await json(await post(org, id, { body: "Yes, Tuesday is free." }));
    expect(first).toMatchObject({ type: "suggestion", channel: "sms", status: "pending", subject: null, resolved_at: null });
    const res = await post(org, id, { body: "Tuesday at 2pm?" });
    expect(res.status).toBe(201);
    const second = await json(res);
    expect((await detail(org, id)).pending_suggestion.id).toBe(second.id);
    const drafts = (await thread(org, id, "&include=suggestions")).filter((m) => m.type === "suggestion");
    expect(drafts.map((d) => [d.id, d.status])).toEqual(
      expect.arrayContaining([
        [first.id, "superseded"],
        [second.id, "pending"],
      ]),
    );
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion' AND status = 'pending'", id)).toBe(1);
  });

  it("refuses bad drafts with nothing stored, and another org's conversation is 404", async () => {
    const { org, id } = await setup();
    await expectProblem(await post(org, id, { body: "" }), 400, "validation_failed");
    await expectProblem(await post(org, id, { body: "x".repeat(1601) }), 400, "validation_failed");
    await expectProblem(await post(org, id, { body: "hi", channel: "sms", subject: "Re" }), 400, "validation_failed");
    await expectProblem(await post(org, id, { body: "hi", channel: "fax" }), 400, "validation_failed");
    const other = await newOrg();
    await expectProblem(await other.as(other.owner)(`/conversations/${id}/suggestions`, { body: { body: "hi" } }), 404, "not_found");
    expect(await count("activities", "conversation_id = ? AND type = 'suggestion'", id)).toBe(0);
  });

  it("one-click send: 202 with the sent draft and the queued message, and an `accepted` training pair", async () => {
    const { org, as, id } = await setup();
    const draft = await json(await post(org, id, { body: "Yes, Tuesday is free." }));
    const res = await as(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST" });
    expect(res.status).toBe(202);
    const { suggestion, message } = await json(res);
    expect(message).toMatchObject({ type: "sms", direction: "outbound", body: "Yes, Tuesday is free.", status: "queued", author_id: org.owner.userId });
    expect(suggestion).toMatchObject({ id: draft.id, status: "sent", sent_message_id: message.id, resolved_by: org.owner.userId });
    expect((await detail(org, id)).pending_suggestion).toBeNull();
    const { data: pairs } = await json(await as("/setter/training-pairs"));
    expect(pairs).toHaveLength(1);
    expect(pairs[0]).toMatchObject({
      suggestion_id: draft.id,
      sent_message_id: message.id,
      label: "accepted",
      similarity: 1,
      draft: "Yes, Tuesday is free.",
      sent: "Yes, Tuesday is free.",
    });
    expect(pairs[0].context).toEqual([{ role: "contact", body: "Is Tuesday free?", occurred_at: expect.any(String) }]);

    // Resolved: a second send and a dismiss are 409, and nothing more is sent.
    await expectProblem(await as(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST" }), 409, "suggestion_not_pending");
    await expectProblem(await as(`/conversations/${id}/suggestions/${draft.id}/dismiss`, { method: "POST" }), 409, "suggestion_not_pending");
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", id)).toBe(1);
    expect(await count("training_pairs", "suggestion_id = ?", draft.id)).toBe(1);
  });

  it("a suggestion of another conversation or org is 404; dismiss is 200 and sends nothing", async () => {
    const { org, as, id } = await setup();
    const draft = await json(await post(org, id, { body: "Yes." }));
    const { message: elsewhere } = await ingestOk(org, { contact: { phone: "+14155550402" } });
    await expectProblem(await as(`/conversations/${elsewhere.conversation_id}/suggestions/${draft.id}/send`, { method: "POST" }), 404, "not_found");
    await expectProblem(await as(`/conversations/${id}/suggestions/${elsewhere.id}/dismiss`, { method: "POST" }), 404, "not_found");
    const other = await newOrg();
    await expectProblem(await other.as(other.owner)(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST" }), 404, "not_found");
    expect((await detail(org, id)).pending_suggestion.id).toBe(draft.id);

    const res = await as(`/conversations/${id}/suggestions/${draft.id}/dismiss`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id: draft.id, status: "dismissed", resolved_by: org.owner.userId, sent_message_id: null });
    expect((await detail(org, id)).pending_suggestion).toBeNull();
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", id)).toBe(0);
    expect(await count("training_pairs", "conversation_id = ?", id)).toBe(0);
  });

  it("a send racing a dismiss resolves once: one wins, the other gets 409", async () => {
    const { org, as, id } = await setup();
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const draft = await json(await post(org, id, { body: `Draft ${i}` }));
      const [send, dismiss] = await Promise.all([
        as(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST" }),
        as(`/conversations/${id}/suggestions/${draft.id}/dismiss`, { method: "POST" }),
      ]);
      expect([send.status, dismiss.status].sort()).toEqual(send.status === 202 ? [202, 409] : [200, 409]);
      const loser = send.status === 202 ? dismiss : send;
      expect((await json(loser)).code).toBe("suggestion_not_pending");
      const final = await (await shardOf(org.orgId)).prepare("SELECT status FROM activities WHERE id = ?").bind(draft.id).first<{ status: string }>();
      expect(final?.status).toBe(send.status === 202 ? "sent" : "dismissed");
      outcomes.push(final!.status);
    }
    const sent = outcomes.filter((s) => s === "sent").length;
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", id)).toBe(sent);
    expect(await count("training_pairs", "conversation_id = ?", id)).toBe(sent);
  });

  it("Idempotency-Key on send replays the answer and sends once", async () => {
    const { org, as, id } = await setup();
    const draft = await json(await post(org, id, { body: "Yes." }));
    const headers = { "idempotency-key": "send-once-1" };
    const a = await as(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST", headers });
    const b = await as(`/conversations/${id}/suggestions/${draft.id}/send`, { method: "POST", headers });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(await b.text()).toBe(await a.text());
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", id)).toBe(1);
  });

  it("a member's own send while a draft is pending supersedes it and keeps a labelled pair with the 10 messages before the draft", async () => {
    const org = await newOrg();
    await withSms(org);
    const as = org.as(org.owner);
    const phone = "+14155550411";
    let conversationId = "";
    for (let i = 0; i < 12; i++) {
      const { message } = await ingestOk(org, {
        contact: { phone },
        direction: i % 2 ? "outbound" : "inbound",
        body: `Message ${i}`,
        occurred_at: minutesAgo(100 - i),
      });
      conversationId = message.conversation_id;
    }
    await ingestOk(org, {
      contact: { phone },
      type: "call",
      direction: "inbound",
      occurred_at: minutesAgo(50),
      call: { status: "completed", duration_seconds: 30, summary: "Asked about prices." },
    });
    await ingestOk(org, {
      contact: { phone },
      type: "call",
      direction: "inbound",
      occurred_at: minutesAgo(49),
      call: { status: "no-answer", duration_seconds: 0 },
    });
    await as(`/conversations/${conversationId}/messages`, { body: { type: "note", body: "internal note" } });
    const draft = await json(await as(`/conversations/${conversationId}/suggestions`, { body: { body: "Our cleaning costs $120 and Tuesday is free." } }));
    const sent = await json(
      await as(`/conversations/${conversationId}/messages`, { body: { type: "sms", body: "Our cleaning costs $125, and Tuesday is free!" } }),
    );
    const drafts = (await thread(org, conversationId, "&include=suggestions")).filter((m) => m.type === "suggestion");
    expect(drafts[0]).toMatchObject({ id: draft.id, status: "superseded", resolved_by: org.owner.userId });
    const {
      data: [pair],
    } = await json(await as("/setter/training-pairs"));
    expect(pair).toMatchObject({ suggestion_id: draft.id, sent_message_id: sent.id, label: "edited", sent_by: org.owner.userId });
    expect(pair.similarity).toBeGreaterThan(0.5);
    expect(pair.similarity).toBeLessThan(1);
    // 12 messages and 2 calls before the draft: the last 10 with content, oldest first;
    // the unanswered call (no summary, no transcript) and the note are left out.
    expect(pair.context).toHaveLength(10);
    expect(pair.context.map((c: any) => c.body)).toEqual([...[3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => `Message ${i}`), "Asked about prices."]);
    expect(pair.context.map((c: any) => c.role).slice(0, 2)).toEqual(["agent", "contact"]);
    // A note does not resolve a draft.
    const next = await json(await as(`/conversations/${conversationId}/suggestions`, { body: { body: "Anything else?" } }));
    await as(`/conversations/${conversationId}/messages`, { body: { type: "note", body: "still thinking" } });
    expect((await detail(org, conversationId)).pending_suggestion.id).toBe(next.id);
  });
});

describe("GET /setter/training-pairs", () => {
  it("filters by label and since, walks by cursor, and streams JSONL chat records", async () => {
    const org = await newOrg();
    await withSms(org);
    const as = org.as(org.owner);
    expect((await suggestive(org, "Be warm and brief.")).status).toBe(200);
    const texts: [string, string][] = [
      ["See you Tuesday!", "See you Tuesday!"],
      ["See you Tuesday!", "See you on Tuesday!"],
      ["See you Tuesday!", "Sorry, we're closed that week. How about Monday the 14th?"],
      ["Thanks!", "Thanks!"],
    ];
    for (const [i, [draft, sent]] of texts.entries()) {
      const { message } = await ingestOk(org, { contact: { phone: `+141555505${10 + i}` }, body: `Question ${i}` });
      const d = await json(await as(`/conversations/${message.conversation_id}/suggestions`, { body: { body: draft } }));
      expect((await as(`/conversations/${message.conversation_id}/messages`, { body: { type: "sms", body: sent } })).status).toBe(202);
      expect(d.status).toBe("pending");
    }
    const all = (await json(await as("/setter/training-pairs"))).data;
    expect(all.map((p: any) => p.label)).toEqual(["accepted", "rewritten", "edited", "accepted"]);
    expect((await json(await as("/setter/training-pairs?label=accepted"))).data).toHaveLength(2);
    const since = all[1].created_at;
    expect((await json(await as(`/setter/training-pairs?since=${encodeURIComponent(since)}`))).data.map((p: any) => p.id)).toEqual(
      all.slice(0, 2).map((p: any) => p.id),
    );
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await json(await as(`/setter/training-pairs?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
      walked.push(...page.data.map((p: any) => p.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(walked).toEqual(all.map((p: any) => p.id));

    const res = await as("/setter/training-pairs?format=jsonl&label=accepted");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = (await res.text())
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({
      messages: [
        { role: "system", content: "Be warm and brief." },
        { role: "user", content: "Question 0" },
        { role: "assistant", content: "See you Tuesday!" },
      ],
      label: "accepted",
      draft: "See you Tuesday!",
    });

    await expectProblem(await as("/setter/training-pairs?label=great"), 400, "validation_failed");
    await expectProblem(await as("/setter/training-pairs?since=yesterday"), 400, "validation_failed");
    await expectProblem(await as("/setter/training-pairs?cursor=zzz"), 400, "validation_failed");
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)("/setter/training-pairs"), 403, "forbidden");
    const other = await newOrg();
    expect((await json(await other.as(other.owner)("/setter/training-pairs"))).data).toEqual([]);
  });
});

describe("call summaries", () => {
  const transcript =
    "Caller: Hi, this is Maria Lopez. I have a cleaning booked for Thursday at 10am but I need to move it. Agent: What day works better? Caller: Could we do Tuesday afternoon, maybe around 2:30pm? Agent: Tuesday at 2:30pm is open. Caller: Great, thanks.";

  it("a transcribed call gets the LLM's summary off the request path", async () => {
    const org = await newOrg();
    llm = () => Response.json({ choices: [{ message: { content: "Maria moves her cleaning from Thursday 10am to Tuesday 2:30pm." } }] });
    const { message } = await ingestOk(org, {
      type: "call",
      direction: "inbound",
      body: null,
      call: { status: "completed", duration_seconds: 80, transcript },
    });
    expect(message.call.summary_status).toBe("pending");
    const call = await until("the summary", async () =>
      (await thread(org, message.conversation_id)).find((m) => m.id === message.id && m.call.summary_status === "ready"),
    );
    expect(call.call.summary).toBe("Maria moves her cleaning from Thursday 10am to Tuesday 2:30pm.");
    expect(seen.some((s) => s.body.messages.at(-1).content === transcript)).toBe(true);
    // The conversation's preview follows the summary.
    expect((await detail(org, message.conversation_id)).last_activity.preview).toBe("Maria moves her cleaning from Thursday 10am to Tuesday 2:30pm.");
  });

  it("falls back to the built-in summary when the LLM fails, and uses it with no LLM at all", async () => {
    const org = await newOrg();
    llm = () => new Response("nope", { status: 503 });
    const { message } = await ingestOk(org, { type: "call", direction: "inbound", call: { status: "completed", duration_seconds: 80, transcript } });
    const call = await until("the summary", async () =>
      (await thread(org, message.conversation_id)).find((m) => m.id === message.id && m.call.summary_status === "ready"),
    );
    expect(call.call.summary).toBe(
      "I have a cleaning booked for Thursday at 10am but I need to move it. Could we do Tuesday afternoon, maybe around 2:30pm? Tuesday at 2:30pm is open.",
    );

    // No generator configured: straight to the extractive summary (job run directly with that env).
    const { message: second } = await ingestOk(org, {
      contact: { phone: "+14155550601" },
      type: "call",
      direction: "inbound",
      call: { status: "completed", duration_seconds: 5, transcript: "Hi. Okay. Bye." },
    });
    const noLlm = { ...env, LLM_BASE_URL: undefined };
    await handleAiJob(noLlm, { kind: "summary", orgId: org.orgId, activityId: second.id });
    const row = await (await shardOf(org.orgId)).prepare("SELECT call_summary, call_summary_status FROM activities WHERE id = ?").bind(second.id).first();
    // Nothing but pleasantries: no sentence worth keeping.
    expect(row).toEqual({ call_summary: null, call_summary_status: "failed" });
  });

  it("keeps a provider's summary and leaves a call without transcript unavailable", async () => {
    const org = await newOrg();
    const { message } = await ingestOk(org, {
      type: "call",
      direction: "inbound",
      call: { status: "completed", duration_seconds: 80, transcript, summary: "Provider summary." },
    });
    expect(message.call).toMatchObject({ summary: "Provider summary.", summary_status: "ready" });
    await handleAiJob(env, { kind: "summary", orgId: org.orgId, activityId: message.id });
    const { message: bare } = await ingestOk(org, {
      contact: { phone: "+14155550602" },
      type: "call",
      direction: "inbound",
      call: { status: "no-answer", duration_seconds: 0 },
    });
    expect(bare.call.summary_status).toBe("unavailable");
    await afterQueue(org, "+14155550603");
    const calls = await thread(org, message.conversation_id);
    expect(calls.find((m) => m.id === message.id).call).toMatchObject({ summary: "Provider summary.", summary_status: "ready" });
    expect(seen.some((s) => s.body.messages.at(-1).content === transcript)).toBe(false);
  });
});
