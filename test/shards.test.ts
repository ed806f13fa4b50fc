import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import type { Bindings } from "../src/env";
import { deliver } from "../src/sending/queue";
import { handleAiJob } from "../src/setter/jobs";
import {
  actor,
  addMember,
  BASE,
  call,
  expectProblem,
  fillPath,
  ingestOk,
  json,
  newOrg,
  newOrgOn,
  orgWithOneOfEach,
  otherShardOf,
  postmarkPost,
  shardBindings,
  shardNameOf,
  shardNames,
  shardOf,
  swapInboxShard,
  type TestOrg,
  token,
  twilioPost,
} from "./helpers";

// SPEC 14: an org's rows live in one shard. These tests put orgs on both shards of the
// suite (SHARD_0, SHARD_1) and prove that every path reaches the org's own shard: routes
// (a row planted in the other shard under the same id is never seen, and nothing is
// written there), webhooks by address, queue jobs, counts; and the cross-database writes
// (a channel's claim, a member's removal) when their second step fails.

afterEach(() => vi.restoreAllMocks());

const fetchWith = (e: Partial<Bindings> & Record<string, unknown>, path: string, init: RequestInit = {}) =>
  app.fetch(new Request(`${BASE}${path}`, init), { ...env, ...e } as Bindings, createExecutionContext());

const orgCounts = async () => {
  const { results } = await env.DB.prepare("SELECT shard, COUNT(*) AS n FROM orgs GROUP BY shard").all<{ shard: string; n: number }>();
  return new Map(results.map((r) => [r.shard, r.n]));
};

/** Every table of a shard as it stands, for "nothing changed here". */
async function dump(d: D1Database) {
  const { results: tables } = await d
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%' ORDER BY name",
    )
    .all<{ name: string }>();
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) out[name] = (await d.prepare(`SELECT * FROM ${name} ORDER BY 1, 2`).all()).results;
  return out;
}

describe("placement", () => {
  it("a new org goes to the open shard with the fewest orgs (ties: the first listed); two orgs land on different shards", async () => {
    const names = shardNames();
    expect(names).toEqual(["SHARD_0", "SHARD_1"]);
    const landed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const counts = await orgCounts();
      const fewest = Math.min(...names.map((n) => counts.get(n) ?? 0));
      const expected = names.find((n) => (counts.get(n) ?? 0) === fewest)!;
      const org = await newOrg(`Placed ${i}`);
      const shard = await shardNameOf(org.orgId);
      expect(shard).toBe(expected);
      landed.push(shard);
    }
    expect(new Set(landed)).toEqual(new Set(names));
    const a = await newOrgOn("SHARD_0");
    const b = await newOrgOn("SHARD_1");
    expect([await shardNameOf(a.orgId), await shardNameOf(b.orgId)]).toEqual(["SHARD_0", "SHARD_1"]);
    // POST /orgs writes the control database only: nothing of a new org is in any shard.
    for (const d of shardBindings()) expect(await d.prepare("SELECT COUNT(*) AS n FROM channels WHERE org_id = ?").bind(a.orgId).first("n")).toBe(0);
  });

  it("OPEN_SHARDS: only the shards it names take new orgs, however full they are", async () => {
    const bearer = await token(crypto.randomUUID());
    // Make SHARD_1 the fuller one, then open only it.
    for (let i = 0; i < 3; i++) await newOrgOn("SHARD_1");
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetchWith({ OPEN_SHARDS: "SHARD_1" }, "/orgs", {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `Open ${i}` }),
      });
      expect(res.status).toBe(201);
      made.push(await shardNameOf((await json(res)).id));
    }
    expect(made).toEqual(["SHARD_1", "SHARD_1", "SHARD_1"]);
    // A name OPEN_SHARDS has that SHARDS has not is ignored and reported; with none left, no org can be made.
    const health = await json(await fetchWith({ OPEN_SHARDS: "SHARD_1,SHARD_9" }, "/health"));
    expect(health.problems).toEqual([{ setting: "OPEN_SHARDS", issue: "invalid", effect: "SHARD_9 is not in SHARDS: ignored" }]);
    const closed = await fetchWith({ OPEN_SHARDS: "SHARD_9" }, "/orgs", {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: '{"name":"Nowhere"}',
    });
    await expectProblem(closed, 503, "not_configured");
  });

  it("a shard named in SHARDS with no D1 binding: /health says so, and its orgs answer 503 (never another database)", async () => {
    const health = await json(await fetchWith({ SHARDS: "SHARD_0,SHARD_1,SHARD_7" }, "/health"));
    expect(health.status).toBe("degraded");
    expect(health.problems).toEqual([expect.objectContaining({ setting: "SHARD_7", issue: "missing" })]);
    const org = await newOrg("Lost");
    await env.DB.prepare("UPDATE orgs SET shard = 'SHARD_7' WHERE id = ?").bind(org.orgId).run();
    const headers = { authorization: `Bearer ${org.owner.token}`, "x-org-id": org.orgId };
    await expectProblem(await fetchWith({ SHARDS: "SHARD_0,SHARD_1,SHARD_7" }, "/conversations", { headers }), 503, "not_configured");
    // Not in SHARDS at all: the same.
    await expectProblem(await fetchWith({}, "/contacts", { headers }), 503, "not_configured");
    // A non-member still gets 403 first.
    const stranger = await actor();
    await expectProblem(await fetchWith({}, "/contacts", { headers: { ...headers, authorization: `Bearer ${stranger.token}` } }), 403, "forbidden");
  });
});

