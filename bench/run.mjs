// npm run bench -- --conversations 1000|10000|100000 [--duration 10] [--connections 10]
// npm run bench -- --load [--conversations N] [--duration 60]
// npm run bench -- --rate-limit N --routes health,list_conversations
//   the API limit on (RATE_LIMIT_PER_MINUTE=N; off otherwise) for a subset of routes
//   the mixed load run (issue 9): webhook ingest with 10 % redeliveries, list and
//   counts reads and sends, all at once, then checks that nothing was lost or doubled.
//
// Fills separate local D1 databases (bench/.state) with one org of N conversations and
// 10·N activities: the org, its member and its channel's route in the control database
// (DB), everything else in SHARD_0, written straight into the SQLite files,
// starts `wrangler dev` on it, and measures each route against GET /health in
// the same run. Prints JSON and keeps it in bench/results/.
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import autocannon from "autocannon";
import { d1Bindings, devVars, signToken } from "../scripts/lib.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg("conversations", 1000);
const LOAD = process.argv.includes("--load");
const DURATION = arg("duration", LOAD ? 60 : 10);
const CONNECTIONS = arg("connections", 10);
const PORT = arg("port", 8790);
const RATE_LIMIT = arg("rate-limit", 0);
const ROUTES = process.argv.includes("--routes") ? ["health", ...process.argv[process.argv.indexOf("--routes") + 1].split(",")] : null;
const STATE = "bench/.state";
const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

const ORG = "01936b00-0000-7000-8000-000000000001";
const TWILIO_TOKEN = "bench-twilio-token";
const SIGNED_BASE = "https://bench.inbox.test";
const OWNER = "01936b00-0000-7000-8000-0000000000a1";
const SMS_CHANNEL = "+14155559999";

function uuid(prefix, i) {
  const hex = i.toString(16).padStart(12, "0");
  return `${prefix}-0000-7000-8000-${hex}`;
}

function sqliteFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) return sqliteFiles(p);
    return p.endsWith(".sqlite") && p.includes("D1DatabaseObject") && !p.endsWith("metadata.sqlite") ? [p] : [];
  });
}

// The bench org lives on SHARD_0; its org row, member and channel route in DB.
const SHARD = "SHARD_0";
/** binding → its SQLite file in STATE (each binding's migrations create its file: the new one is its). */
const files = {};

