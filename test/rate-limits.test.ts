import { describe, expect, it } from "vitest";
import { takeToken } from "../src/middleware/rate-limit";
import { addMember, count, expectProblem, ingestOk, json, newOrg, twilioPost } from "./helpers";

describe("rate limits (SPEC 11)", () => {
  it("a fixed one-minute window per key", () => {
    const t0 = Date.UTC(2026, 10, 24, 10, 0, 0);
    for (let i = 0; i < 3; i++) expect(takeToken("k", 3, t0 + i)).toBeNull();
    expect(takeToken("k", 3, t0 + 15_000)).toBe(45);
    expect(takeToken("other", 3, t0 + 15_000)).toBeNull();
    expect(takeToken("k", 3, t0 + 59_999)).toBe(1);
    expect(takeToken("k", 3, t0 + 60_000)).toBeNull();
  });

  it("an org over RATE_LIMIT_PER_MINUTE gets 429 with Retry-After; other orgs and the org's webhooks are not limited", async () => {
    const org = await newOrg();
    const other = await newOrg();
    const number = "+14155559501";
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } });
    let ok = 0;
    let limited: Response | null = null;
    // 600 a minute (wrangler.toml); the window may roll over once while this runs.
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
    expect(ok).toBeGreaterThan(0);
    expect((await other.as(other.owner)("/conversations")).status).toBe(200);
    // Providers are never limited into loss.
    const params = { MessageSid: "SMlimited1", SmsSid: "SMlimited1", AccountSid: "AC00000000000000000000000000000000", From: "+14155559502", To: number, Body: "still here", NumMedia: "0" };
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