/** Every bearer GET of the document but the event socket, with its ids filled in. */
async function getRoutes(ids: Record<string, string>) {
  const doc = (await json(await call("/openapi.json"))) as { paths: Record<string, Record<string, any>> };
  return Object.entries(doc.paths)
    .filter(([path, ops]) => ops.get?.security?.some((s: object) => "bearerAuth" in s) && path !== "/events")
    .map(([path]) => fillPath(path, ids));
}

/** The answers of every GET route (signed links' exp and sig change every second: left out). */
async function readEverything(org: TestOrg, ids: Record<string, string>) {
  const out: Record<string, unknown> = {};
  for (const path of await getRoutes(ids)) {
    const res = await org.as(org.owner)(path);
    const body = res.headers.get("content-type")?.includes("json")
      ? (await res.text()).replace(/exp=\d+&sig=[0-9a-f]+/g, "exp&sig")
      : `${res.headers.get("content-type")} ${(await res.arrayBuffer()).byteLength}`;
    out[path] = { status: res.status, body };
  }
  return out;
}

const SHARD_TABLES = [
  "contacts",
  "channels",
  "conversations",
  "conversation_tallies",
  "activity_day_tallies",
  "activities",
  "views",
  "sla_configs",
  "setter_configs",
  "media",
  "training_pairs",
  "idempotency_keys",
  "unroutable_events",
  "webhook_endpoints",
  "webhook_events",
  "webhook_deliveries",
];

/**
 * Copies of every row the org has, written into `other` under the same ids, with every
 * visible text changed to PLANTED and every tally inflated: any read of the wrong shard shows.
 */