function seed() {
  rmSync(STATE, { recursive: true, force: true });
  devVars();
  for (const { binding } of d1Bindings()) {
    const before = new Set(sqliteFiles(STATE));
    const r = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", "--persist-to", STATE], { stdio: "ignore", env });
    if (r.status !== 0) throw new Error(`migrations of ${binding} failed`);
    const made = sqliteFiles(STATE).filter((f) => !before.has(f));
    if (made.length !== 1) throw new Error(`expected one new database file for ${binding}, found ${made.length}`);
    files[binding] = made[0];
  }
  const control = new DatabaseSync(files.DB);
  const db = new DatabaseSync(files[SHARD]);
  const t0 = Date.now();
  const now = Date.now();
  control.prepare("INSERT INTO orgs (id, name, created_at, shard) VALUES (?, ?, ?, ?)").run(ORG, "Bench Org", now, SHARD);
  control.prepare("INSERT INTO members (org_id, user_id, role, name, created_at, updated_at) VALUES (?, ?, 'owner', 'Bench', ?, ?)").run(ORG, OWNER, now, now);
  control
    .prepare("INSERT INTO channel_routes (kind, address, org_id, channel_id, created_at) VALUES ('sms', ?, ?, ?, ?)")
    .run(SMS_CHANNEL, ORG, uuid("01936b00", 0xc1), now);
  control.close();
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN");
  db.prepare("INSERT INTO channels (id, org_id, kind, address, provider, created_at) VALUES (?, ?, 'sms', ?, 'log', ?)").run(
    uuid("01936b00", 0xc1),
    ORG,
    SMS_CHANNEL,
    now,
  );
  const contact = db.prepare("INSERT INTO contacts (id, org_id, name, phone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)");
  const conversation = db.prepare(
    `INSERT INTO conversations (id, org_id, contact_id, starred, archived, unread_count, last_activity_id, last_activity_type,
       last_activity_direction, last_activity_preview, last_activity_at, sort_at, awaiting_reply_since, sla_due_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'sms', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const activity = db.prepare(
    `INSERT INTO activities (id, org_id, conversation_id, contact_id, type, direction, status, body, from_addr, to_addr,
       provider, provider_message_id, occurred_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'sms', ?, ?, ?, ?, ?, 'bench', ?, ?, ?, ?)`,
  );
  let a = 0;
  for (let i = 0; i < N; i++) {
    const contactId = uuid("01936b01", i);
    const convId = uuid("01936b02", i);
    const phone = `+1415${String(2000000 + i).padStart(7, "0")}`;
    contact.run(contactId, ORG, `Contact ${i}`, phone, now - N + i, now - N + i);
    const start = now - (N - i) * 60_000;
    let lastId = null,
      lastDir = null,
      lastAt = 0,
      waitingSince = null,
      unread = 0;
    const rows = [];
    for (let k = 0; k < 10; k++) {
      const id = uuid("01936b03", a++);
      const inbound = k % 2 === 0 || (i % 3 === 0 && k === 9);
      const at = start + k * 1000;
      rows.push([
        id,
        ORG,
        convId,
        contactId,
        inbound ? "inbound" : "outbound",
        inbound ? "received" : "sent",
        `Message ${k} in thread ${i}`,
        inbound ? phone : SMS_CHANNEL,
        inbound ? SMS_CHANNEL : phone,
        `bench-${a}`,
        at,
        at,
        at,
      ]);
      lastId = id;
      lastDir = inbound ? "inbound" : "outbound";
      lastAt = at;
      if (inbound) {
        unread++;
        waitingSince ??= at;
      } else waitingSince = null;
    }
    conversation.run(
      convId,
      ORG,
      contactId,
      i % 7 === 0 ? 1 : 0,
      i % 11 === 0 ? 1 : 0,
      i % 4 === 0 ? unread : 0,
      lastId,
      lastDir,
      `Message 9 in thread ${i}`,
      lastAt,
      lastAt,
      waitingSince,
      waitingSince ? waitingSince + 3_600_000 : null,
      start,
      lastAt,
    );
    for (const row of rows) activity.run(...row);
  }
  // OrgInbox keeps these in step with every write; a seed written behind its back fills them once.
  db.exec(`INSERT INTO conversation_tallies (org_id, archived, starred, unread, assignee, n)
    SELECT org_id, archived, starred, unread_count > 0, COALESCE(assigned_to, ''), COUNT(*) FROM conversations GROUP BY 1, 2, 3, 4, 5`);
  db.exec(`INSERT INTO activity_day_tallies (org_id, day, archived, unread, n)
    SELECT org_id, sort_at / 86400000, archived, unread_count > 0, COUNT(*) FROM conversations GROUP BY 1, 2, 3, 4`);
  db.exec("COMMIT; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE");
  db.close();
  return { seconds: (Date.now() - t0) / 1000, activities: a };
}

async function waitForHealth(base) {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("wrangler dev did not start");
}

function load(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

const summary = (r) => ({
  requests_per_sec: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non_2xx: r.non2xx,
  status_codes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
  errors: r.errors,
});

async function main() {
  const inUse = await fetch(`http://127.0.0.1:${PORT}/health`).then(
    () => true,
    () => false,
  );
  if (inUse) throw new Error(`port ${PORT} already answers: stop that server (or pass --port) so the bench measures its own`);
  console.error(`Seeding ${N} conversations / ${N * 10} activities into ${STATE} …`);
  const seeded = seed();
  console.error(`Seeded in ${seeded.seconds}s. Starting wrangler dev on :${PORT} …`);
  const server = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--port",
      String(PORT),
      "--persist-to",
      STATE,
      "--log-level",
      "error",
      "--var",
      `TWILIO_AUTH_TOKEN:${TWILIO_TOKEN}`,
      "--var",
      `PUBLIC_BASE_URL:${SIGNED_BASE}`,
      // One org takes every request here: the per-org and per-member limits would cap the measurement.
      "--var",
      `RATE_LIMIT_PER_MINUTE:${RATE_LIMIT}`,
      "--var",
      "SEND_LIMIT_PER_MINUTE:0",
    ],
    {
      env,
      stdio: ["ignore", "ignore", "inherit"],
      detached: true, // its own process group, so the whole tree (npx, wrangler, workerd) stops with it
    },
  );
  const base = `http://127.0.0.1:${PORT}`;
  try {
    await waitForHealth(base);
    const token = await signToken(OWNER);
    const headers = { authorization: `Bearer ${token}`, "x-org-id": ORG, "content-type": "application/json" };
    const thread = uuid("01936b02", Math.floor(N / 2));
    // A new provider id per request (autocannon's [<id>] replacement sends a stale Content-Length).
    let sent = 0;
    const ingestBody = () =>
      JSON.stringify({
        contact: { phone: `+1415${String(2000000 + (sent % N)).padStart(7, "0")}` },
        type: "sms",
        direction: "inbound",
        body: "bench inbound",
        provider: "bench-load",
        provider_message_id: `load-${Date.now()}-${++sent}`,
      });
    // Signed inbound SMS webhooks, one in ten a redelivery of an earlier MessageSid.
    const sids = [];
    let redeliveries = 0;
    const inboundWebhook = () => {
      let sid;
      if (sids.length && Math.random() < 0.1) {
        sid = sids[Math.floor(Math.random() * sids.length)];
        redeliveries++;
      } else {
        sid = `SMbench${Date.now()}${sids.length}`;
        sids.push(sid);
      }
      const params = {
        AccountSid: "AC00000000000000000000000000000000",
        ApiVersion: "2010-04-01",
        Body: "bench inbound",
        From: `+1415${String(2000000 + (sids.length % N)).padStart(7, "0")}`,
        MessageSid: sid,
        NumMedia: "0",
        NumSegments: "1",
        SmsMessageSid: sid,
        SmsSid: sid,
        SmsStatus: "received",
        To: SMS_CHANNEL,
      };
      const data = `${SIGNED_BASE}/webhooks/twilio/messages${Object.keys(params)
        .sort()
        .map((k) => k + params[k])
        .join("")}`;
      return {
        body: new URLSearchParams(params).toString(),
        signature: createHmac("sha1", TWILIO_TOKEN).update(data).digest("base64"),
      };
    };
    const targets = {
      health: { url: `${base}/health` },
      list_conversations: { url: `${base}/conversations?limit=25`, headers },
      list_messages: { url: `${base}/conversations/${thread}/messages?limit=25`, headers },
      view_counts: { url: `${base}/conversations/views/counts`, headers },
      overdue_count: { url: `${base}/conversations/overdue/count`, headers },
      twilio_inbound_webhook: {
        url: `${base}/webhooks/twilio/messages`,
        requests: [
          {
            method: "POST",
            setupRequest: (req) => {
              const { body, signature } = inboundWebhook();
              return { ...req, body, headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature } };
            },
          },
        ],
      },
      post_activities: {
        url: `${base}/activities`,
        requests: [{ method: "POST", headers, setupRequest: (req) => ({ ...req, body: ingestBody() }) }],
      },
    };
    await load({ ...targets.health, duration: 2 }); // warm-up
    if (LOAD) return await mixedLoad({ base, headers, thread, targets, sids, redeliveredCount: () => redeliveries, seeded });
    const results = {};
    for (const [name, opts] of Object.entries(targets)) {
      if (ROUTES && !ROUTES.includes(name)) continue;
      console.error(`  ${name} …`);
      results[name] = summary(await load(opts));
    }
    const check = new DatabaseSync(files[SHARD]);
    const dup = check
      .prepare(
        "SELECT COUNT(*) AS n FROM (SELECT provider_message_id FROM activities WHERE provider = 'twilio' GROUP BY org_id, provider_message_id HAVING COUNT(*) > 1)",
      )
      .get();
    const stored = check.prepare("SELECT COUNT(*) AS n FROM activities WHERE provider = 'twilio' AND provider_message_id LIKE 'SMbench%'").get();
    check.close();
    if (results.twilio_inbound_webhook) {
      results.twilio_inbound_webhook.redeliveries_sent = redeliveries;
      results.twilio_inbound_webhook.unique_sids_sent = sids.length;
      results.twilio_inbound_webhook.stored = stored.n;
      results.twilio_inbound_webhook.duplicates = dup.n;
    }
    const health = results.health.requests_per_sec;
    for (const r of Object.values(results)) r.ratio_to_health = Number((r.requests_per_sec / health).toFixed(2));
    const report = {
      date: new Date().toISOString(),
      conversations: N,
      activities: seeded.activities,
      seed_seconds: seeded.seconds,
      duration_s: DURATION,
      connections: CONNECTIONS,
      rate_limit_per_minute: RATE_LIMIT,
      node: process.version,
      results,
    };
    mkdirSync("bench/results", { recursive: true });
    const name = ROUTES || RATE_LIMIT ? `conversations-${N}-${RATE_LIMIT ? `ratelimit-${RATE_LIMIT}` : "nolimit"}` : `conversations-${N}`;
    writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
  } finally {
    process.kill(-server.pid, "SIGTERM");
  }
}

