import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { addMember, expectProblem, ingestOk, json, newOrg, newOrgOn, shardNameOf, shardOf, type TestOrg, twilioPost } from "./helpers";

// GET /activities?updated_since= (SPEC 20): incremental sync of the org's messages.

afterEach(() => vi.restoreAllMocks());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

type Msg = { id: string; type: string; status: string; updated_at: string; conversation_id: string; call?: unknown };
type Page = { data: Msg[]; next_cursor: string | null };

/** Every page of one walk from `since` (limit `limit`), as a client makes it; `between` runs after each page. */
async function walk(org: TestOrg, since: string, limit: number, between?: (page: number, rows: Msg[]) => Promise<void>) {
  const pages: Msg[][] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `updated_since=${encodeURIComponent(since)}&cursor=${cursor}` : `updated_since=${encodeURIComponent(since)}`;
    const res = await org.as(org.owner)(`/activities?${q}&limit=${limit}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page: Page = await json(res);
    // A page short of the limit ends the walk; a full one has a cursor unless nothing follows it.
    if (page.data.length < limit) expect(page.next_cursor).toBeNull();
    if (page.next_cursor) expect(page.data).toHaveLength(limit);
    pages.push(page.data);
    cursor = page.next_cursor;
    if (between) await between(pages.length, page.data);
    expect(pages.length).toBeLessThan(100);
  } while (cursor);
  return pages.flat();
}

const key = (m: Msg) => [Date.parse(m.updated_at), m.id] as const;
function expectOrdered(rows: Msg[]) {
  for (let i = 1; i < rows.length; i++) {
    const [t0, id0] = key(rows[i - 1]);
    const [t1, id1] = key(rows[i]);
    expect(t0 < t1 || (t0 === t1 && id0 < id1), `row ${i} (${rows[i].updated_at} ${id1}) after ${rows[i - 1].updated_at} ${id0}`).toBe(true);
  }
}

/** The org's messages changed at or after `since`, straight from its shard, in (updated_at, id) order. */
async function changedInDb(org: TestOrg, since: number) {
  const shard = await shardOf(org.orgId);
  const { results } = await shard
    .prepare("SELECT id FROM activities WHERE org_id = ? AND type != 'suggestion' AND updated_at >= ? ORDER BY updated_at, id")
    .bind(org.orgId, since)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** A mark strictly after every row written so far, and a clock past it before anything else is written. */
async function markAfter(rows: { updated_at: string }[]) {
  const mark = Math.max(...rows.map((r) => Date.parse(r.updated_at))) + 1;
  while (Date.now() <= mark + 1) await sleep(3);
  return mark;
}

async function orgWithTwilio(number: string) {
  const org = await newOrg();
  expect((await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } })).status).toBe(201);
  return org;
}

const statusCallback = (sid: string, from: string, to: string, status: string) =>
  twilioPost("/webhooks/twilio/status", {
    MessageStatus: status,
    SmsStatus: status,
    MessageSid: sid,
    SmsSid: sid,
    From: from,
    To: to,
    AccountSid: "AC00000000000000000000000000000000",
    ApiVersion: "2010-04-01",
  });

describe("GET /activities?updated_since=", () => {
  it("a walk with a small limit answers every message changed at or after the mark once, in (updated_at, id) order; no drafts, nothing older, no other org's", async () => {
    const number = "+14155557301";
    const org = await orgWithTwilio(number);
    const foreign = await newOrgOn(await shardNameOf(org.orgId), "Foreign");
    const as = org.as(org.owner);

    // Before the mark: three messages, one of them outbound (changed after the mark below), and a draft.
    const before = [
      (await ingestOk(org, { contact: { phone: "+14155557311" }, body: "old 1" })).message,
      (await ingestOk(org, { contact: { phone: "+14155557312" }, body: "old 2" })).message,
      (await ingestOk(org, { contact: { phone: "+14155557313" }, direction: "outbound", provider_message_id: "SMsyncwalk1", from: number, to: "+14155557313" }))
        .message,
    ];
    const oldDraft = await json(await as(`/conversations/${before[0].conversation_id}/suggestions`, { body: { body: "an old draft" } }));
    const mark = await markAfter([...before, { updated_at: oldDraft.created_at }]);
    const since = new Date(mark).toISOString();

    // After it: new messages of several kinds, a note, drafts (one superseding the old one), a status change of an old message.
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push((await ingestOk(org, { contact: { phone: `+1415555740${i}` }, body: `new ${i}` })).message.id);
    after.push((await ingestOk(org, { type: "note", direction: undefined, provider: "crm", provider_message_id: undefined, body: "a note" })).message.id);
    after.push(
      (
        await ingestOk(org, {
          contact: { email: "sync@example.org" },
          type: "email",
          provider: "postmark",
          provider_message_id: "pm-sync-1",
          from: "sync@example.org",
          to: "inbox@example.com",
          subject: "Hello",
        })
      ).message.id,
    );
    const newDraft = await json(await as(`/conversations/${before[0].conversation_id}/suggestions`, { body: { body: "a new draft" } }));
    expect(newDraft.type).toBe("suggestion");
    expect((await statusCallback("SMsyncwalk1", number, "+14155557313", "delivered")).status).toBe(200);
    after.push(before[2].id);
    const foreignIds = [
      (await ingestOk(foreign, { contact: { phone: "+14155557399" } })).message.id,
      (await ingestOk(foreign, { contact: { phone: "+14155557398" }, body: "also foreign" })).message.id,
    ];

    const rows = await walk(org, since, 3);
    const ids = rows.map((r) => r.id);
    // Exactly once each, and exactly the rows the shard holds as changed since the mark.
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(await changedInDb(org, mark));
    expect([...ids].sort()).toEqual([...after].sort());
    expectOrdered(rows);
    for (const r of rows) expect(Date.parse(r.updated_at)).toBeGreaterThanOrEqual(mark);
    expect(rows.every((r) => r.type !== "suggestion")).toBe(true);
    expect(ids).not.toContain(oldDraft.id);
    expect(ids).not.toContain(newDraft.id);
    expect(ids).not.toContain(before[0].id);
    expect(ids).not.toContain(before[1].id);
    for (const f of foreignIds) expect(ids).not.toContain(f);
    expect(rows.find((r) => r.id === before[2].id)).toMatchObject({ status: "delivered" });

    // The same walk one row a page, and in one page of 100, gives the same rows.
    expect((await walk(org, since, 1)).map((r) => r.id)).toEqual(ids);
    expect((await walk(org, since, 100)).map((r) => r.id)).toEqual(ids);
    // The Message shape, as the thread answers it.
    const thread = await json(await as(`/conversations/${rows[0].conversation_id}/messages`));
    expect(thread.data.find((m: Msg) => m.id === rows[0].id)).toEqual(rows[0]);
    // From before everything: the org's messages only, drafts excluded.
    const all = await walk(org, "2000-01-01T00:00:00Z", 25);
    expect(all.map((r) => r.id).sort()).toEqual([...new Set([...before.map((m) => m.id), ...after])].sort());
    // From after everything: nothing, and no cursor.
    expect(await json(await as(`/activities?updated_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`))).toEqual({
      data: [],
      next_cursor: null,
    });
    // The other org sees its own and nothing of this one.
    const theirs = (await walk(foreign, since, 25)).map((r) => r.id);
    expect(theirs.sort()).toEqual([...foreignIds].sort());
  });

  it("sent → delivered by a Twilio status callback moves the message to now: a poll from before the callback answers it delivered", async () => {
    const number = "+14155557302";
    const org = await orgWithTwilio(number);
    const { message } = await ingestOk(org, {
      contact: { phone: "+14155557321" },
      direction: "outbound",
      provider_message_id: "SMsyncstatus1",
      from: number,
      to: "+14155557321",
    });
    expect(message.status).toBe("sent");
    const mark = await markAfter([message]);
    const since = new Date(mark).toISOString();
    expect((await walk(org, since, 25)).map((r) => r.id)).toEqual([]);
    expect((await statusCallback("SMsyncstatus1", number, "+14155557321", "delivered")).status).toBe(200);
    const rows = await walk(org, since, 25);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: message.id, status: "delivered", created_at: message.created_at });
    expect(Date.parse(rows[0].updated_at)).toBeGreaterThanOrEqual(mark);
    // A stale status (sent after delivered) changes nothing, so it moves nothing either.
    const seen = rows[0].updated_at;
    const again = await markAfter(rows);
    expect((await statusCallback("SMsyncstatus1", number, "+14155557321", "sent")).status).toBe(200);
    expect(await walk(org, new Date(again).toISOString(), 25)).toEqual([]);
    expect((await walk(org, seen, 25)).map((r) => [r.id, r.status])).toEqual([[message.id, "delivered"]]);
  });

  it("a call's late transcript (Twilio calls webhook) moves its updated_at: the next poll answers the call with it", async () => {
    const number = "+14155557304";
    const org = await orgWithTwilio(number);
    const { message: call } = await ingestOk(org, {
      contact: { phone: "+14155557351" },
      type: "call",
      provider_message_id: "CAsynccall1",
      from: "+14155557351",
      to: number,
      body: undefined,
      call: { status: "completed", duration_seconds: 95 },
    });
    expect(call.call.transcript).toBeNull();
    const mark = await markAfter([call]);
    expect(await walk(org, new Date(mark).toISOString(), 25)).toEqual([]);
    const transcription = {
      AccountSid: "AC00000000000000000000000000000000",
      ApiVersion: "2010-04-01",
      CallSid: "CAsynccall1",
      TranscriptionSid: "TRsync1",
      TranscriptionStatus: "completed",
      TranscriptionText: "Can we move the cleaning to Tuesday?",
      TranscriptionType: "fast",
    };
    expect((await twilioPost("/webhooks/twilio/calls", transcription)).status).toBe(200);
    const rows = await walk(org, new Date(mark).toISOString(), 25);
    expect(rows.map((r) => r.id)).toEqual([call.id]);
    expect(rows[0]).toMatchObject({ call: { transcript: "Can we move the cleaning to Tuesday?" } });
  });

  it("a message changed after the cursor passed it comes back later in the same walk with its new state, and the next poll from the newest updated_at seen answers it again (inclusive)", async () => {
    const number = "+14155557303";
    const org = await orgWithTwilio(number);
    const since = new Date(Date.now() - 1).toISOString();
    const { message: sent } = await ingestOk(org, {
      contact: { phone: "+14155557331" },
      direction: "outbound",
      provider_message_id: "SMsyncmid1",
      from: number,
      to: "+14155557331",
    });
    for (let i = 0; i < 5; i++) await ingestOk(org, { contact: { phone: `+1415555750${i}` }, body: `later ${i}` });

    let changed = false;
    const rows = await walk(org, since, 2, async (page, data) => {
      if (page === 1) {
        // The first page holds the sent message (the oldest change); the callback comes after the cursor passed it.
        expect(data[0]).toMatchObject({ id: sent.id, status: "sent" });
        expect((await statusCallback("SMsyncmid1", number, "+14155557331", "delivered")).status).toBe(200);
        changed = true;
      }
    });
    expect(changed).toBe(true);
    const seen = rows.filter((r) => r.id === sent.id).map((r) => r.status);
    expect(seen).toEqual(["sent", "delivered"]);
    // Its second appearance is the newest change, so it ends the walk.
    expect(rows[rows.length - 1]).toMatchObject({ id: sent.id, status: "delivered" });
    expect(rows).toHaveLength(7);

    // The next poll passes the newest updated_at seen: the rows of that millisecond come back (dedupe by id + updated_at).
    const newest = rows.reduce((m, r) => (Date.parse(r.updated_at) > Date.parse(m) ? r.updated_at : m), rows[0].updated_at);
    const next = await walk(org, newest, 25);
    expect(next.length).toBeGreaterThan(0);
    expect(next.every((r) => r.updated_at === newest)).toBe(true);
    const seenKeys = new Set(rows.map((r) => `${r.id}@${r.updated_at}`));
    expect(next.filter((r) => !seenKeys.has(`${r.id}@${r.updated_at}`))).toEqual([]);
    expect(next.find((r) => r.id === sent.id)).toMatchObject({ status: "delivered" });
  });

  it("refusals: a missing or bad updated_since, a bad cursor, a limit out of range (400 validation_failed); an agent (403 forbidden); an admin may", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const ok = "updated_since=2026-01-01T00:00:00Z";
    for (const q of [
      "",
      "limit=10",
      "updated_since=",
      "updated_since=yesterday",
      "updated_since=1700000000000",
      "updated_since=2026-13-01T00:00:00Z",
      "updated_since=2026-02-30T00:00:00Z",
      "updated_since=2026-01-01",
      `${ok}&cursor=nope`,
      `${ok}&cursor=${b64url(JSON.stringify(["x"]))}`,
      `cursor=${b64url(JSON.stringify([1, "not-a-uuid"]))}`,
      `${ok}&cursor=`,
      `${ok}&limit=0`,
      `${ok}&limit=101`,
      `${ok}&limit=abc`,
      `${ok}&limit=1e1`,
      `${ok}&limit=-1`,
    ]) {
      const body = await expectProblem(await as(`/activities?${q}`), 400, "validation_failed");
      expect(body.errors?.length, q).toBeGreaterThan(0);
    }
    const agent = await addMember(org, "agent");
    await expectProblem(await org.as(agent)(`/activities?${ok}`), 403, "forbidden");
    const admin = await addMember(org, "admin");
    expect((await org.as(admin)(`/activities?${ok}`)).status).toBe(200);
    // A cursor alone continues a walk (updated_since may be left out).
    const { message } = await ingestOk(org, { contact: { phone: "+14155557341" } });
    await ingestOk(org, { contact: { phone: "+14155557342" } });
    const first: Page = await json(await as(`/activities?${ok}&limit=1`));
    expect(first.data.map((m) => m.id)).toEqual([message.id]);
    const second: Page = await json(await as(`/activities?cursor=${first.next_cursor}&limit=1`));
    expect(second.data).toHaveLength(1);
    expect(second.data[0].id).not.toBe(message.id);
    // A non-member of the org: 403 as every org route.
    const outsider = await newOrg("Outsider");
    await expectProblem(await outsider.as(outsider.owner)(`/activities?${ok}`, { org: org.orgId }), 403, "forbidden");
  });

  it("an MMS whose media copy finishes after the mark comes back with its media ready (the copy moves the message's updated_at)", async () => {
    const number = "+14155557351";
    const org = await orgWithTwilio(number);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 9, 8, 7]);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (new URL(req.url).hostname !== "api.twilio.com") return real(input as RequestInfo, init);
      // Twilio serves the bytes only once the test has taken its mark.
      await gate;
      return new Response(jpeg, { headers: { "content-type": "image/jpeg" } });
    });
    const res = await twilioPost("/webhooks/twilio/messages", {
      MessageSid: "SMsyncmms1",
      From: "+14155557352",
      To: number,
      Body: "",
      NumMedia: "1",
      MediaUrl0: "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/SMsyncmms1/Media/ME1",
      MediaContentType0: "image/jpeg",
      AccountSid: env.TWILIO_ACCOUNT_SID!,
    });
    expect(res.status).toBe(200);
    const [stored] = await walk(org, new Date(0).toISOString(), 10);
    expect(stored.status).toBe("received");
    const mark = await markAfter([stored]);
    release();
    const again = await (async () => {
      for (let i = 0; i < 100; i++) {
        const rows = await walk(org, new Date(mark).toISOString(), 10);
        if (rows.length) return rows;
        await sleep(50);
      }
      return [];
    })();
    expect(again.map((m) => m.id)).toEqual([stored.id]);
    expect((again[0] as Msg & { media: { size: number }[] }).media).toEqual([expect.objectContaining({ content_type: "image/jpeg", size: jpeg.byteLength })]);
    expect(Date.parse(again[0].updated_at)).toBeGreaterThanOrEqual(mark);
  });
});