async function plantCopies(orgId: string, home: D1Database, other: D1Database) {
  for (const t of SHARD_TABLES) {
    const { results } = await home.prepare(`SELECT * FROM ${t} WHERE org_id = ?`).bind(orgId).all<Record<string, unknown>>();
    for (const row of results) {
      const cols = Object.keys(row);
      await other
        .prepare(`INSERT INTO ${t} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`)
        .bind(...cols.map((c) => row[c]))
        .run();
    }
  }
  await other.batch([
    other.prepare("UPDATE contacts SET name = 'PLANTED' WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE channels SET provider = 'log', created_at = 0 WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE conversations SET last_activity_preview = 'PLANTED', unread_count = unread_count + 7, starred = 1 WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE activities SET body = 'PLANTED', status = 'PLANTED' WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE conversation_tallies SET n = n + 100 WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE activity_day_tallies SET n = n + 100 WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE views SET name = 'PLANTED ' || name WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE media SET filename = 'PLANTED', content_type = 'text/planted' WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE webhook_endpoints SET description = 'PLANTED' WHERE org_id = ?").bind(orgId),
    other.prepare("UPDATE webhook_deliveries SET last_error = 'PLANTED', attempts = attempts + 100 WHERE org_id = ?").bind(orgId),
    other
      .prepare(
        "INSERT INTO setter_configs (org_id, mode, instructions, updated_at) VALUES (?, 'suggestive', 'PLANTED', 0) ON CONFLICT DO UPDATE SET instructions = 'PLANTED'",
      )
      .bind(orgId),
    other
      .prepare(
        "INSERT INTO sla_configs (org_id, enabled, first_response_minutes, updated_at) VALUES (?, 1, 999, 0) ON CONFLICT DO UPDATE SET first_response_minutes = 999",
      )
      .bind(orgId),
    other
      .prepare("INSERT INTO unroutable_events (id, org_id, provider, reason, payload, received_at) VALUES (?, ?, 'twilio', 'PLANTED', '{}', ?)")
      .bind(crypto.randomUUID(), orgId, Date.now()),
  ]);
}

describe("each route reads and writes only its org's shard", () => {
  it.each(["SHARD_0", "SHARD_1"])(
    "an org on %s: rows planted in the other shard under the same ids are never seen, and no write lands there",
    async (shard) => {
      const { org, ids } = await orgWithOneOfEach("Home", shard === "SHARD_0" ? "+14155559601" : "+14155559602", shard);
      expect(await shardNameOf(org.orgId)).toBe(shard);
      const as = org.as(org.owner);
      // A training pair, so its list has something to show too.
      const sent = await as(`/conversations/${ids.conversation_id}/suggestions/${ids.activity_id}/send`, { method: "POST" });
      expect(sent.status).toBe(202);
      ids.activity_id = (await json(await as(`/conversations/${ids.conversation_id}/suggestions`, { body: { body: "Another draft" } }))).id;
      const { url } = await json(await as("/conversations/media", { method: "POST", raw: pngForm() }));
      const before = { ...(await readEverything(org, ids)), signed: await signedRead(url) };

      const home = await shardOf(org.orgId);
      const other = await otherShardOf(org.orgId);
      await plantCopies(org.orgId, home, other);
      const after = { ...(await readEverything(org, ids)), signed: await signedRead(url) };
      expect(after).toEqual(before);
      expect(JSON.stringify(after)).not.toContain("PLANTED");

      // Writes: each lands in the home shard, the planted copies stay as they were.
      const planted = await dump(other);
      const c = ids.conversation_id;
      const writes: [string, { method?: string; body?: unknown }][] = [
        ["/contacts", { body: { name: "New", phone: "+14155559699" } }],
        [`/contacts/${ids.contact_id}`, { method: "PATCH", body: { name: "Renamed" } }],
        [`/conversations/${c}/star`, { method: "POST" }],
        [`/conversations/${c}/read`, { method: "POST" }],
        [`/conversations/${c}/assign`, { body: { assigned_to: org.owner.userId } }],
        [`/conversations/${c}/archive`, { body: { archived: true } }],
        [`/conversations/${c}/messages`, { body: { type: "note", body: "A note" } }],
        [`/conversations/${c}/suggestions/${ids.activity_id}/dismiss`, { method: "POST" }],
        ["/conversations/views", { method: "PUT", body: { views: (await json(await as("/conversations/views"))).data } }],
        ["/conversations/sla", { method: "PUT", body: { enabled: true, first_response_minutes: 30, business_hours: null } }],
        ["/setter/config", { method: "PUT", body: { mode: "off", instructions: "Be brief" } }],
        [
          "/activities",
          {
            body: {
              contact: { phone: "+14155559698" },
              type: "sms",
              direction: "inbound",
              body: "Hi",
              provider: "twilio",
              provider_message_id: `SMhome${shard}`,
            },
          },
        ],
        ["/channels", { body: { kind: "email", address: `home-${shard.toLowerCase()}@acme.test`, provider: "log" } }],
        [`/channels/${ids.channel_id}`, { method: "DELETE" }],
        [`/members/${(await addMember(org, "agent")).userId}`, { method: "DELETE" }],
      ];
      for (const [path, o] of writes) {
        const res = await as(path, o);
        expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
      }
      expect(await dump(other)).toEqual(planted);
      const mine = await as(`/conversations/${c}`);
      expect(await json(mine)).toMatchObject({ starred: true, archived: true, assigned_to: org.owner.userId, contact: { name: "Renamed" } });
    },
    60_000,
  );
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82, 1, 2, 3, 4]);
function pngForm() {
  const form = new FormData();
  form.append("file", new File([PNG], "b.png", { type: "image/png" }));
  return form;
}