/** All at once for DURATION s; then every invariant the issue names is checked on the stored data. */
async function mixedLoad({ base, headers, thread, targets, sids, redeliveredCount, seeded }) {
  console.error("  /health alone (baseline) …");
  const baseline = summary(await load({ ...targets.health, duration: 10 }));
  let sends = 0;
  const mix = {
    twilio_inbound_webhook: { ...targets.twilio_inbound_webhook, connections: 4 },
    list_conversations: { ...targets.list_conversations, connections: 2 },
    view_counts: { ...targets.view_counts, connections: 2 },
    send_messages: {
      url: `${base}/conversations/${thread}/messages`,
      connections: 2,
      requests: [{ method: "POST", headers, setupRequest: (req) => ({ ...req, body: JSON.stringify({ type: "sms", body: `bench send ${++sends}` }) }) }],
    },
    health: { ...targets.health, connections: 1 },
  };
  console.error(`  mixed load for ${DURATION} s: ${Object.keys(mix).join(", ")} …`);
  const started = Date.now();
  const runs = await Promise.all(Object.entries(mix).map(async ([name, opts]) => [name, summary(await load(opts))]));
  const results = Object.fromEntries(runs);
  // Every accepted send must reach a final state once the queue drains.
  const check = new DatabaseSync(files[SHARD], { readOnly: true });
  const pending = () =>
    check.prepare("SELECT COUNT(*) AS n FROM activities WHERE conversation_id = ? AND direction = 'outbound' AND status IN ('queued', 'sending')").get(thread)
      .n;
  const drainStart = Date.now();
  while (pending() > 0 && Date.now() - drainStart < 120_000) await new Promise((r) => setTimeout(r, 1000));
  const sendStates = Object.fromEntries(
    check
      .prepare("SELECT status, COUNT(*) AS n FROM activities WHERE conversation_id = ? AND direction = 'outbound' AND body LIKE 'bench send %' GROUP BY status")
      .all(thread)
      .map((r) => [r.status, r.n]),
  );
  const dup = check
    .prepare(
      "SELECT COUNT(*) AS n FROM (SELECT provider_message_id FROM activities WHERE provider = 'twilio' GROUP BY org_id, provider_message_id HAVING COUNT(*) > 1)",
    )
    .get().n;
  const stored = check.prepare("SELECT COUNT(*) AS n FROM activities WHERE provider = 'twilio' AND provider_message_id LIKE 'SMbench%'").get().n;
  check.close();
  const fivexx = Object.values(results).reduce(
    (sum, r) =>
      sum +
      Object.entries(r.status_codes)
        .filter(([k]) => Number(k) >= 500)
        .reduce((a, [, v]) => a + v, 0),
    0,
  );
  for (const r of Object.values(results)) r.ratio_to_health = Number((r.requests_per_sec / baseline.requests_per_sec).toFixed(2));
  const accepted = results.send_messages.status_codes["202"] ?? 0;
  const report = {
    date: new Date().toISOString(),
    kind: "mixed load",
    conversations: N,
    activities: seeded.activities,
    duration_s: DURATION,
    wall_s: Math.round((Date.now() - started) / 1000),
    node: process.version,
    health_alone: baseline,
    results,
    checks: {
      five_xx: fivexx,
      webhook_unique_sids_sent: sids.length,
      webhook_redeliveries_sent: redeliveredCount(),
      webhook_stored: stored,
      duplicates: dup,
      sends_accepted: accepted,
      send_final_states: sendStates,
      sends_not_final: (sendStates.queued ?? 0) + (sendStates.sending ?? 0),
      drain_s: Math.round((Date.now() - drainStart) / 1000),
    },
  };
  report.checks.ok =
    fivexx === 0 &&
    dup === 0 &&
    stored === sids.length &&
    report.checks.sends_not_final === 0 &&
    // Requests still in flight when the clock stopped are stored but not counted as answered.
    (sendStates.sent ?? 0) + (sendStates.failed ?? 0) >= accepted;
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/load-${N}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  if (!report.checks.ok) process.exitCode = 1;
}

await main();
