import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/env";
import { backoffSeconds, deliver, MAX_SEND_ATTEMPTS } from "../src/sending/queue";
import { count, json, newOrg, queuedMessage, rowById, shardOf } from "./helpers";

afterEach(() => vi.restoreAllMocks());

const queuedSms = (address: string) => queuedMessage("sms", address);

const row = (id: string) => rowById("activities", id, "status, send_attempts, error_code, error_message");

describe("the send consumer", () => {
  it("backs off 2, 4, 8, 16 s with at most 20 % jitter", () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 0))).toEqual([2, 4, 8, 16]);
    for (const n of [1, 2, 3, 4]) {
      const most = backoffSeconds(n, 0.9999);
      expect(most).toBeGreaterThanOrEqual(2 ** n);
      expect(most).toBeLessThanOrEqual(2 ** n * 1.2);
    }
  });

  it("retries 5xx, 429 and network errors, and fails the message after the 5th attempt", async () => {
    const { job } = await queuedSms("+14155557001");
    const failures = [
      () => Response.json({ code: 20500, message: "down" }, { status: 500 }),
      () => Response.json({ code: 20429, message: "Too Many Requests" }, { status: 429 }),
      () => Promise.reject(new TypeError("connection reset")),
      () => Response.json({ code: 20503, message: "unavailable" }, { status: 503 }),
      () => Response.json({ code: 20500, message: "still down" }, { status: 500 }),
    ];
    let calls = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => failures[calls++]());
    for (let attempt = 1; attempt < MAX_SEND_ATTEMPTS; attempt++) {
      const { retryAfter } = await deliver(env, job);
      expect(retryAfter).toBeGreaterThanOrEqual(2 ** attempt);
      expect(await row(job.messageId)).toMatchObject({ status: "queued", send_attempts: attempt });
    }
    expect(await deliver(env, job)).toEqual({});
    expect(await row(job.messageId)).toMatchObject({ status: "failed", send_attempts: 5, error_code: "20500", error_message: "still down" });
    expect(calls).toBe(5);
    // Failed is final: another delivery sends nothing.
    expect(await deliver(env, job)).toEqual({});
    expect(calls).toBe(5);
  });

  it("a channel whose provider has no credentials fails with provider_not_configured, sending nothing", async () => {
    const { job } = await queuedSms("+14155557002");
    const spy = vi.spyOn(globalThis, "fetch");
    const bare = { ...env, TWILIO_ACCOUNT_SID: undefined, TWILIO_AUTH_TOKEN: undefined } as Bindings;
    expect(await deliver(bare, job)).toEqual({});
    expect(await row(job.messageId)).toMatchObject({ status: "failed", error_code: "provider_not_configured" });
    expect(spy).not.toHaveBeenCalled();
  });

  it("a message left in sending (the worker died after the provider accepted) is never sent again", async () => {
    const { org, job } = await queuedSms("+14155557003");
    await (await shardOf(org.orgId)).prepare("UPDATE activities SET status = 'sending', send_attempts = 1 WHERE id = ?").bind(job.messageId).run();
    const spy = vi.spyOn(globalThis, "fetch");
    expect(await deliver(env, job)).toEqual({});
    expect(spy).not.toHaveBeenCalled();
    expect(await count("activities", "id = ? AND status = 'sending'", job.messageId)).toBe(1);
    // The job of another org never touches this message.
    const other = await newOrg("Other");
    expect(await deliver(env, { orgId: other.orgId, messageId: job.messageId })).toEqual({});
    expect((await json(await org.as(org.owner)("/conversations"))).data).toHaveLength(1);
  });
});
