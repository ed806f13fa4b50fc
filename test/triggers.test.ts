import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { CRON_JOBS, QUEUE_CONSUMERS } from "../src/triggers";
import wranglerToml from "../wrangler.toml?raw";
import { queuedMessage, rowById } from "./helpers";

afterEach(() => vi.restoreAllMocks());

/** The `key = value` lines of every table in wrangler.toml, in order ([[arrays]] give one entry each). */
function tomlTables(text: string) {
  const tables: { name: string; values: Record<string, string> }[] = [{ name: "", values: {} }];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) tables.push({ name: header[1].trim(), values: {} });
    else if (/^[\w.]+\s*=/.test(line)) {
      const [key, ...rest] = line.split("=");
      tables[tables.length - 1].values[key.trim()] = rest.join("=").trim();
    }
  }
  return tables;
}
const unquote = (v: string) => JSON.parse(v) as string;
const tables = tomlTables(wranglerToml);

describe("wrangler.toml and the Worker's dispatch tables agree", () => {
  it("every consumed queue has exactly one consumer, by exact name, and nothing else does", () => {
    const consumed = tables.filter((t) => t.name === "queues.consumers").map((t) => unquote(t.values.queue));
    expect(consumed.length).toBeGreaterThan(0);
    expect(Object.keys(QUEUE_CONSUMERS).sort()).toEqual([...consumed].sort());
  });

  it("every queue the Worker produces to is one it consumes (the sweep and OrgInbox enqueue on SEND_QUEUE)", () => {
    const produced = Object.fromEntries(tables.filter((t) => t.name === "queues.producers").map((t) => [unquote(t.values.binding), unquote(t.values.queue)]));
    expect(produced.SEND_QUEUE).toBe("inbox-send");
    for (const queue of Object.values(produced)) expect(Object.keys(QUEUE_CONSUMERS)).toContain(queue);
  });

  it("every Cron Trigger has a job and every job a Cron Trigger", () => {
    const triggers = tables.find((t) => t.name === "triggers");
    const crons = JSON.parse(triggers!.values.crons) as string[];
    expect(Object.keys(CRON_JOBS).sort()).toEqual([...crons].sort());
    expect(crons).toContain("*/5 * * * *");
  });
});

describe("queue dispatch", () => {
  it("a batch from inbox-send reaches the send consumer", async () => {
    const { job } = await queuedMessage("sms", "+14155557401");
    const twilio = vi.spyOn(globalThis, "fetch").mockImplementation(async () => Response.json({ sid: "SMdispatch1", status: "queued" }, { status: 201 }));
    const batch = createMessageBatch("inbox-send", [{ id: "m1", timestamp: new Date(), attempts: 1, body: job }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);
    expect(twilio).toHaveBeenCalledTimes(1);
    expect(await rowById("activities", job.messageId, "status, provider_message_id")).toEqual({ status: "sent", provider_message_id: "SMdispatch1" });
  });

  it.each(["inbox-ai-dlq", "inbox-send-dlq", "inbox-aiX", "inbox-sends", "mystery", ""])(
    "a batch from %j throws (retried, then dead-lettered), touching nothing",
    async (queue) => {
      const { job } = await queuedMessage("sms", `+1415555750${queue.length % 10}`);
      const provider = vi.spyOn(globalThis, "fetch");
      const batch = createMessageBatch(queue, [{ id: "m1", timestamp: new Date(), attempts: 1, body: job }]);
      await expect(Promise.resolve().then(() => worker.queue(batch, env))).rejects.toThrow(/No consumer for queue/);
      expect(provider).not.toHaveBeenCalled();
      expect(await rowById("activities", job.messageId, "status")).toEqual({ status: "queued" });
    },
  );
});

describe("scheduled dispatch", () => {
  it("an unknown cron throws instead of running some other job", async () => {
    await expect(worker.scheduled(createScheduledController({ cron: "*/7 * * * *", scheduledTime: Date.now() }), env)).rejects.toThrow(/No job for cron/);
  });
});
