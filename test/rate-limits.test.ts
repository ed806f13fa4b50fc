import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ApiLedger, batchFor, OrgBudget } from "../src/middleware/rate-limit";
import { ApiWindow } from "../src/org-inbox/api-window";
import { orgInbox } from "../src/org-inbox/client";
import { addMember, count, expectProblem, ingestOk, json, newOrg, twilioPost } from "./helpers";

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

/** Drives one isolate's budget against the org's real OrgInbox, keeping its background reports. */
function isolate(orgId: string, ledger: () => ApiLedger = () => orgInbox(env, orgId)) {
  const budget = new OrgBudget();
  const reports: Promise<unknown>[] = [];
  return {
    take: (limit: number, now: number) => budget.take(orgId, limit, ledger, (p) => reports.push(p), now),
    settle: () => Promise.all(reports.splice(0)),
  };
}

describe("rate limits (SPEC 11)", () => {
  it("the org's window in OrgInbox: grants up to the limit, starts over each minute, ignores reports of a past one", () => {
    const w = new ApiWindow();
    expect(w.spend(T0, 5, 0, 8)).toEqual({ total: 5, granted: false });
    expect(w.spend(T0, 2, 1, 8)).toEqual({ total: 8, granted: true });
    expect(w.spend(T0, 0, 1, 8)).toEqual({ total: 8, granted: false });
    expect(w.spend(T0 + 60_000, 0, 1, 8)).toEqual({ total: 1, granted: true });
    expect(w.spend(T0, 3, 0, 8).total).toBe(0);
    expect(w.spend(T0 + 60_000, 0, 1, 8)).toEqual({ total: 2, granted: true });
  });

  it("one isolate admits exactly the limit, mostly without asking OrgInbox, then refuses until the minute ends", async () => {
    const orgId = crypto.randomUUID();
    let calls = 0;
    const real = orgInbox(env, orgId);
    const one = isolate(orgId, () => ({ spendApi: (...a) => (calls++, real.spendApi(...a)) }));
    const limit = 200;
    const answers: (number | null)[] = [];
    for (let i = 0; i < limit + 20; i++) {
      answers.push(await one.take(limit, T0 + 15_000 + i));
      await one.settle();
    }
    expect(answers.filter((a) => a === null)).toHaveLength(limit);
    expect(answers.slice(limit)).toEqual(Array(20).fill(45));
    // A report every half batch while well under, one call per request near the limit, none once refused.
    expect(calls).toBeLessThanOrEqual(limit / Math.ceil(batchFor(limit) / 2) + batchFor(limit) + 1);
    expect(await one.take(limit, T0 + 59_500)).toBe(1);
    expect(await one.take(limit, T0 + 60_000)).toBeNull();
  });

  it("isolates share the org's count through OrgInbox: in turn exactly the limit, at once within a batch each", async () => {
    const limit = 300;
    const orgId = crypto.randomUUID();
    const [a, b] = [isolate(orgId), isolate(orgId)];
    let admitted = 0;
    for (let i = 0; i < limit + 50; i++) {
      const who = i % 2 ? a : b;
      if ((await who.take(limit, T0 + i)) === null) admitted++;
      await who.settle();
    }
    expect(admitted).toBe(limit);

    // Concurrent requests in three isolates, reports in flight: never under the limit, over by at most a batch each.
    const other = crypto.randomUUID();
    const three = [isolate(other), isolate(other), isolate(other)];
    const answers = await Promise.all(Array.from({ length: 3 * limit }, (_, i) => three[i % 3].take(limit, T0 + 1_000 + i)));
    await Promise.all(three.map((x) => x.settle()));
    const ok = answers.filter((x) => x === null).length;
    expect(ok).toBeGreaterThanOrEqual(limit);
    expect(ok).toBeLessThanOrEqual(limit + 3 * batchFor(limit));
    expect((await orgInbox(env, other).spendApi(T0, 0, 0, limit)).total).toBe(ok);
  });

  it("a ledger that cannot be reached does not take the API down", async () => {
    const orgId = crypto.randomUUID();
    const broken = isolate(orgId, () => ({ spendApi: async () => Promise.reject(new Error("object unavailable")) }));
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await broken.take(10, T0 + i));
    await broken.settle();
    expect(answers).toEqual(Array(30).fill(null));
  });

  it("an org over RATE_LIMIT_PER_MINUTE gets 429 with Retry-After; other orgs and the org's webhooks are not limited", async () => {
    const org = await newOrg();
    const other = await newOrg();
    const number = "+14155559501";
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } });
    let ok = 1; // the channel above
    let limited: Response | null = null;
    // 600 a minute (wrangler.toml); the window may roll over once while this runs.
    const minute = () => Math.floor(Date.now() / 60_000);
    const first = minute();
    for (let i = 0; i < 1300 && !limited; i++) {
      const res = await org.as(org.owner)("/conversations?limit=1");
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(200);
        ok++;
      }
    }
    expect(limited).not.toBeNull();
    const wait = Number(limited!.headers.get("retry-after"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    await expectProblem(limited!, 429, "rate_limited");
    // Exact within one minute (one isolate here); a rollover gives the org a second budget.
    if (minute() === first) expect(ok).toBe(600);
    else expect(ok).toBeGreaterThan(600);
    expect((await other.as(other.owner)("/conversations")).status).toBe(200);
    // Providers are never limited into loss.
    const params = {
      MessageSid: "SMlimited1",
      SmsSid: "SMlimited1",
      AccountSid: "AC00000000000000000000000000000000",
      From: "+14155559502",
      To: number,
      Body: "still here",
      NumMedia: "0",
    };
    expect((await twilioPost("/webhooks/twilio/messages", params)).status).toBe(200);
    expect(await count("activities", "org_id = ? AND provider_message_id = 'SMlimited1'", org.orgId)).toBe(1);
  }, 60_000);

  it("a member over SEND_LIMIT_PER_MINUTE gets 429 on sends only, with nothing stored; others still send", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: "+14155559511", provider: "log" } });
    const { message } = await ingestOk(org, { contact: { phone: "+14155559512" } });
    const path = `/conversations/${message.conversation_id}/messages`;
    let sent = 0;
    let limited: Response | null = null;
    for (let i = 0; i < 200 && !limited; i++) {
      const res = await org.as(agent)(path, { body: { type: "sms", body: `Message ${i}` } });
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(202);
        sent++;
      }
    }
    expect(sent).toBe(60);
    const problem = await expectProblem(limited!, 429, "rate_limited");
    expect(problem.detail).toMatch(/60 messages/);
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await count("activities", "conversation_id = ? AND direction = 'outbound'", message.conversation_id)).toBe(60);
    // A note is not a send; another member has their own budget.
    expect((await org.as(agent)(path, { body: { type: "note", body: "noted" } })).status).toBe(201);
    const owner = await org.as(org.owner)(path, { body: { type: "sms", body: "from the owner" } });
    expect(owner.status).toBe(202);
    expect((await json(owner)).status).toBe("queued");
    // Every accepted send still reaches its final state (and the queue drains before the file ends).
    const end = Date.now() + 30_000;
    while ((await count("activities", "conversation_id = ? AND direction = 'outbound' AND status != 'sent'", message.conversation_id)) > 0) {
      if (Date.now() > end) throw new Error("sends still pending");
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await count("activities", "conversation_id = ? AND status = 'sent'", message.conversation_id)).toBe(61);
  }, 60_000);
});