/** GET /media/{id}?exp&sig (a link names no org: every shard is asked, the org's own answers). */
async function signedRead(url: string) {
  const res = await call(new URL(url).pathname + new URL(url).search);
  return { status: res.status, type: res.headers.get("content-type"), bytes: (await res.arrayBuffer()).byteLength };
}

/** Rows of the org in each shard: [home, other]. */
async function rowsBy(orgId: string, table: string) {
  const home = await shardOf(orgId);
  const other = await otherShardOf(orgId);
  const n = async (d: D1Database) => (await d.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE org_id = ?`).bind(orgId).first<number>("n")) ?? 0;
  return [await n(home), await n(other)];
}

describe("webhooks route by address to the right shard", () => {
  it("Twilio inbound sms and Postmark inbound email reach each org's own shard", async () => {
    const a = await newOrgOn("SHARD_0", "A");
    const b = await newOrgOn("SHARD_1", "B");
    const setup = [
      [a, "+14155559611", "a-inbox@acme.test"],
      [b, "+14155559612", "b-inbox@acme.test"],
    ] as const;
    for (const [org, number, email] of setup) {
      expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
      expect((await org.as(org.owner)("/channels", { body: { kind: "email", address: email, provider: "postmark" } })).status).toBe(201);
    }
    for (const [org, number, email] of setup) {
      const sid = `SMroute${org.orgId.slice(-6)}`;
      const twilio = {
        MessageSid: sid,
        SmsSid: sid,
        AccountSid: "AC00000000000000000000000000000000",
        From: "+14155550142",
        To: number,
        Body: "Hello by sms",
        NumMedia: "0",
      };
      expect((await twilioPost("/webhooks/twilio/messages", twilio)).status).toBe(200);
      const postmark = {
        From: "priya@example.org",
        FromFull: { Email: "priya@example.org" },
        To: email,
        OriginalRecipient: email,
        MessageID: `pm-route-${org.orgId}`,
        Subject: "Hi",
        TextBody: "Hello by email",
        Date: new Date().toISOString(),
      };
      const res = await postmarkPost("/webhooks/postmark/inbound", postmark);
      expect(res.status).toBe(200);
    }
    for (const [org] of setup) {
      expect(await rowsBy(org.orgId, "activities")).toEqual([2, 0]);
      expect(await rowsBy(org.orgId, "unroutable_events")).toEqual([0, 0]);
      const { data } = await json(await org.as(org.owner)("/conversations"));
      expect(data.map((x: any) => x.last_activity.preview).sort()).toEqual(["Hello by email", "Hello by sms"]);
    }
    // An address no org has: kept in the control database, with no org.
    const stray = {
      MessageSid: "SMstray",
      SmsSid: "SMstray",
      AccountSid: "AC00000000000000000000000000000000",
      From: "+14155550142",
      To: "+14155559619",
      Body: "Anyone?",
      NumMedia: "0",
    };
    expect((await twilioPost("/webhooks/twilio/messages", stray)).status).toBe(200);
    expect(await env.DB.prepare("SELECT org_id, reason FROM unroutable_events WHERE payload LIKE '%SMstray%'").first()).toEqual({
      org_id: null,
      reason: "unknown_address",
    });
  });

  it("a call and its late recording (found by CallSid in whichever shard has it) land in the org's shard", async () => {
    const org = await newOrgOn("SHARD_1", "Calls");
    expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: "+14155559621", provider: "twilio" } })).status).toBe(201);
    const base = { AccountSid: "AC00000000000000000000000000000000", CallSid: "CAshard1", From: "+14155550142", To: "+14155559621", Direction: "inbound" };
    expect((await twilioPost("/webhooks/twilio/calls", { ...base, CallStatus: "completed", CallDuration: "42" })).status).toBe(200);
    expect(
      (
        await twilioPost("/webhooks/twilio/calls", {
          ...base,
          CallStatus: "completed",
          TranscriptionText: "Please call me back.",
          TranscriptionStatus: "completed",
        })
      ).status,
    ).toBe(200);
    expect(await rowsBy(org.orgId, "activities")).toEqual([1, 0]);
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const { data: thread } = await json(await org.as(org.owner)(`/conversations/${data[0].id}/messages`));
    expect(thread[0]).toMatchObject({ type: "call", call: { duration_seconds: 42, transcript: "Please call me back." } });
  });
});

describe("queue jobs find their shard", () => {
  it.each(["SHARD_0", "SHARD_1"])("a send for an org on %s is delivered and its status callback applied there", async (shard) => {
    const org = await newOrgOn(shard, "Sender");
    const number = shard === "SHARD_0" ? "+14155559631" : "+14155559632";
    expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
    const { message } = await ingestOk(org, { contact: { phone: "+14155550142" } });
    const real = globalThis.fetch;
    const twilio = vi.fn();
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (new URL(req.url).hostname !== "twilio.fake") return real(input as RequestInfo, init);
      twilio(req.url);
      return Response.json({ sid: `SMsent${shard}`, status: "queued" }, { status: 201 });
    });
    const sent = await json(await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`, { body: { type: "sms", body: "On our way" } }));
    // The real queue consumer runs the job; wait for it.
    const until = Date.now() + 15_000;
    let status = "queued";
    while (status !== "sent" && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await json(await org.as(org.owner)(`/conversations/${message.conversation_id}/messages`))).data.find((m: any) => m.id === sent.id).status;
    }
    expect(status).toBe("sent");
    expect(twilio).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
    // Twilio's callback finds the org by our number (From) and the message in its shard.
    const callback = {
      MessageSid: `SMsent${shard}`,
      SmsSid: `SMsent${shard}`,
      MessageStatus: "delivered",
      From: number,
      To: "+14155550142",
      AccountSid: "AC00000000000000000000000000000000",
    };
    expect((await twilioPost(`/webhooks/twilio/status?message_id=${sent.id}`, callback)).status).toBe(200);
    const row = await (await shardOf(org.orgId)).prepare("SELECT status, provider_message_id FROM activities WHERE id = ?").bind(sent.id).first();
    expect(row).toEqual({ status: "delivered", provider_message_id: `SMsent${shard}` });
    expect(await rowsBy(org.orgId, "activities")).toEqual([2, 0]);
    // A job handed to the consumer directly resolves the same shard (nothing left to send: claimed already).
    expect(await deliver(env, { orgId: org.orgId, messageId: sent.id })).toEqual({});
  });

  it("an AI job (a call summary) reads and writes the org's shard", async () => {
    const org = await newOrgOn("SHARD_1", "Summaries");
    const { message } = await ingestOk(org, {
      contact: { phone: "+14155559641" },
      type: "call",
      direction: "inbound",
      body: null,
      call: { status: "completed", duration_seconds: 30, transcript: "Hi, this is Sam. I need to move my appointment on Friday to Monday at 10am please." },
    });
    await handleAiJob({ ...env, LLM_BASE_URL: undefined } as Bindings, { kind: "summary", orgId: org.orgId, activityId: message.id });
    const row = await (await shardOf(org.orgId)).prepare("SELECT call_summary_status FROM activities WHERE id = ?").bind(message.id).first();
    expect(row).toEqual({ call_summary_status: "ready" });
  });
});

describe("view counts and tallies are per shard and exact", () => {
  it("orgs on both shards (two on one): every view's badge equals its list, and each shard's tallies add up to its own conversations", async () => {
    const orgs = [await newOrgOn("SHARD_0", "T0"), await newOrgOn("SHARD_1", "T1"), await newOrgOn("SHARD_0", "T2")];
    for (const [i, org] of orgs.entries()) {
      const agent = await addMember(org, "agent");
      for (let k = 0; k < 3 + 2 * i; k++) {
        const { message } = await ingestOk(org, { contact: { phone: `+141555597${i}${k}` } });
        const as = org.as(org.owner);
        if (k % 2 === 0) await as(`/conversations/${message.conversation_id}/read`, { method: "POST" });
        if (k % 3 === 0) await as(`/conversations/${message.conversation_id}/star`, { method: "POST" });
        if (k % 3 === 1) await as(`/conversations/${message.conversation_id}/assign`, { body: { assigned_to: agent.userId } });
        if (k === 4) await as(`/conversations/${message.conversation_id}/archive`, { body: { archived: true } });
      }
    }
    for (const org of orgs) {
      const as = org.as(org.owner);
      const { data: counts } = await json(await as("/conversations/views/counts"));
      for (const c of counts) {
        const { data } = await json(await as(`/conversations?view=${c.view_id}&limit=100`));
        expect({ view: c.key, total: c.total, unread: c.unread }).toEqual({
          view: c.key,
          total: data.length,
          unread: data.filter((x: any) => x.unread_count > 0).length,
        });
      }
    }
    for (const d of shardBindings()) {
      const { results } = await d
        .prepare(
          `SELECT c.org_id, c.n, t.n AS tallied, days.n AS by_day FROM (SELECT org_id, COUNT(*) AS n FROM conversations GROUP BY org_id) c
           LEFT JOIN (SELECT org_id, SUM(n) AS n FROM conversation_tallies GROUP BY org_id) t ON t.org_id = c.org_id
           LEFT JOIN (SELECT org_id, SUM(n) AS n FROM activity_day_tallies GROUP BY org_id) days ON days.org_id = c.org_id`,
        )
        .all<{ org_id: string; n: number; tallied: number; by_day: number }>();
      const ours = results.filter((r) => orgs.some((o) => o.orgId === r.org_id));
      expect(ours.length).toBeGreaterThan(0);
      for (const r of ours) expect(r).toEqual({ ...r, tallied: r.n, by_day: r.n });
    }
    expect(await rowsBy(orgs[0].orgId, "conversation_tallies")).toEqual([expect.any(Number), 0]);
    expect(await rowsBy(orgs[1].orgId, "conversation_tallies")).toEqual([expect.any(Number), 0]);
  });
});

describe("a channel: its address claimed in the control database, its row in the shard", () => {
  const routeOf = (address: string) => env.DB.prepare("SELECT org_id, channel_id FROM channel_routes WHERE kind = 'sms' AND address = ?").bind(address).first();

  it("the claim is undone when the shard write fails, and a retry succeeds", async () => {
    const org = await newOrgOn("SHARD_1", "Claims");
    const address = "+14155559651";
    // The shard write fails: a row there already holds the address (its unique index), with no route behind it.
    const shard = await shardOf(org.orgId);
    const now = Date.now();
    await shard
      .prepare("INSERT INTO channels (id, org_id, kind, address, provider, created_at) VALUES (?, ?, 'sms', ?, 'log', ?)")
      .bind(crypto.randomUUID(), crypto.randomUUID(), address, now)
      .run();
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    const failed = await org.as(org.owner)("/channels", { body: { kind: "sms", address, provider: "twilio" } });
    await expectProblem(failed, 500, "internal");
    expect(await routeOf(address)).toBeNull();
    expect((await json(await org.as(org.owner)("/channels"))).data).toEqual([]);
    // Another org can claim it meanwhile? Not while the row blocks its shard either; clear the blocker and retry.
    await shard.prepare("DELETE FROM channels WHERE address = ?").bind(address).run();
    const res = await org.as(org.owner)("/channels", { body: { kind: "sms", address, provider: "twilio" } });
    expect(res.status).toBe(201);
    const channel = await json(res);
    expect(await routeOf(address)).toEqual({ org_id: org.orgId, channel_id: channel.id });
    // The address is now taken across orgs and shards.
    const other = await newOrgOn("SHARD_0", "Other");
    await expectProblem(await other.as(other.owner)("/channels", { body: { kind: "sms", address, provider: "twilio" } }), 409, "conflict");
    // DELETE: the row and then the route; the address is free again, for any org.
    expect((await org.as(org.owner)(`/channels/${channel.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await routeOf(address)).toBeNull();
    expect((await other.as(other.owner)("/channels", { body: { kind: "sms", address, provider: "twilio" } })).status).toBe(201);
  });

  it("a route left with no channel (a create that died between its writes) is released after a minute, not before", async () => {
    const dead = await newOrgOn("SHARD_0", "Dead");
    const org = await newOrgOn("SHARD_1", "Next");
    const young = "+14155559661";
    const old = "+14155559662";
    await env.DB.batch([
      env.DB.prepare("INSERT INTO channel_routes (kind, address, org_id, channel_id, created_at) VALUES ('sms', ?, ?, ?, ?)").bind(
        young,
        dead.orgId,
        crypto.randomUUID(),
        Date.now() - 5_000,
      ),
      env.DB.prepare("INSERT INTO channel_routes (kind, address, org_id, channel_id, created_at) VALUES ('sms', ?, ?, ?, ?)").bind(
        old,
        dead.orgId,
        crypto.randomUUID(),
        Date.now() - 120_000,
      ),
    ]);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await expectProblem(await org.as(org.owner)("/channels", { body: { kind: "sms", address: young, provider: "twilio" } }), 409, "conflict");
    const res = await org.as(org.owner)("/channels", { body: { kind: "sms", address: old, provider: "twilio" } });
    expect(res.status).toBe(201);
    expect(await routeOf(old)).toEqual({ org_id: org.orgId, channel_id: (await json(res)).id });
  });

  it("a DELETE whose route removal failed leaves the route, and a repeated DELETE removes it", async () => {
    const org = await newOrgOn("SHARD_0", "Half");
    const address = "+14155559671";
    const channel = await json(await org.as(org.owner)("/channels", { body: { kind: "sms", address, provider: "log" } }));
    // As after a DELETE that removed the row and died before the route.
    await (await shardOf(org.orgId)).prepare("DELETE FROM channels WHERE id = ?").bind(channel.id).run();
    expect(await routeOf(address)).not.toBeNull();
    expect((await org.as(org.owner)(`/channels/${channel.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await routeOf(address)).toBeNull();
    await expectProblem(await org.as(org.owner)(`/channels/${channel.id}`, { method: "DELETE" }), 404, "not_found");
  });
});

/** The org's OrgInbox with its shard failing every batch while `broken()`; answers a repair. */
const breakShardOfInbox = (orgId: string, broken: () => boolean) =>
  swapInboxShard(
    orgId,
    (d1) =>
      new Proxy(d1, {
        get(target, prop) {
          if (prop === "batch")
            return (stmts: D1PreparedStatement[]) => (broken() ? Promise.reject(new Error("D1_ERROR: injected failure")) : target.batch(stmts));
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
  );

describe("removing a member: the control row, then the shard", () => {
  it("when the shard step fails twice the DELETE fails loudly, and a repeated DELETE finishes the job", async () => {
    const org = await newOrgOn("SHARD_1", "Members");
    const agent = await addMember(org, "agent");
    const { message } = await ingestOk(org, { contact: { phone: "+14155559681" } });
    await org.as(agent)("/conversations/views");
    expect((await org.as(org.owner)(`/conversations/${message.conversation_id}/assign`, { body: { assigned_to: agent.userId } })).status).toBe(200);
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((l: unknown) => void lines.push(String(l)));
    vi.spyOn(console, "error").mockImplementation((l: unknown) => void lines.push(String(l)));
    let broken = true;
    const repair = await breakShardOfInbox(org.orgId, () => broken);
    await expectProblem(await org.as(org.owner)(`/members/${agent.userId}`, { method: "DELETE" }), 500, "internal");
    expect(lines.some((l) => l.includes('"member_release_failed"'))).toBe(true);
    broken = false;
    await repair();
    // The member is gone (the control database), their thread still theirs (the shard).
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM members WHERE org_id = ? AND user_id = ?").bind(org.orgId, agent.userId).first("n")).toBe(0);
    expect((await json(await org.as(org.owner)(`/conversations/${message.conversation_id}`))).assigned_to).toBe(agent.userId);
    // A repeated DELETE finds their leftovers and releases them; then there is nothing left of them.
    expect((await org.as(org.owner)(`/members/${agent.userId}`, { method: "DELETE" })).status).toBe(204);
    expect((await json(await org.as(org.owner)(`/conversations/${message.conversation_id}`))).assigned_to).toBeNull();
    expect(await (await shardOf(org.orgId)).prepare("SELECT COUNT(*) AS n FROM views WHERE user_id = ?").bind(agent.userId).first("n")).toBe(0);
    await expectProblem(await org.as(org.owner)(`/members/${agent.userId}`, { method: "DELETE" }), 404, "not_found");
    // The tallies moved with it: the unassigned badge counts the thread.
    const { data: counts } = await json(await org.as(org.owner)("/conversations/views/counts"));
    for (const c of counts) {
      const { data } = await json(await org.as(org.owner)(`/conversations?view=${c.view_id}&limit=100`));
      expect(c.total).toBe(data.length);
    }
  });

  it("assigning checks membership in the control database", async () => {
    const org = await newOrgOn("SHARD_1", "Assign");
    const { message } = await ingestOk(org, { contact: { phone: "+14155559691" } });
    const agent = await addMember(org, "agent");
    expect((await org.as(org.owner)(`/conversations/${message.conversation_id}/assign`, { body: { assigned_to: agent.userId } })).status).toBe(200);
    await expectProblem(
      await org.as(org.owner)(`/conversations/${message.conversation_id}/assign`, { body: { assigned_to: crypto.randomUUID() } }),
      422,
      "assignee_not_member",
    );
  });
});

describe("migrations", () => {
  it("every shard has every table of migrations/shard, and the control database has channel_routes and orgs.shard", async () => {
    for (const d of shardBindings()) {
      const names = (await d.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{ name: string }>()).results.map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(SHARD_TABLES));
    }
    const cols = (await env.DB.prepare("PRAGMA table_info(orgs)").all<{ name: string }>()).results.map((r) => r.name);
    expect(cols).toContain("shard");
  });
});
