// npm run bench -- --conversations 1000|10000|100000 [--duration 10] [--connections 10]
// npm run bench -- --shards 1|2|4 [--conversations N]
//   one org of N conversations on each of that many shards (N·shards in all), through a
//   generated config (.wrangler.bench.toml: wrangler.toml with SHARD_0…SHARD_<n-1> bound
//   and SHARDS naming exactly those); every measured request goes to the next org in turn.
//   Without --shards: today's layout (wrangler.toml as it is, one org on SHARD_0).
// npm run bench -- --size [--conversations N]
//   seeds only, then reports the shard's SQLite file size and its bytes per table and
//   index (dbstat), per conversation and per message (bench/results/size-N.json).
// npm run bench -- --load [--conversations N] [--duration 60]
//   the mixed load run (issue 9): webhook ingest with 10 % redeliveries, list and
//   counts reads and sends, all at once, then checks that nothing was lost or doubled.
// npm run bench -- --rate-limit N --routes health,list_conversations
//   the API limit on (RATE_LIMIT_PER_MINUTE=N; off otherwise) for a subset of routes
// npm run bench -- --conversations 1000 --connections 16 --routes post_activities,twilio_inbound_webhook
//   the ingest routes alone (issue 16: the group commit should raise them with more
//   connections). With --routes the file's name lists the routes measured besides
//   /health (conversations-N-nolimit-post_activities+twilio_inbound_webhook-c16.json),
//   so a subset does not overwrite another's results. After any run the shard is checked:
//   webhook MessageSids stored once each (duplicates 0 with the 10 % redeliveries), and
//   POST /activities' provider ids stored once each, against the 2xx answers.
// npm run bench -- --move [--conversations N] [--ingest-connections 4] [--move-timeout 900]
//   moving the org (SPEC 14): the usual one org on SHARD_0; GET /health for 5 s as the
//   baseline (like the other routes: autocannon, --connections), then signed ingests on
//   --ingest-connections connections (even ones the Twilio webhook, odd ones POST
//   /activities; node:http with no client timeout, since they wait while the org's writes
//   are held) and, 2 s later, POST /operator/orgs/{org}/move to SHARD_1 (OPERATOR_TOKEN,
//   passed with --var below); GET /operator/moves/{id} is polled every 100 ms (each poll
//   once the last has answered) until done or failed, the ingests going on until 5 s past
//   the switch. A GET /health and a GET /conversations every 250 ms, each in its own loop,
//   show what the rest of the server and the org's reads do meanwhile. Reports rows copied
//   (per table), the hold (created_at → switched_at: how long writes waited), rows/s, each
//   ingest's status and latency (p50/p99/max, non-2xx must be 0) before, during and after
//   the move, /health's p50, and after the move GET /conversations' first page and the
//   org's rows and ingests as the SQLite files hold them (each 2xx ingest stored once on
//   SHARD_1): bench/results/move-N.json. Past --move-timeout seconds it stops waiting and
//   reports the move as GET /operator/moves last showed it.
// npm run bench -- --import [--conversations N] [--duration 10] [--import-connections 2,4]
//   [--import-lines 100000]
//   batch ingest (issue 16, SPEC 15): the usual one org on SHARD_0, the server started with
//   BENCH_CEILING=1 (--var below) so POST /bench/ceiling answers. In one run: GET /health
//   (autocannon, --connections) as the baseline; then at each of --import-connections
//   connections (a closed loop through node:http for --duration s, every request in flight
//   at the end awaited and counted, one unmeasured request of each kind first),
//   POST /activities/batch with 500 new inbound SMS a request (unique provider_message_id;
//   even items to an existing contact drawn at random, odd ones to a new number each, so
//   half of them open a contact and a conversation) reported as activities/s (201 results
//   only) with the requests' non-2xx and each item's status, and POST /bench/ceiling with
//   500 items a request into the seeded thread (two bare rows an item, no reads) as
//   items/s; the ratio batch/ceiling at each connection count and best to best. Then an
//   NDJSON history of --import-lines lines (bench/.state/history-L.ndjson: sms and email,
//   inbound and outbound, across 5,000 new contacts, provider_message_id hist-<line>,
//   occurred_at spread over the past year in order) goes through `npm run import` with the
//   bench's owner token (--token; its default --concurrency), its wall time and summary
//   kept; the shard file is then counted (every hist- id stored exactly once: lost and
//   duplicates 0), and `npm run import -- --restart` sends it all again, which must answer
//   every line a duplicate and leave the org's row count as it was:
//   bench/results/import-N.json.
// npm run bench -- --webhooks [--conversations N] [--duration 10] [--connections 16]
//   [--webhook-events '*'|message.created,…]
//   outgoing webhooks (issue 17, SPEC 18): the usual one org on SHARD_0, the server started
//   with ALLOW_PRIVATE_WEBHOOK_URLS=true (--var below) so an http://127.0.0.1 URL is taken.
//   In one run: GET /health (autocannon, --connections; default 16 in this mode) as the
//   baseline; POST /activities (post_activities: new inbound SMS, unique provider ids) with
//   no webhook endpoint; then a receiver (node:http on 127.0.0.1, a random port, in this
//   process) that answers 200 at once and records each request's arrival, webhook-id, type
//   and data.object's provider_message_id / id (and checks the signature with the
//   endpoint's secret, standardwebhooks), one endpoint http://127.0.0.1:<port>/hook
//   registered through POST /webhook-endpoints subscribing to --webhook-events (default
//   "*": every type, the worst case of one endpoint), one unmeasured POST /activities
//   awaited until delivered (the idle latency), and POST /activities again with the same
//   settings. Each 2xx answer of that run is matched to its message.created delivery by
//   provider_message_id: latency = the delivery's arrival − the answer's arrival (same
//   clock; it includes the queue's max_batch_timeout of 1 s, wrangler.toml). After the load
//   it waits until every answer's delivery came or 120 s passed, then GET /health again.
//   Reports both ingest runs' req/s and ratio to /health, the ratio difference (goal: within
//   0.05), latency p50/p99/max, answers with no delivery (lost), duplicate webhook-ids and
//   messages delivered twice, bad signatures, the outbox and delivery rows as the shard
//   holds them (undispatched, pending, failed), and the server's error lines:
//   bench/results/webhooks-N.json (-c<connections> when not 16, -events-<types> when not *).

// npm run bench -- --search [--conversations N] [--duration 10] [--connections 10] [--no-wait]
//   search (issue 18, SPEC 16): the usual one org on SHARD_0, whose seed in this mode adds
//   searchable words (SEARCH_SEED below: `invoice` in 1 % of messages, half of them in the
//   phrase "invoice overdue", `zanzibar` in 0.01 %; 5 contacts "… Okonkwo", 1 % "…
//   Nakamura"; phones stay +1415<2000000+i>). The seed's INSERTs fire migration 0008's
//   triggers, so the index is written as the API writes it; before any server the run
//   checks it (activities_fts and contacts_fts have a row per message and contact, and each
//   searched word's FTS count equals a LIKE count over the rows), reads each search's
//   expected first page (LIKE, the list's order and default archived=false), counts the
//   shard's bytes (dbstat: activities with its indexes, the FTS tables with their shadow
//   tables: bytes per message with and without the index), and copies the state to
//   bench/.state/noindex with the six search triggers dropped from the copy's shard. Then,
//   in one run, autocannon with the same settings for all: on server 1 (the seeded state)
//   GET /health, then GET /conversations?limit=25, GET /conversations?q=invoice|zanzibar|"invoice
//   overdue"|message&limit=25, GET /contacts?q=okonk*|nakamura|415 200 004&limit=25 (each first
//   requested once and checked: the expected ids in order, a next_cursor when more match, a
//   match with a «highlighted» snippet on every conversation; checked again right after its
//   load, when a search's remembered plan answers), each of these read routes in
//   PAIRED_ROUNDS (3) rounds of GET /health then the route, half the duration each: its
//   ratio is the median round's (each round the route's req/s over the /health run just
//   before it; ratio_to_first_health: against the run's first /health), then POST
//   /activities (post_activities' bodies) the same way, in paired rounds with GET /health;
//   server 1 stopped, server 2 on the copy: the same POST rounds; then both again on fresh
//   processes (server 1, then server 2). The write cost: on each server the median round's
//   POST ratio, the two servers' difference, the mean of the two servers' rounds (goal
//   within 0.05; server 2's activities_fts must not grow). Before the POST rounds, each read
//   route 300 times one request at a time (sequentialLatency: its own cost, no queue; at
//   N ≠ 1000 its p50 against the 1k run's too). A 1k run keeps its seeded state
//   (bench/.search-1000-state, copied before any server starts); a run at another size
//   then starts a second server on it (port + 1) and measures each read route there too,
//   in the same rounds and one request at a time: the p50 goal's 1k side from the same
//   minute of the machine (same_run_p50_vs_1k; the 1k run's file is another day's minute). Before each measured route it waits while vitest / tsc
//   runs elsewhere (polling every 30 s, up to 10 min; --no-wait: not) and records the
//   1-min load and those processes before and after each (machine). At N ≠ 1000 each
//   route's p50 is compared with bench/results/search-1000.json's (goal ≤ 1.5×, and ≥
//   0.4× /health). Prints a table; bench/results/search-N.json (-c<connections> when not 10).
// npm run bench -- --export [--conversations N] [--duration 10] [--port 8812]
//   GET /conversations/export (SPEC 20): the usual one org on SHARD_0 (N conversations of 10
//   messages each). In one run: GET /health (autocannon, --connections) as the baseline; then
//   one export streamed by this process (fetch, read as fast as it comes, every line parsed
//   and checked: N lines, each conversation once, contact ids ascending, 10 messages each
//   oldest first), the time of each step of conversations (10,000 at N ≥ 100k, N/10 below:
//   flat is the goal, i.e. the read at depth costs what it costs at the start), the server's
//   own count of D1 reads and the most rows one read returned (its conversations.export.done
//   log line: bounded is the goal; the server runs with --log-level log in this mode), and
//   workerd's RSS sampled every 100 ms (before, max during) and at each step;
//   GET /health again after it; then `npm run export -- --out bench/.state/export-N.ndjson`
//   (the script's wall time and its line count); then, up to 10k conversations (or with
//   --round-trip), the round trip: that file through `npm run import` into a new org (POST
//   /orgs), the new org exported again (N conversations, 10·N messages) and the file imported
//   once more with --restart (10·N duplicates, nothing stored): bench/results/export-N.json.
// npm run bench -- --labels [--conversations N] [--duration 10] [--connections 10] [--port P]
//   view counts with labels (issue 20): the usual one org on SHARD_0, whose seed in this
//   mode adds 10 labels (label j on every (j+2)-th conversation: 1/2 … 1/11 of them, about
//   2·N links, inserted after the conversations so migration 0016's triggers fill
//   label_tallies as the API's writes would) and a second member (LABEL_USER) whose saved
//   views are the four system views and 10 label views (label j alone, with archived=false,
//   or with archived=false and unread=true: the filters label_tallies answers). Before the
//   server, the label tallies are checked against a recount of the links. In one run,
//   autocannon with the same settings: GET /health, the owner's GET
//   /conversations/views/counts (4 system views: view_counts), the label member's
//   (14 views: view_counts_labels), in --rounds rounds (default 3) of /health then both
//   counts (their order alternating), each run after waiting while vitest / tsc runs
//   elsewhere (--no-wait: not). Each counts run's ratio to its round's /health, the
//   rounds' mean of each and of their difference (goal: within 0.05):
//   bench/results/labels-N.json.
//
// Fills separate local D1 databases (bench/.state) with one org of N conversations and
// 10·N activities: the org, its member and its channel's route in the control database
// (DB), everything else in SHARD_0 (with --shards S: S such orgs, org k on SHARD_k),
// written straight into the SQLite files,
// starts `wrangler dev` on it, and measures each route against GET /health in
// the same run. Prints JSON and keeps it in bench/results/. Every run seeds anew (STATE is
// removed first, then every migration applied): no seed is cached across runs.
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent, createServer, request as httpRequest } from "node:http";
import { loadavg } from "node:os";
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
const MOVE = process.argv.includes("--move");
const MOVE_TIMEOUT_S = arg("move-timeout", 900);
const IMPORT = process.argv.includes("--import");
const WEBHOOKS = process.argv.includes("--webhooks");
const SEARCH = process.argv.includes("--search");
const EXPORT = process.argv.includes("--export");
/** --export: the server's message page (src/conversations/export.ts): no read returns more rows. */
const EXPORT_MESSAGE_PAGE = 1000;
const LABELS = process.argv.includes("--labels");
// --webhooks: what the one endpoint subscribes to ("*": every type, the realistic worst case).
const WEBHOOK_EVENTS = process.argv.includes("--webhook-events") ? process.argv[process.argv.indexOf("--webhook-events") + 1].split(",") : ["*"];
// --import: the connection counts the batch and ceiling routes are measured at, and the history's lines.
const IMPORT_CONNECTIONS = process.argv.includes("--import-connections")
  ? process.argv[process.argv.indexOf("--import-connections") + 1].split(",").map(Number)
  : [2, 4];
const IMPORT_LINES = arg("import-lines", 100_000);
const DURATION = arg("duration", LOAD ? 60 : 10);
const CONNECTIONS = arg("connections", WEBHOOKS ? 16 : 10);
// --move: the ingests' connections while the org moves (0: none, the move alone).
const INGEST_CONNECTIONS = arg("ingest-connections", 4);
const PORT = arg("port", 8790);
const RATE_LIMIT = arg("rate-limit", 0);
const ROUTES = process.argv.includes("--routes") ? ["health", ...process.argv[process.argv.indexOf("--routes") + 1].split(",")] : null;
const STATE = "bench/.state";
const SHARDS_ARG = process.argv.includes("--shards") ? arg("shards", 1) : 0;
const SHARD_COUNT = SHARDS_ARG || 1;
const SIZE = process.argv.includes("--size");
// The bench's own config when --shards is given: paths in a config resolve against its
// folder and .dev.vars is read next to it, so it sits beside wrangler.toml (git-ignored).
const CONFIG = SHARDS_ARG ? ".wrangler.bench.toml" : "wrangler.toml";
if (SHARDS_ARG && !(Number.isInteger(SHARDS_ARG) && SHARDS_ARG >= 1)) throw new Error("--shards takes a whole number ≥ 1");
if (LOAD && SHARD_COUNT > 1) throw new Error("--load runs on one org: leave out --shards");
if (MOVE && (SHARDS_ARG || LOAD || SIZE)) throw new Error("--move runs alone on one org (SHARD_0 → SHARD_1): leave out --shards, --load and --size");
if (IMPORT && (SHARDS_ARG || LOAD || SIZE || MOVE)) throw new Error("--import runs alone on one org: leave out --shards, --load, --size and --move");
if (WEBHOOKS && (SHARDS_ARG || LOAD || SIZE || MOVE || IMPORT))
  throw new Error("--webhooks runs alone on one org: leave out --shards, --load, --size, --move and --import");
if (SEARCH && (SHARDS_ARG || LOAD || SIZE || MOVE || IMPORT || WEBHOOKS || ROUTES))
  throw new Error("--search runs alone on one org: leave out --shards, --load, --size, --move, --import, --webhooks and --routes");
if (EXPORT && (SHARDS_ARG || LOAD || SIZE || MOVE || IMPORT || WEBHOOKS || SEARCH || ROUTES))
  throw new Error("--export runs alone on one org: leave out --shards, --load, --size, --move, --import, --webhooks, --search and --routes");
if (LABELS && (SHARDS_ARG || LOAD || SIZE || MOVE || IMPORT || WEBHOOKS || SEARCH || EXPORT || ROUTES))
  throw new Error("--labels runs alone on one org: leave out --shards, --load, --size, --move, --import, --webhooks, --search and --routes");
if (IMPORT && !IMPORT_CONNECTIONS.every((c) => Number.isInteger(c) && c >= 1)) throw new Error("--import-connections takes whole numbers ≥ 1, e.g. 2,4");
const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

const TWILIO_TOKEN = "bench-twilio-token";
// The operator routes (POST /operator/orgs/{org_id}/move) need a secret of 32+ bytes: without it they answer 404.
const OPERATOR_TOKEN = "bench-operator-token-0123456789abcdef";
const SIGNED_BASE = "https://bench.inbox.test";
const OWNER = "01936b00-0000-7000-8000-0000000000a1";
// --labels: the member whose saved views are the four system views and 10 label views.
const LABEL_USER = "01936b00-0000-7000-8000-0000000000a2";
const LABEL_COUNT = 10;
const LABEL_ROUNDS = arg("rounds", 3);

/** An id of org `k`'s rows (org 0's are the ids of the one-org bench). */
function uuid(prefix, i, k = 0) {
  const hex = i.toString(16).padStart(12, "0");
  return `${prefix}-${k.toString(16).padStart(4, "0")}-7000-8000-${hex}`;
}

/** The fields every report of a seeded run starts with (`kind` null: the plain routes run and --export, which name none). */
const reportHead = (kind, seeded) => ({
  date: new Date().toISOString(),
  ...(kind ? { kind } : {}),
  conversations: N,
  activities: seeded.activities,
  seed_seconds: seeded.seconds,
});

/** A 32-bit integer hash (lowbias32): which seeded messages and contacts get --search's words, the same every run. */
function mix(x) {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * --search: words the seed adds (in that mode only; the other modes' bodies and names stay
 * as they were). Message a (the org's a-th): 0.5 % end "… invoice overdue", 0.5 % "…
 * overdue invoice" (so `invoice` is in 1 % of messages, the phrase "invoice overdue" in
 * 0.5 %), chosen by mix(a); every 10,000th (a % 10000 = 4321) ends "… zanzibar" (0.01 %:
 * 1 at 1k conversations, 100 at 100k). Contact i: "Contact <i> Nakamura" for 1 % (by
 * mix), "Contact <i> Okonkwo" for exactly 5 (i = j·N/5 + 7). Phones stay +1415<2000000+i>.
 */
const SEARCH_SEED = {
  bodyTail(a) {
    if (!SEARCH) return "";
    if (a % 10000 === 4321) return " zanzibar";
    const h = mix(a ^ 0x5eed) % 1000;
    return h < 5 ? " invoice overdue" : h < 10 ? " overdue invoice" : "";
  },
  nameTail(i) {
    if (!SEARCH) return "";
    if (Array.from({ length: 5 }, (_, j) => Math.floor((j * N) / 5) + 7).includes(i)) return " Okonkwo";
    return mix(i ^ 0xc0de) % 100 === 0 ? " Nakamura" : "";
  },
};

/** Org k lives alone on SHARD_k, with its own SMS number (an address belongs to one org). */
const ORGS = Array.from({ length: SHARD_COUNT }, (_, k) => ({
  k,
  id: uuid("01936b00", k + 1),
  shard: `SHARD_${k}`,
  sms: `+1415555${9999 - k}`,
  channel: uuid("01936b00", 0xc1 + k),
  thread: uuid("01936b02", Math.floor(N / 2), k),
}));

/** wrangler.toml with SHARD_0…SHARD_<n-1> bound (the missing ones added like SHARD_1) and SHARDS naming exactly them. */
function writeBenchConfig() {
  let toml = readFileSync("wrangler.toml", "utf8");
  const bound = new Set(d1Bindings().map((b) => b.binding));
  const names = ORGS.map((o) => o.shard);
  if (!/^SHARDS = ".*"$/m.test(toml)) throw new Error("wrangler.toml has no SHARDS line to replace");
  toml = toml.replace(/^SHARDS = ".*"$/m, `SHARDS = "${names.join(",")}"`);
  for (const [k, name] of names.entries()) {
    if (bound.has(name)) continue;
    toml += `
[[d1_databases]]
binding = "${name}"
database_name = "inbox-shard-${k}"
database_id = "00000000-0000-0000-0000-${(0x10 + k).toString(16).padStart(12, "0")}"
migrations_dir = "migrations/shard"
migrations_table = "d1_migrations_shard"
`;
  }
  writeFileSync(CONFIG, `# Generated by bench/run.mjs for --shards ${SHARD_COUNT}; deleted after the run.\n${toml}`);
}

function sqliteFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) return sqliteFiles(p);
    return p.endsWith(".sqlite") && p.includes("D1DatabaseObject") && !p.endsWith("metadata.sqlite") ? [p] : [];
  });
}

/** binding → its SQLite file in STATE (each binding's migrations create its file: the new one is its). */
const files = {};

/** The shard's size as SQLite counts it (page_count · page_size, the WAL's pages included), and its rows. */
function shardSize(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  const one = (sql) => Object.values(db.prepare(sql).get())[0];
  const out = {
    bytes: one("PRAGMA page_count") * one("PRAGMA page_size"),
    free_pages: one("PRAGMA freelist_count"),
    conversations: one("SELECT COUNT(*) FROM conversations"),
    activities: one("SELECT COUNT(*) FROM activities"),
  };
  db.close();
  return out;
}

function seed() {
  rmSync(STATE, { recursive: true, force: true });
  devVars();
  if (SHARDS_ARG) writeBenchConfig();
  const bindings = d1Bindings(CONFIG);
  for (const org of ORGS) {
    if (!bindings.some((b) => b.binding === org.shard)) throw new Error(`${CONFIG} binds no ${org.shard}`);
  }
  for (const { binding } of bindings) {
    const before = new Set(sqliteFiles(STATE));
    const r = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", "--persist-to", STATE, "--config", CONFIG], {
      stdio: "ignore",
      env,
    });
    if (r.status !== 0) throw new Error(`migrations of ${binding} failed`);
    const made = sqliteFiles(STATE).filter((f) => !before.has(f));
    if (made.length !== 1) throw new Error(`expected one new database file for ${binding}, found ${made.length}`);
    files[binding] = made[0];
  }
  const t0 = Date.now();
  const now = Date.now();
  let a = 0;
  for (const org of ORGS) a += seedOrg(org, now);
  return { seconds: (Date.now() - t0) / 1000, activities: a };
}

/** Org `org`: its org row, member and channel route in DB; its N conversations and 10·N activities in its shard. */
function seedOrg(org, now) {
  const { shard } = org;
  const ORG = org.id;
  const SMS_CHANNEL = org.sms;
  const control = new DatabaseSync(files.DB);
  const db = new DatabaseSync(files[shard]);
  control.prepare("INSERT INTO orgs (id, name, created_at, shard) VALUES (?, ?, ?, ?)").run(ORG, "Bench Org", now, shard);
  control.prepare("INSERT INTO members (org_id, user_id, role, name, created_at, updated_at) VALUES (?, ?, 'owner', 'Bench', ?, ?)").run(ORG, OWNER, now, now);
  control
    .prepare("INSERT INTO channel_routes (kind, address, org_id, channel_id, created_at) VALUES ('sms', ?, ?, ?, ?)")
    .run(SMS_CHANNEL, ORG, org.channel, now);
  control.close();
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN");
  db.prepare("INSERT INTO channels (id, org_id, kind, address, provider, created_at) VALUES (?, ?, 'sms', ?, 'log', ?)").run(
    org.channel,
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
    const contactId = uuid("01936b01", i, org.k);
    const convId = uuid("01936b02", i, org.k);
    const phone = `+1415${String(2000000 + i).padStart(7, "0")}`;
    contact.run(contactId, ORG, `Contact ${i}${SEARCH_SEED.nameTail(i)}`, phone, now - N + i, now - N + i);
    const start = now - (N - i) * 60_000;
    let lastId = null,
      lastDir = null,
      lastAt = 0,
      waitingSince = null,
      unread = 0;
    const rows = [];
    for (let k = 0; k < 10; k++) {
      const tail = SEARCH_SEED.bodyTail(a);
      const id = uuid("01936b03", a++, org.k);
      const inbound = k % 2 === 0 || (i % 3 === 0 && k === 9);
      const at = start + k * 1000;
      rows.push([
        id,
        ORG,
        convId,
        contactId,
        inbound ? "inbound" : "outbound",
        inbound ? "received" : "sent",
        `Message ${k} in thread ${i}${tail}`,
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
  if (LABELS) seedLabels(org, db, now);
  // OrgInbox keeps these in step with every write; a seed written behind its back fills them once.
  db.exec(`INSERT INTO conversation_tallies (org_id, archived, starred, unread, assignee, n)
    SELECT org_id, archived, starred, unread_count > 0, COALESCE(assigned_to, ''), COUNT(*) FROM conversations GROUP BY 1, 2, 3, 4, 5`);
  db.exec(`INSERT INTO activity_day_tallies (org_id, day, archived, unread, n)
    SELECT org_id, sort_at / 86400000, archived, unread_count > 0, COUNT(*) FROM conversations GROUP BY 1, 2, 3, 4`);
  db.exec("COMMIT; PRAGMA wal_checkpoint(TRUNCATE); ANALYZE");
  db.close();
  return a;
}

/**
 * --labels: 10 labels, label j on every (j+2)-th conversation (the links inserted after the
 * conversations, so migration 0016's triggers fill label_tallies), and LABEL_USER, a member,
 * with the four system views and 10 label views (label j; j % 3 = 1: archived=false; 2:
 * archived=false, unread=true). The owner's views are made by the API on first use.
 */
function seedLabels(org, db, now) {
  const control = new DatabaseSync(files.DB);
  control
    .prepare("INSERT INTO members (org_id, user_id, role, name, created_at, updated_at) VALUES (?, ?, 'agent', 'Labels', ?, ?)")
    .run(org.id, LABEL_USER, now, now);
  control.close();
  const label = db.prepare("INSERT INTO labels (id, org_id, name, name_key, color, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?)");
  const link = db.prepare("INSERT INTO conversation_labels (org_id, conversation_id, label_id, created_at) VALUES (?, ?, ?, ?)");
  const view = db.prepare("INSERT INTO views (id, org_id, user_id, key, name, position, filters, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const system = [
    ["unread", "Unread", { unread: true, archived: false }],
    ["recents", "Recents", { archived: false, active_within_days: 30 }],
    ["starred", "Starred", { starred: true, archived: false }],
    ["all", "All", { archived: false }],
  ];
  for (const [p, [key, name, filters]] of system.entries())
    view.run(uuid("01936b06", p, org.k), org.id, LABEL_USER, key, name, p, JSON.stringify(filters), now, now);
  for (let j = 0; j < LABEL_COUNT; j++) {
    const id = uuid("01936b05", j, org.k);
    label.run(id, org.id, `Label ${j}`, `label ${j}`, now, now);
    for (let i = 0; i < N; i += j + 2) link.run(org.id, uuid("01936b02", i, org.k), id, now);
    const filters = j % 3 === 0 ? { label_ids: [id] } : j % 3 === 1 ? { label_ids: [id], archived: false } : { label_ids: [id], archived: false, unread: true };
    view.run(uuid("01936b06", 4 + j, org.k), org.id, LABEL_USER, null, `Label ${j} view`, 4 + j, JSON.stringify(filters), now, now);
  }
}

/** --labels: the trigger-kept label tallies equal a recount of the links (before any server). */
function checkLabelTallies() {
  const db = new DatabaseSync(files[ORGS[0].shard], { readOnly: true });
  const kept = db.prepare("SELECT label_id, archived, unread, n FROM label_tallies ORDER BY 1, 2, 3").all();
  const recounted = db
    .prepare(
      `SELECT cl.label_id, c.archived, c.unread_count > 0 AS unread, COUNT(*) AS n FROM conversation_labels cl
       JOIN conversations c ON c.id = cl.conversation_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    )
    .all();
  const links = db.prepare("SELECT COUNT(*) AS n FROM conversation_labels").get().n;
  db.close();
  const exact = JSON.stringify(kept) === JSON.stringify(recounted);
  if (!exact) throw new Error("label_tallies differ from a recount of the links after the seed");
  return { links, tally_rows: kept.length, exact };
}

/**
 * --labels: /health, the 4-view counts, the 14-view counts (10 label views), both again in
 * the other order, /health again: ratios to the mean /health, and the difference.
 */
async function labelsRun({ base, headers, targets, seeded, tallies }) {
  const labelToken = await signToken(LABEL_USER);
  const labelHeaders = { ...headers, authorization: `Bearer ${labelToken}` };
  const counts4 = targets.view_counts;
  const counts14 = { url: `${base}/conversations/views/counts`, headers: labelHeaders };
  // Each first once, checked: 4 and 14 views, 2xx.
  for (const [want, h] of [
    [4, headers],
    [14, labelHeaders],
  ]) {
    const res = await fetch(`${base}/conversations/views/counts`, { headers: h });
    const body = await res.json();
    if (res.status !== 200 || body.data.length !== want) throw new Error(`view counts: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    console.error(`  ${want} views: ${JSON.stringify(body.data.map((d) => [d.total, d.unread]))}`);
  }
  // Rounds of /health, the 4-view and the 14-view counts (the two counts in turn first), each
  // counts run's ratio to its round's /health: the machine is shared, so a round is compared
  // with itself, and each run waits while vitest / tsc runs elsewhere (--no-wait: not).
  const runs = [];
  const rounds = [];
  for (let round = 0; round < LABEL_ROUNDS; round++) {
    const order = round % 2 === 0 ? ["view_counts", "view_counts_labels"] : ["view_counts_labels", "view_counts"];
    const got = {};
    for (const name of ["health", ...order]) {
      const waited_s = await waitQuiet(name);
      console.error(`  round ${round + 1}: ${name} …`);
      got[name] = {
        round: round + 1,
        name,
        waited_s,
        load_1m: Number(loadavg()[0].toFixed(2)),
        ...summary(await load(name === "health" ? targets.health : name === "view_counts" ? counts4 : counts14)),
      };
      runs.push(got[name]);
    }
    for (const r of Object.values(got)) r.ratio_to_health = Number((r.requests_per_sec / got.health.requests_per_sec).toFixed(3));
    rounds.push({
      round: round + 1,
      view_counts_4_views: got.view_counts.ratio_to_health,
      view_counts_14_views: got.view_counts_labels.ratio_to_health,
      difference: Number((got.view_counts.ratio_to_health - got.view_counts_labels.ratio_to_health).toFixed(3)),
    });
  }
  const avg = (key) => Number((rounds.reduce((s, r) => s + r[key], 0) / rounds.length).toFixed(3));
  const health = runs.filter((r) => r.name === "health").reduce((s, r, _, a) => s + r.requests_per_sec / a.length, 0);
  const ratio = (name) => avg(name === "view_counts" ? "view_counts_4_views" : "view_counts_14_views");
  const report = {
    ...reportHead("labels", seeded),
    duration_s: DURATION,
    connections: CONNECTIONS,
    labels: LABEL_COUNT,
    label_tallies: tallies,
    runs,
    rounds,
    health_mean_req_s: Math.round(health),
    view_counts_4_views_ratio: ratio("view_counts"),
    view_counts_14_views_ratio: ratio("view_counts_labels"),
    difference: avg("difference"),
    goal: "difference within 0.05",
    node: process.version,
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/labels-${N}${CONNECTIONS !== 10 ? `-c${CONNECTIONS}` : ""}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
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

/** `wrangler dev` on PORT with its D1 and Durable Object state in `persistTo`, in its own process group. */
function startServer(persistTo, port = PORT) {
  return spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--port",
      String(port),
      "--persist-to",
      persistTo,
      "--config",
      CONFIG,
      "--log-level",
      // --export reads the server's conversations.export.done line (console.log: level log).
      EXPORT ? "log" : "error",
      "--var",
      `TWILIO_AUTH_TOKEN:${TWILIO_TOKEN}`,
      "--var",
      `OPERATOR_TOKEN:${OPERATOR_TOKEN}`,
      "--var",
      `PUBLIC_BASE_URL:${SIGNED_BASE}`,
      // One org takes every request here: the per-org and per-member limits would cap the measurement.
      "--var",
      `RATE_LIMIT_PER_MINUTE:${RATE_LIMIT}`,
      "--var",
      "SEND_LIMIT_PER_MINUTE:0",
      // POST /bench/ceiling answers only with this (404 otherwise): the --import run's ceiling.
      ...(IMPORT ? ["--var", "BENCH_CEILING:1"] : []),
      // --webhooks: the receiver is http://127.0.0.1:<port> (refused otherwise, SPEC 18).
      ...(WEBHOOKS ? ["--var", "ALLOW_PRIVATE_WEBHOOK_URLS:true"] : []),
    ],
    {
      env,
      // --webhooks keeps the server's output: its error lines go into the report.
      // (--search too: a 5xx's error line shows there.)
      // (--export too: its conversations.export.done line carries the server's read counts.)
      stdio: ["ignore", WEBHOOKS || SEARCH || EXPORT ? "pipe" : "ignore", WEBHOOKS || SEARCH || EXPORT ? "pipe" : "inherit"],
      detached: true, // its own process group, so the whole tree (npx, wrangler, workerd) stops with it
    },
  );
}

async function main() {
  const inUse = await fetch(`http://127.0.0.1:${PORT}/health`).then(
    () => true,
    () => false,
  );
  if (inUse) throw new Error(`port ${PORT} already answers: stop that server (or pass --port) so the bench measures its own`);
  console.error(`Seeding ${N} conversations / ${N * 10} activities into ${STATE} …`);
  const seeded = seed();
  if (SIZE) return sizeReport(seeded);
  console.error(`Seeded in ${seeded.seconds}s. Starting wrangler dev on :${PORT} …`);
  // --search: the seeded index checked and measured, and a copy of the state with its triggers dropped (the second server's), before the first server writes.
  const searchSeed = SEARCH ? prepareSearch() : null;
  const tallies = LABELS ? checkLabelTallies() : null;
  const sizeBefore = Object.fromEntries(ORGS.map((o) => [o.shard, shardSize(files[o.shard])]));
  const server = startServer(STATE);
  const base = `http://127.0.0.1:${PORT}`;
  const serverLog = WEBHOOKS || SEARCH || EXPORT ? watchServerLog(server) : null;
  try {
    await waitForHealth(base);
    const token = await signToken(OWNER);
    const headersOf = (org) => ({ authorization: `Bearer ${token}`, "x-org-id": org.id, "content-type": "application/json" });
    const headers = headersOf(ORGS[0]);
    const thread = ORGS[0].thread;
    // Each request goes to the next org in turn (one org: today's fixed requests).
    let turn = 0;
    const nextOrg = () => ORGS[turn++ % ORGS.length];
    const perOrg = (path) =>
      ORGS.length === 1
        ? { url: `${base}${path(ORGS[0])}`, headers }
        : {
            url: `${base}${path(ORGS[0])}`,
            requests: [
              {
                method: "GET",
                setupRequest: (req) => {
                  const org = nextOrg();
                  return { ...req, path: path(org), headers: headersOf(org) };
                },
              },
            ],
          };
    // A new provider id per request (autocannon's [<id>] replacement sends a stale Content-Length).
    let sent = 0;
    const ingestBody = (prefix = "load") =>
      JSON.stringify({
        contact: { phone: `+1415${String(2000000 + (sent % N)).padStart(7, "0")}` },
        type: "sms",
        direction: "inbound",
        body: "bench inbound",
        provider: "bench-load",
        provider_message_id: `${prefix}-${Date.now()}-${++sent}`,
      });
    // Signed inbound SMS webhooks, one in ten a redelivery of an earlier MessageSid (to the
    // number it was first sent to); the others to the next org's number in turn. --move
    // sends no redeliveries, under its own prefix (so its rows can be counted apart).
    const sids = [];
    let redeliveries = 0;
    const inboundWebhook = ({ redeliver = true, prefix = "SMbench" } = {}) => {
      let sid, org;
      if (redeliver && sids.length && Math.random() < 0.1) {
        ({ sid, org } = sids[Math.floor(Math.random() * sids.length)]);
        redeliveries++;
      } else {
        sid = `${prefix}${Date.now()}${sids.length}`;
        org = nextOrg();
        sids.push({ sid, org });
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
        To: org.sms,
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
      list_conversations: perOrg(() => "/conversations?limit=25"),
      list_messages: perOrg((org) => `/conversations/${org.thread}/messages?limit=25`),
      view_counts: perOrg(() => "/conversations/views/counts"),
      overdue_count: perOrg(() => "/conversations/overdue/count"),
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
        requests: [
          {
            method: "POST",
            headers,
            setupRequest: (req) => (ORGS.length === 1 ? { ...req, body: ingestBody() } : { ...req, headers: headersOf(nextOrg()), body: ingestBody() }),
          },
        ],
      },
    };
    await load({ ...targets.health, duration: 2 }); // warm-up
    if (LOAD) return await mixedLoad({ base, headers, thread, targets, sids, redeliveredCount: () => redeliveries, seeded });
    if (MOVE) return await moveRun({ base, headers, targets, inboundWebhook, ingestBody, seeded });
    if (IMPORT) return await importRun({ base, headers, token, targets, seeded });
    if (WEBHOOKS) return await webhooksRun({ base, headers, targets, ingestBody, seeded, serverLog });
    if (EXPORT) return await exportRun({ base, headers, token, targets, seeded, server, serverLog });
    if (LABELS) return await labelsRun({ base, headers, targets, seeded, tallies });
    if (SEARCH) return await searchRun({ base, headers, targets, ingestBody, seeded, server, serverLog, searchSeed });
    const results = {};
    for (const [name, opts] of Object.entries(targets)) {
      if (ROUTES && !ROUTES.includes(name)) continue;
      console.error(`  ${name} …`);
      results[name] = summary(await load(opts));
    }
    // Every shard's webhook rows: each unique MessageSid stored once, in its org's shard.
    const dup = { n: 0 };
    const stored = { n: 0 };
    const storedByShard = {};
    for (const org of ORGS) {
      const check = new DatabaseSync(files[org.shard], { readOnly: true });
      dup.n += check
        .prepare(
          "SELECT COUNT(*) AS n FROM (SELECT provider_message_id FROM activities WHERE provider = 'twilio' GROUP BY org_id, provider_message_id HAVING COUNT(*) > 1)",
        )
        .get().n;
      const n = check.prepare("SELECT COUNT(*) AS n FROM activities WHERE provider = 'twilio' AND provider_message_id LIKE 'SMbench%'").get().n;
      check.close();
      stored.n += n;
      storedByShard[org.shard] = n;
    }
    // POST /activities' rows (provider bench-load, ids load-…): each stored once, and as many as its 2xx
    // answers (or a few more: a request still in flight when autocannon stopped is stored unanswered).
    if (results.post_activities) {
      let apiStored = 0,
        apiDup = 0;
      for (const org of ORGS) {
        const check = new DatabaseSync(files[org.shard], { readOnly: true });
        const r = check
          .prepare(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS d FROM activities WHERE provider = 'bench-load' AND provider_message_id LIKE 'load-%'",
          )
          .get();
        check.close();
        apiStored += r.n;
        apiDup += r.n - r.d;
      }
      const codes = results.post_activities.status_codes;
      results.post_activities.answered_2xx = (codes["201"] ?? 0) + (codes["200"] ?? 0);
      results.post_activities.stored = apiStored;
      results.post_activities.duplicates = apiDup;
    }
    if (results.twilio_inbound_webhook) {
      results.twilio_inbound_webhook.redeliveries_sent = redeliveries;
      results.twilio_inbound_webhook.unique_sids_sent = sids.length;
      results.twilio_inbound_webhook.stored = stored.n;
      results.twilio_inbound_webhook.duplicates = dup.n;
      if (ORGS.length > 1) {
        results.twilio_inbound_webhook.unique_sids_sent_by_shard = Object.fromEntries(ORGS.map((o) => [o.shard, sids.filter((s) => s.org === o).length]));
        results.twilio_inbound_webhook.stored_by_shard = storedByShard;
      }
    }
    const health = results.health.requests_per_sec;
    for (const r of Object.values(results)) r.ratio_to_health = Number((r.requests_per_sec / health).toFixed(2));
    const report = {
      ...reportHead(null, seeded),
      duration_s: DURATION,
      connections: CONNECTIONS,
      rate_limit_per_minute: RATE_LIMIT,
      node: process.version,
      ...(SHARDS_ARG ? { shards: SHARD_COUNT, orgs: ORGS.length, conversations_per_org: N, requests: "each to the next org in turn" } : {}),
      results,
      // Each shard's size (page_count · page_size) and rows after the seed and after the run:
      // what the run's ingests added, through the real write path.
      shard_sizes: Object.fromEntries(ORGS.map((o) => [o.shard, { seeded: sizeBefore[o.shard], after_run: shardSize(files[o.shard]) }])),
    };
    mkdirSync("bench/results", { recursive: true });
    const name = [
      `conversations-${N}`,
      SHARDS_ARG ? `shards-${SHARD_COUNT}` : null,
      ROUTES || RATE_LIMIT ? (RATE_LIMIT ? `ratelimit-${RATE_LIMIT}` : "nolimit") : null,
      ROUTES ? ROUTES.filter((r) => r !== "health").join("+") || null : null,
      CONNECTIONS !== 10 ? `c${CONNECTIONS}` : null,
    ]
      .filter(Boolean)
      .join("-");
    writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
  } finally {
    // (--search stops this server itself before its second one: then it is gone already.)
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
    if (SHARDS_ARG) rmSync(CONFIG, { force: true });
  }
}

/**
 * The seeded shard's size: the file (checkpointed, so the WAL is empty), and dbstat's bytes
 * per table with its indexes (pages, headers and free space included), per conversation
 * and per message. A conversation is its contact, its conversation row and the tallies; a
 * message is an activities row with its indexes.
 */
function sizeReport(seeded) {
  if (SHARDS_ARG) rmSync(CONFIG, { force: true });
  const file = files[ORGS[0].shard];
  const db = new DatabaseSync(file, { readOnly: true });
  const owner = Object.fromEntries(
    db
      .prepare("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')")
      .all()
      .map((r) => [r.name, r.tbl_name]),
  );
  const byTable = {};
  for (const { name, bytes } of db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name").all()) {
    const table = owner[name] ?? name;
    byTable[table] ??= { table_bytes: 0, index_bytes: 0 };
    byTable[table][name === table ? "table_bytes" : "index_bytes"] += bytes;
  }
  const size = shardSize(file);
  db.close();
  const total = (t) => (byTable[t] ? byTable[t].table_bytes + byTable[t].index_bytes : 0);
  const perConversation = ["contacts", "conversations", "conversation_tallies", "activity_day_tallies"].reduce((s, t) => s + total(t), 0);
  const report = {
    date: new Date().toISOString(),
    kind: "size",
    conversations: N,
    activities: seeded.activities,
    file_bytes: statSync(file).size,
    wal_bytes: existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0,
    ...size,
    by_table: byTable,
    bytes_per_message: Math.round(total("activities") / seeded.activities),
    bytes_per_conversation_without_messages: Math.round(perConversation / N),
    file_bytes_per_conversation_with_its_10_messages: Math.round(statSync(file).size / N),
    node: process.version,
  };
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/size-${N}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
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
  const check = new DatabaseSync(files[ORGS[0].shard], { readOnly: true });
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The q-quantile of `xs` (nearest rank), to 0.1 ms; null for none. */
function quantile(xs, q) {
  if (!xs.length) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] * 10) / 10;
}

/** One request through node:http with no client timeout: { status, ms, text } or { error, ms }. */
function timedCall(method, url, reqHeaders, body, agent) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const failed = (e) => resolve({ error: String(e.code ?? e.message), ms: performance.now() - t0 });
    const req = httpRequest(
      url,
      { method, agent, headers: body === undefined ? reqHeaders : { ...reqHeaders, "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, ms: performance.now() - t0, text: Buffer.concat(chunks).toString() }));
        res.on("error", failed);
      },
    );
    req.on("error", failed);
    req.end(body);
  });
}

/** Latency and answers of a list of timed requests ({ms, status} or {ms, error}). */
function requestStats(list, open = 0) {
  const answered = list.filter((r) => r.status);
  const ms = answered.map((r) => r.ms);
  const codes = {};
  for (const r of answered) codes[r.status] = (codes[r.status] ?? 0) + 1;
  const byKind = {};
  for (const r of list) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
  return {
    sent: list.length + open,
    answered: answered.length,
    non_2xx: answered.filter((r) => r.status < 200 || r.status >= 300).length,
    network_errors: list.filter((r) => r.error).length,
    unanswered: open,
    status_codes: codes,
    by_kind: byKind,
    p50_ms: quantile(ms, 0.5),
    p99_ms: quantile(ms, 0.99),
    max_ms: quantile(ms, 1),
  };
}

/**
 * --move: the org moves SHARD_0 → SHARD_1 while signed ingests keep coming; the hold
 * (created_at → switched_at) is how long its writes waited. See the header comment.
 */
async function moveRun({ base, headers, targets, inboundWebhook, ingestBody, seeded }) {
  const org = ORGS[0];
  const to = "SHARD_1";
  if (!files[to]) throw new Error(`${CONFIG} binds no ${to}`);
  console.error("  /health (baseline, 5 s) …");
  const health = summary(await load({ ...targets.health, duration: 5 }));
  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" };

  // Ingests through node:http: no client timeout (autocannon's 10 s would cut a long hold).
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, INGEST_CONNECTIONS) });
  const call = (method, path, reqHeaders, body, via = agent) => timedCall(method, `${base}${path}`, reqHeaders, body, via);
  const post = (path, reqHeaders, body, via) => call("POST", path, reqHeaders, body, via);
  const kinds = {
    twilio_inbound_webhook: () => {
      const { body, signature } = inboundWebhook({ redeliver: false, prefix: "SMmove" });
      return post("/webhooks/twilio/messages", { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature }, body);
    },
    post_activities: () => post("/activities", headers, ingestBody("move")),
  };
  const ingests = [];
  let open = 0;
  let ingesting = true;
  const worker = async (kind) => {
    while (ingesting) {
      const sentAt = Date.now();
      open++;
      const r = await kinds[kind]();
      open--;
      ingests.push({ kind, sent_at: sentAt, done_at: Date.now(), status: r.status, error: r.error, ms: r.ms });
    }
  };

  // The ingests start 2 s before the move (their latency then is the reference), so that
  // some are already in the org's chain when the move takes its turn.
  console.error(`  ingesting on ${INGEST_CONNECTIONS} connections; in 2 s moving ${org.id} ${org.shard} → ${to} …`);
  const workers = Array.from({ length: INGEST_CONNECTIONS }, (_, i) => worker(i % 2 === 0 ? "twilio_inbound_webhook" : "post_activities"));
  // Reads alongside, each its own loop on fresh connections, one every 250 ms: GET /health
  // (the server as a whole) and GET /conversations (the org's reads, to go on during the move).
  const probes = [];
  const probe = async (kind, path, reqHeaders) => {
    while (ingesting) {
      const sentAt = Date.now();
      const r = await call("GET", path, reqHeaders, undefined, false);
      probes.push({ kind, sent_at: sentAt, done_at: Date.now(), status: r.status, error: r.error, ms: r.ms });
      await sleep(250);
    }
  };
  const probing = [probe("health", "/health", {}), probe("list_conversations", "/conversations?limit=25", headers)];
  await sleep(2000);
  const t0 = performance.now();
  const since = (t = performance.now()) => Number(((t - t0) / 1000).toFixed(2));
  // The POST is to answer at once (202); if it does not, the move's id is read from the
  // control database's org_moves row (written before the move starts), and the POST's
  // answer is awaited without a client timeout (post_answered_s says when it came).
  let postAnswer = null;
  const posting = post(`/operator/orgs/${org.id}/move`, operator, JSON.stringify({ shard: to }), false).then((r) => {
    postAnswer = { ...r, s: since() };
  });
  const controlDbFile = new DatabaseSync(files.DB, { readOnly: true });
  let moveId = null;
  while (!moveId) {
    if (postAnswer) {
      if (postAnswer.status !== 202)
        throw new Error(`POST /operator/orgs/${org.id}/move answered ${postAnswer.status ?? postAnswer.error}: ${postAnswer.text}`);
      moveId = JSON.parse(postAnswer.text).move_id;
    } else {
      moveId = controlDbFile.prepare("SELECT id FROM org_moves WHERE org_id = ? AND finished_at IS NULL").get(org.id)?.id;
      if (!moveId) await sleep(20);
    }
  }
  controlDbFile.close();

  let move = { status: "copying", tables: {} };
  let polls = 0;
  const pollErrors = {};
  const firstSeen = {};
  const deadline = performance.now() + MOVE_TIMEOUT_S * 1000;
  let timedOut = false;
  let logged = 0;
  const copiedOf = (m) => Object.values(m.tables ?? {}).reduce((sum, t) => sum + t.copied, 0);
  const totalOf = (m) => Object.values(m.tables ?? {}).reduce((sum, t) => sum + t.total, 0);
  while (move.status !== "done" && move.status !== "failed") {
    if (performance.now() > deadline) {
      timedOut = true;
      break;
    }
    try {
      const r = await fetch(`${base}/operator/moves/${moveId}`, { headers: operator });
      polls++;
      if (r.ok) {
        move = await r.json();
        firstSeen[move.status] ??= since();
      } else {
        pollErrors[r.status] = (pollErrors[r.status] ?? 0) + 1;
        await r.body?.cancel();
      }
    } catch (e) {
      const key = String(e.cause?.code ?? e.message);
      pollErrors[key] = (pollErrors[key] ?? 0) + 1;
    }
    if (performance.now() - logged > 10_000) {
      logged = performance.now();
      console.error(`    ${since()} s: ${move.status}, ${copiedOf(move)}/${totalOf(move)} rows, ${ingests.length} ingests answered, ${open} waiting`);
    }
    if (move.status !== "done" && move.status !== "failed") await sleep(100);
  }
  const observedEnd = since();
  // A few seconds past the switch: the org's writes now go to SHARD_1 and are mirrored to SHARD_0.
  if (move.status === "done") await sleep(5000);
  ingesting = false;
  // (An unref'd timer: the run does not wait it out once everything has answered.)
  await Promise.race([Promise.all([...workers, ...probing, posting]), new Promise((r) => setTimeout(r, timedOut ? 5000 : 120_000).unref())]);
  const stillOpen = open;

  const switchedAt = move.switched_at ? Date.parse(move.switched_at) : null;
  const createdAt = Date.parse(move.created_at);
  const holdS = switchedAt ? (switchedAt - createdAt) / 1000 : null;
  const rows = copiedOf(move);
  const before = ingests.filter((r) => r.done_at < createdAt);
  const during = ingests.filter((r) => r.done_at >= createdAt && (switchedAt === null || r.sent_at < switchedAt));
  const after = ingests.filter((r) => switchedAt !== null && r.sent_at >= switchedAt);
  const heldMs = during.filter((r) => r.status).map((r) => r.ms);
  const probesDuring = (kind) =>
    requestStats(probes.filter((r) => r.kind === kind && r.done_at >= createdAt && (switchedAt === null || r.sent_at < switchedAt)));

  // Through the API: the org's conversations, now from SHARD_1.
  const list = await fetch(`${base}/conversations?limit=25`, { headers });
  const listBody = await list.json().catch(() => null);
  const thread = await fetch(`${base}/conversations/${org.thread}/messages?limit=25`, { headers });
  const threadBody = await thread.json().catch(() => null);
  // And as the SQLite files hold them.
  const control = new DatabaseSync(files.DB, { readOnly: true });
  const orgShard = control.prepare("SELECT shard FROM orgs WHERE id = ?").get(org.id)?.shard;
  const controlKept = control.prepare("SELECT COUNT(*) AS n FROM unroutable_events").get().n;
  control.close();
  const shardRows = (file) => {
    const db = new DatabaseSync(file, { readOnly: true });
    const n = (sql) => db.prepare(sql).get(org.id).n;
    const out = {
      conversations: n("SELECT COUNT(*) AS n FROM conversations WHERE org_id = ?"),
      activities: n("SELECT COUNT(*) AS n FROM activities WHERE org_id = ?"),
      webhook_ingests: n("SELECT COUNT(*) AS n FROM activities WHERE org_id = ? AND provider = 'twilio' AND provider_message_id LIKE 'SMmove%'"),
      api_ingests: n("SELECT COUNT(*) AS n FROM activities WHERE org_id = ? AND provider = 'bench-load' AND provider_message_id LIKE 'move-%'"),
      duplicates: n(
        "SELECT COUNT(*) AS n FROM (SELECT provider_message_id FROM activities WHERE org_id = ? GROUP BY provider, provider_message_id HAVING COUNT(*) > 1)",
      ),
      unroutable_kept: n("SELECT COUNT(*) AS n FROM unroutable_events WHERE org_id = ?"),
    };
    db.close();
    return out;
  };
  const target = shardRows(files[to]);
  const source = shardRows(files[org.shard]);
  const answered2xx = (kind) => ingests.filter((r) => r.kind === kind && r.status >= 200 && r.status < 300).length;
  const ingestsStored = {
    twilio_inbound_webhook: { answered_2xx: answered2xx("twilio_inbound_webhook"), stored_on_target: target.webhook_ingests },
    post_activities: { answered_2xx: answered2xx("post_activities"), stored_on_target: target.api_ingests },
  };
  const report = {
    ...reportHead("move", seeded),
    node: process.version,
    health_connections: CONNECTIONS,
    ingest_connections: INGEST_CONNECTIONS,
    move: {
      move_id: move.move_id,
      from: move.from,
      to: move.to,
      status: timedOut ? `${move.status} (stopped waiting after ${MOVE_TIMEOUT_S} s)` : move.status,
      error: move.error,
      created_at: move.created_at,
      switched_at: move.switched_at,
      old_rows_deleted_at: move.old_rows_deleted_at,
      rows_copied: rows,
      rows_total: totalOf(move),
      tables: move.tables,
      // How long the org's writes were held: created_at → switched_at.
      hold_s: holdS,
      rows_per_sec: holdS ? Math.round(rows / holdS) : null,
      // Seconds after the POST was sent: its answer, and when a poll first saw each status (client clock).
      post_answered_s: postAnswer?.s ?? null,
      post_status: postAnswer ? (postAnswer.status ?? postAnswer.error) : null,
      first_seen_s: firstSeen,
      observed_end_s: observedEnd,
      polls,
      poll_errors: pollErrors,
    },
    // Ingests by when they were sent and answered (the server's clock is this machine's):
    // answered before the move's created_at (the 2 s before it); in flight at some time
    // from created_at to switched_at (all later ones when the move did not switch); sent
    // in the 5 s after the switch.
    ingests_before_move: requestStats(before),
    ingests_during_move: { ...requestStats(during, switchedAt === null ? stillOpen : 0), held_over_1s: heldMs.filter((ms) => ms > 1000).length },
    // Sent in the 5 s after the switch: written to SHARD_1 and mirrored to SHARD_0.
    ingests_after_switch: requestStats(after, switchedAt === null ? 0 : stillOpen),
    // The probes in flight at some time from created_at to switched_at.
    reads_during_move: { health: probesDuring("health"), list_conversations: probesDuring("list_conversations") },
    health: { p50_ms: health.p50_ms, p99_ms: health.p99_ms, requests_per_sec: health.requests_per_sec, non_2xx: health.non_2xx },
    after_move: {
      org_shard_in_control: orgShard,
      list_conversations: { status: list.status, first_page: listBody?.data?.length ?? null, has_next_page: Boolean(listBody?.next_cursor) },
      list_messages: { status: thread.status, first_page: threadBody?.data?.length ?? null },
      target_rows: target,
      source_rows: source,
      control_unroutable_kept: controlKept,
      ingests_stored: ingestsStored,
    },
  };
  report.ok =
    !timedOut &&
    move.status === "done" &&
    report.ingests_during_move.non_2xx === 0 &&
    report.ingests_during_move.network_errors === 0 &&
    report.ingests_after_switch.non_2xx === 0 &&
    orgShard === to &&
    list.status === 200 &&
    (listBody?.data?.length ?? 0) > 0 &&
    target.conversations === N &&
    target.duplicates === 0 &&
    target.unroutable_kept === 0 &&
    stillOpen === 0 &&
    Object.values(ingestsStored).every((k) => k.answered_2xx === k.stored_on_target);
  agent.destroy();
  mkdirSync("bench/results", { recursive: true });
  const name = ["move", N, INGEST_CONNECTIONS !== 4 ? `ingest-c${INGEST_CONNECTIONS}` : null].filter(Boolean).join("-");
  writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  if (!report.ok) process.exitCode = 1;
}

/** A small seeded PRNG (mulberry32), so the history file is the same every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * --import's history: `lines` POST /activities bodies, one a line, in time order over the
 * past year: sms (3 contacts in 5) and email (2 in 5) across 5,000 new contacts, inbound
 * a little more often than outbound, provider_message_id hist-<line>.
 */
function writeHistory(file, lines, smsNumber) {
  const rand = prng(16);
  const CONTACTS = 5000;
  const year = 365 * 86_400_000;
  const start = Date.now() - year;
  const out = [];
  const kinds = { sms: 0, email: 0, inbound: 0, outbound: 0 };
  for (let i = 1; i <= lines; i++) {
    const c = Math.floor(rand() * CONTACTS);
    const email = c % 5 >= 3;
    const inbound = rand() < 0.55;
    const occurredAt = new Date(start + Math.floor(((i - 1) * year) / lines) + Math.floor(rand() * 1000)).toISOString();
    const direction = inbound ? "inbound" : "outbound";
    kinds[email ? "email" : "sms"]++;
    kinds[direction]++;
    const item = email
      ? (() => {
          const address = `history${c}@example.org`;
          return {
            contact: { email: address, name: `History ${c}` },
            type: "email",
            direction,
            subject: `Order ${1000 + (i % 9000)}`,
            body: inbound ? `Question ${i} from history contact ${c}` : `Answer ${i} to history contact ${c}`,
            from: inbound ? address : "support@bench-org.example",
            to: inbound ? "support@bench-org.example" : address,
            provider: "history-email",
            provider_message_id: `hist-${i}`,
            occurred_at: occurredAt,
          };
        })()
      : (() => {
          const phone = `+1415${4000000 + c}`;
          return {
            contact: { phone, name: `History ${c}` },
            type: "sms",
            direction,
            body: inbound ? `Text ${i} from history contact ${c}` : `Reply ${i} to history contact ${c}`,
            from: inbound ? phone : smsNumber,
            to: inbound ? smsNumber : phone,
            provider: "history-sms",
            provider_message_id: `hist-${i}`,
            occurred_at: occurredAt,
          };
        })();
    out.push(JSON.stringify(item));
  }
  writeFileSync(file, `${out.join("\n")}\n`);
  return { lines, contacts: CONTACTS, bytes: statSync(file).size, ...kinds };
}

/**
 * `npm run <script> -- …args`, reading one of its streams (`stdout` or `stderr`; the other
 * is ignored or inherited): its exit code, wall time, the summary JSON `parse` finds in that
 * text, and the text's tail (under the stream's name) when there is none.
 */
function runScript(script, args, stream, parse) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const stdio = stream === "stdout" ? ["ignore", "pipe", "inherit"] : ["ignore", "ignore", "pipe"];
    const child = spawn("npm", ["run", script, "--", ...args], { env, stdio });
    let text = "";
    child[stream].on("data", (c) => {
      text += c;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      let summary = null;
      try {
        summary = parse(text);
      } catch {}
      resolve({ code, wall_s: Number(wall.toFixed(1)), summary, [stream]: summary ? undefined : text.slice(-2000) });
    });
  });
}

/** `npm run import -- …args`: its summary JSON (stdout, after npm's banner lines), its exit code and wall time. */
function runImport(args) {
  return runScript("import", args, "stdout", (out) => {
    const at = out.search(/^\{/m);
    return at >= 0 ? JSON.parse(out.slice(at)) : null;
  });
}

/**
 * --import: POST /activities/batch against POST /bench/ceiling in the same run, then
 * `npm run import` of a history file, twice (the second with --restart). See the header comment.
 */
async function importRun({ base, headers, token, targets, seeded }) {
  const org = ORGS[0];
  console.error("  /health (baseline) …");
  const health = summary(await load({ ...targets.health }));
  const ITEMS = 500;
  const run = Date.now().toString(36);
  let seq = 0,
    newNumbers = 0;
  const batchBody = () =>
    JSON.stringify({
      activities: Array.from({ length: ITEMS }, (_, i) => {
        const phone = i % 2 === 0 ? `+1415${String(2000000 + Math.floor(Math.random() * N)).padStart(7, "0")}` : `+1415${3000000 + newNumbers++}`;
        return {
          contact: { phone },
          type: "sms",
          direction: "inbound",
          body: `bench batch ${seq}`,
          provider: "bench-batch",
          provider_message_id: `batch-${run}-${++seq}`,
        };
      }),
    });
  const ceilingBody = () =>
    JSON.stringify({ conversation_id: org.thread, activities: Array.from({ length: ITEMS }, (_, i) => ({ body: `bench ceiling ${i}` })) });
  // What a 200 answer stored: the batch's 201 results (and each item's status), the ceiling's `stored`.
  const batchItems = (text) => {
    const statuses = {};
    for (const r of JSON.parse(text).results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    return { stored: statuses[201] ?? 0, statuses };
  };
  const ceilingItems = (text) => ({ stored: JSON.parse(text).stored, statuses: {} });

  /** A closed loop of `connections` for DURATION s; requests in flight at the end are awaited and counted. */
  async function closedLoop(path, connections, makeBody, itemsOf) {
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    const list = [];
    const errorTexts = {};
    const itemStatuses = {};
    let stored = 0;
    const t0 = performance.now();
    const until = t0 + DURATION * 1000;
    const worker = async () => {
      while (performance.now() < until) {
        const r = await timedCall("POST", `${base}${path}`, headers, makeBody(), agent);
        list.push(r);
        if (r.status === 200) {
          const items = itemsOf(r.text);
          stored += items.stored;
          for (const [k, v] of Object.entries(items.statuses)) itemStatuses[k] = (itemStatuses[k] ?? 0) + v;
        } else {
          const key = r.status ?? r.error;
          errorTexts[key] ??= (r.text ?? r.error).slice(0, 500);
        }
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    const seconds = (performance.now() - t0) / 1000;
    agent.destroy();
    const stats = requestStats(list);
    delete stats.by_kind;
    delete stats.unanswered;
    return {
      connections,
      seconds: Number(seconds.toFixed(2)),
      ...stats,
      items_per_request: ITEMS,
      items_stored: stored,
      items_per_sec: Math.round(stored / seconds),
      ...(Object.keys(itemStatuses).length ? { item_statuses: itemStatuses } : {}),
      ...(Object.keys(errorTexts).length ? { error_texts: errorTexts } : {}),
    };
  }

  // One unmeasured request of each kind: the ceiling route answers (BENCH_CEILING), and the org's Durable Object is up.
  const warm = {};
  for (const [name, path, body] of [
    ["batch", "/activities/batch", batchBody],
    ["ceiling", "/bench/ceiling", ceilingBody],
  ]) {
    const r = await timedCall("POST", `${base}${path}`, headers, body(), false);
    warm[name] = { status: r.status ?? r.error, ms: Math.round(r.ms) };
    if (r.status !== 200) throw new Error(`warm-up POST ${path} answered ${r.status ?? r.error}: ${(r.text ?? "").slice(0, 500)}`);
  }
  const batch = {};
  const ceiling = {};
  const ratio = {};
  for (const c of IMPORT_CONNECTIONS) {
    console.error(`  POST /activities/batch, ${ITEMS} items a request, ${c} connections, ${DURATION} s …`);
    batch[`c${c}`] = await closedLoop("/activities/batch", c, batchBody, batchItems);
    console.error(`    ${batch[`c${c}`].items_per_sec} activities/s`);
    console.error(`  POST /bench/ceiling, ${ITEMS} items a request, ${c} connections, ${DURATION} s …`);
    ceiling[`c${c}`] = await closedLoop("/bench/ceiling", c, ceilingBody, ceilingItems);
    console.error(`    ${ceiling[`c${c}`].items_per_sec} items/s`);
    ratio[`c${c}`] = Number((batch[`c${c}`].items_per_sec / ceiling[`c${c}`].items_per_sec).toFixed(2));
  }
  const best = (m) => Math.max(...Object.values(m).map((r) => r.items_per_sec));
  ratio.best_to_best = Number((best(batch) / best(ceiling)).toFixed(2));

  // The batch run's rows in the shard: each provider id once.
  const shardCount = (sql, ...params) => {
    const db = new DatabaseSync(files[org.shard], { readOnly: true });
    const r = db.prepare(sql).get(...params);
    db.close();
    return r;
  };
  const batchRows = shardCount(
    "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS d FROM activities WHERE org_id = ? AND provider = 'bench-batch'",
    org.id,
  );
  const batchAnswered201 = Object.values(batch).reduce((sum, r) => sum + r.items_stored, 0) + (warm.batch.status === 200 ? ITEMS : 0);

  // The history through `npm run import`, with the bench's owner token.
  const file = `${STATE}/history-${IMPORT_LINES}.ndjson`;
  console.error(`  writing ${file} (${IMPORT_LINES} lines) …`);
  const history = writeHistory(file, IMPORT_LINES, org.sms);
  rmSync(`${file}.import-state.json`, { force: true });
  rmSync(`${file}.rejects.ndjson`, { force: true });
  const orgActivities = () => shardCount("SELECT COUNT(*) AS n FROM activities WHERE org_id = ?", org.id).n;
  const histRows = () => {
    const r = shardCount(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS d FROM activities WHERE org_id = ? AND provider IN ('history-sms', 'history-email') AND provider_message_id LIKE 'hist-%'",
      org.id,
    );
    return { history_rows: r.n, history_distinct_ids: r.d };
  };
  const importArgs = ["--org", org.id, "--file", file, "--base-url", base, "--token", token];
  const before = orgActivities();
  console.error("  npm run import …");
  const first = await runImport(importArgs);
  const afterFirst = { org_activities: orgActivities(), ...histRows() };
  console.error(`    ${JSON.stringify(first.summary)}`);
  console.error("  npm run import -- --restart …");
  const again = await runImport([...importArgs, "--restart"]);
  const afterAgain = { org_activities: orgActivities(), ...histRows() };
  console.error(`    ${JSON.stringify(again.summary)}`);

  const report = {
    ...reportHead("import", seeded),
    duration_s: DURATION,
    node: process.version,
    health: { connections: CONNECTIONS, ...health },
    warm_up: warm,
    // Activities stored per second (201 results only): 500 new inbound SMS a request, half to existing contacts, half to new numbers.
    batch,
    // Items per second: each item two bare rows (an activity-shaped row, a counter upsert), batches of 250, no reads.
    ceiling,
    batch_to_ceiling: ratio,
    batch_rows: {
      answered_201: batchAnswered201,
      stored: batchRows.n,
      duplicates: batchRows.n - batchRows.d,
    },
    import: {
      file,
      history,
      org_activities_before: before,
      first: { ...first, after: afterFirst },
      restart: { ...again, after: afterAgain },
      lost: IMPORT_LINES - afterFirst.history_distinct_ids,
      duplicates_stored: afterAgain.history_rows - afterAgain.history_distinct_ids,
      rows_added_by_restart: afterAgain.org_activities - afterFirst.org_activities,
    },
  };
  const fivexx = (r) => Object.entries(r.status_codes).reduce((sum, [k, v]) => sum + (Number(k) >= 500 ? v : 0), 0);
  report.checks = {
    five_xx: [...Object.values(batch), ...Object.values(ceiling)].reduce((sum, r) => sum + fivexx(r), 0) + fivexx(health),
    batch_non_2xx: Object.values(batch).reduce((sum, r) => sum + r.non_2xx + r.network_errors, 0),
    ceiling_non_2xx: Object.values(ceiling).reduce((sum, r) => sum + r.non_2xx + r.network_errors, 0),
    batch_rows_match_201s: batchRows.n === batchAnswered201 && batchRows.n === batchRows.d,
    // The issue's targets.
    batch_at_least_2500_per_s: best(batch) >= 2500,
    batch_at_least_half_ceiling: ratio.best_to_best >= 0.5,
    import_exit_codes: { first: first.code, restart: again.code },
    import_stored_all: first.summary?.stored === IMPORT_LINES && report.import.lost === 0,
    restart_all_duplicates: again.summary?.duplicates === IMPORT_LINES && again.summary?.stored === 0,
    restart_rows_unchanged: report.import.rows_added_by_restart === 0 && report.import.duplicates_stored === 0,
  };
  report.ok =
    report.checks.five_xx === 0 &&
    report.checks.batch_non_2xx === 0 &&
    report.checks.ceiling_non_2xx === 0 &&
    report.checks.batch_rows_match_201s &&
    first.code === 0 &&
    again.code === 0 &&
    report.checks.import_stored_all &&
    report.checks.restart_all_duplicates &&
    report.checks.restart_rows_unchanged;
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/import-${N}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  if (!report.ok) process.exitCode = 1;
}

/** Other vitest / tsc processes on the machine (node …vitest…, node …tsc…). */
function otherTestRuns() {
  const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout ?? "";
  return ps.split("\n").filter((l) => /node .*\b(vitest|tsc)\b/.test(l)).length;
}

/** A list of { phase, load_1m, other_vitest_or_tsc, …extra } and note(phase, extra) to add one. */
function machineNotes() {
  const machine = [];
  const note = (phase, extra = {}) => machine.push({ phase, load_1m: Number(loadavg()[0].toFixed(2)), other_vitest_or_tsc: otherTestRuns(), ...extra });
  return { machine, note };
}

/**
 * --webhooks: the server's stdout and stderr, line by line (stderr still shown): the JSON
 * log lines counted by `msg`, and the error lines (level error, or wrangler's ✘ / Error /
 * Uncaught) kept, the first 20 of them in full.
 */
function watchServerLog(server) {
  const out = { lines: 0, by_msg: {}, last_by_msg: {}, error_lines: 0, error_samples: [] };
  const watch = (stream, echo) => {
    let rest = "";
    stream.on("data", (chunk) => {
      if (echo) process.stderr.write(chunk);
      const lines = (rest + chunk).split("\n");
      rest = lines.pop();
      for (const line of lines) {
        if (!line.trim()) continue;
        out.lines++;
        let level = null;
        const at = line.indexOf("{");
        if (at >= 0) {
          try {
            const j = JSON.parse(line.slice(at));
            if (j.msg) out.by_msg[j.msg] = (out.by_msg[j.msg] ?? 0) + 1;
            if (j.msg) out.last_by_msg[j.msg] = j;
            level = j.level ?? null;
          } catch {}
        }
        if (level === "error" || /✘|\bError\b|Uncaught|\[ERROR\]/.test(line)) {
          out.error_lines++;
          if (out.error_samples.length < 20) out.error_samples.push(line.slice(0, 1000));
        }
      }
    });
  };
  watch(server.stdout, false);
  watch(server.stderr, true);
  return out;
}

/**
 * --webhooks: POST /activities without and with one subscribed endpoint, and each message's
 * end-to-end delivery latency to a local receiver. See the header comment.
 */
async function webhooksRun({ base, headers, targets, ingestBody, seeded, serverLog }) {
  const org = ORGS[0];
  const { Webhook } = await import("standardwebhooks");
  // What else the machine ran at each phase's start and end (1-min load average, other
  // vitest / tsc processes): this 2-core machine is shared, so a disturbed run shows here.
  const { machine, note } = machineNotes();
  note("start");

  console.error(`  /health (baseline, ${DURATION} s, ${CONNECTIONS} connections) …`);
  const healthBefore = summary(await load({ ...targets.health }));
  note("after /health before");
  console.error(`    ${healthBefore.requests_per_sec} req/s`);

  // The same route generator as post_activities (unique provider ids under `prefix`); each
  // answer's arrival and its message's provider_message_id go to `onAnswer`.
  const postActivities = (prefix, onAnswer) => ({
    url: `${base}/activities`,
    requests: [
      {
        method: "POST",
        headers,
        setupRequest: (req) => ({ ...req, body: ingestBody(prefix) }),
        ...(onAnswer ? { onResponse: (status, body) => onAnswer(performance.now(), status, body) } : {}),
      },
    ],
  });
  const storedRows = (prefix) => {
    const db = new DatabaseSync(files[org.shard], { readOnly: true });
    const r = db
      .prepare(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS d FROM activities WHERE org_id = ? AND provider = 'bench-load' AND provider_message_id LIKE ?",
      )
      .get(org.id, `${prefix}-%`);
    db.close();
    return { stored: r.n, duplicates_stored: r.n - r.d };
  };
  const answered2xx = (r) => Object.entries(r.status_codes).reduce((sum, [k, v]) => sum + (Number(k) >= 200 && Number(k) < 300 ? v : 0), 0);

  console.error(`  POST /activities, no webhook endpoint, ${DURATION} s …`);
  const without = summary(await load(postActivities("load")));
  note("after POST /activities without endpoint");
  Object.assign(without, { answered_2xx: answered2xx(without), ...storedRows("load") });
  console.error(`    ${without.requests_per_sec} req/s`);

  // The receiver: 200 at once; what arrived is parsed after the answer.
  let secret = null;
  const hits = [];
  const receiver = createServer((req, res) => {
    const at = performance.now();
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      const text = Buffer.concat(chunks).toString();
      const hit = { at, path: req.url, webhook_id: req.headers["webhook-id"] ?? null, type: null, pmid: null, object_id: null, signature_ok: false };
      try {
        const body = JSON.parse(text);
        hit.type = body.type ?? null;
        hit.pmid = body.data?.object?.provider_message_id ?? null;
        hit.object_id = body.data?.object?.id ?? null;
      } catch {}
      try {
        if (secret) {
          new Webhook(secret).verify(text, {
            "webhook-id": req.headers["webhook-id"],
            "webhook-timestamp": req.headers["webhook-timestamp"],
            "webhook-signature": req.headers["webhook-signature"],
          });
          hit.signature_ok = true;
        }
      } catch {}
      hits.push(hit);
    });
  });
  receiver.keepAliveTimeout = 30_000;
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
  const registered = await timedCall("POST", `${base}/webhook-endpoints`, headers, JSON.stringify({ url: hookUrl, events: WEBHOOK_EVENTS }), false);
  if (registered.status !== 201) throw new Error(`POST /webhook-endpoints answered ${registered.status ?? registered.error}: ${registered.text}`);
  const endpoint = JSON.parse(registered.text);
  secret = endpoint.secret;
  console.error(`  endpoint ${endpoint.id} → ${hookUrl}, events ${JSON.stringify(endpoint.events)}`);

  // Deliveries of message.created by provider_message_id, as they come.
  const created = new Map();
  let seen = 0;
  const indexHits = () => {
    for (; seen < hits.length; seen++) {
      const h = hits[seen];
      if (h.type !== "message.created" || !h.pmid) continue;
      if (!created.has(h.pmid)) created.set(h.pmid, []);
      created.get(h.pmid).push(h);
    }
  };
  const waitFor = async (ids, ms) => {
    const until = performance.now() + ms;
    for (;;) {
      indexHits();
      const missing = ids.filter((id) => !created.has(id)).length;
      if (!missing || performance.now() > until) return missing;
      await sleep(100);
    }
  };

  // One unmeasured ingest, awaited until delivered: the pipeline works, and its idle latency.
  const warm = await timedCall("POST", `${base}/activities`, headers, ingestBody("warm"), false);
  const warmAnswered = performance.now();
  let warmUp = { status: warm.status ?? warm.error };
  if (warm.status === 201) {
    const pmid = JSON.parse(warm.text).message.provider_message_id;
    const missing = await waitFor([pmid], 30_000);
    warmUp = { ...warmUp, delivered: !missing, latency_ms: missing ? null : Math.round(created.get(pmid)[0].at - warmAnswered) };
  }
  console.error(`  warm-up ingest: ${JSON.stringify(warmUp)}`);

  console.error(`  POST /activities, one endpoint (${WEBHOOK_EVENTS.join(",")}) at ${hookUrl}, ${DURATION} s …`);
  const answers = new Map();
  const badAnswers = {};
  const hitsBefore = hits.length;
  const loadStart = performance.now();
  const withHook = summary(
    await load(
      postActivities("hook", (at, status, body) => {
        if (status < 200 || status >= 300) {
          badAnswers[status] = (badAnswers[status] ?? 0) + 1;
          return;
        }
        try {
          answers.set(JSON.parse(body).message.provider_message_id, at);
        } catch {
          badAnswers.unparsed = (badAnswers.unparsed ?? 0) + 1;
        }
      }),
    ),
  );
  const loadEnd = performance.now();
  note("after POST /activities with endpoint");
  const hitsDuringLoad = hits.length - hitsBefore;
  console.error(`    ${withHook.requests_per_sec} req/s; ${answers.size} answers 2xx, ${hitsDuringLoad} deliveries arrived meanwhile`);

  // Every answered message's delivery, or 120 s.
  const ids = [...answers.keys()];
  let lastLog = performance.now();
  const drainUntil = performance.now() + 120_000;
  let missing = ids.length;
  for (;;) {
    missing = await waitFor(ids, 0);
    if (!missing || performance.now() > drainUntil) break;
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      console.error(`    waiting: ${ids.length - missing}/${ids.length} delivered, ${hits.length} requests received`);
    }
    await sleep(250);
  }
  const drainS = (performance.now() - loadEnd) / 1000;
  note("after the deliveries' wait");
  // The last of the other events (conversation.updated …) may come a little later: a second more.
  await sleep(1000);
  indexHits();
  console.error(`    ${ids.length - missing}/${ids.length} delivered ${drainS.toFixed(1)} s after the load`);

  console.error(`  /health again (${DURATION} s) …`);
  const healthAfter = summary(await load({ ...targets.health }));
  note("after /health after");
  console.error(`    ${healthAfter.requests_per_sec} req/s`);
  indexHits();

  // Latency per answered message (its first delivery), duplicates, and what the receiver got.
  const latencies = [];
  let lost = 0;
  let messagesDeliveredTwice = 0;
  let extraMessageDeliveries = 0;
  for (const [pmid, at] of answers) {
    const got = created.get(pmid);
    if (!got) {
      lost++;
      continue;
    }
    latencies.push(Math.min(...got.map((h) => h.at)) - at);
    if (got.length > 1) {
      messagesDeliveredTwice++;
      extraMessageDeliveries += got.length - 1;
    }
  }
  const byWebhookId = new Map();
  for (const h of hits) byWebhookId.set(h.webhook_id, (byWebhookId.get(h.webhook_id) ?? 0) + 1);
  const duplicateWebhookIds = [...byWebhookId.values()].filter((n) => n > 1).length;
  const byType = {};
  for (const h of hits) byType[h.type ?? "unparsed"] = (byType[h.type ?? "unparsed"] ?? 0) + 1;
  const prefixOf = (pmid) => (pmid ? pmid.split("-")[0] : null);
  const createdByPrefix = {};
  for (const h of hits.filter((x) => x.type === "message.created")) {
    const p = prefixOf(h.pmid) ?? "none";
    createdByPrefix[p] = (createdByPrefix[p] ?? 0) + 1;
  }
  // message.created of a hook- request autocannon sent but stopped before its answer (stored, delivered, not answered).
  const unanswered = [...created.keys()].filter((pmid) => pmid.startsWith("hook-") && !answers.has(pmid)).length;
  const lastHit = hits.length ? Math.max(...hits.map((h) => h.at)) : null;

  // The shard's outbox and deliveries.
  const db = new DatabaseSync(files[org.shard], { readOnly: true });
  const rows = (sql, ...p) => db.prepare(sql).all(...p);
  const outbox = {
    events_by_type: Object.fromEntries(rows("SELECT type, COUNT(*) AS n FROM webhook_events WHERE org_id = ? GROUP BY type", org.id).map((r) => [r.type, r.n])),
    undispatched: rows("SELECT COUNT(*) AS n FROM webhook_events WHERE org_id = ? AND dispatched_at IS NULL", org.id)[0].n,
    deliveries_by_status: Object.fromEntries(
      rows("SELECT status, COUNT(*) AS n FROM webhook_deliveries WHERE org_id = ? GROUP BY status", org.id).map((r) => [r.status, r.n]),
    ),
    deliveries_attempted_more_than_once: rows("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE org_id = ? AND attempts > 1", org.id)[0].n,
    deliveries_with_error: rows("SELECT last_error, COUNT(*) AS n FROM webhook_deliveries WHERE org_id = ? AND last_error IS NOT NULL GROUP BY 1", org.id),
  };
  db.close();
  const closed = new Promise((resolve) => receiver.close(resolve));
  receiver.closeAllConnections();
  await closed;

  Object.assign(withHook, { answered_2xx: answered2xx(withHook), ...storedRows("hook") });
  const ratio = (r, h) => Number((r.requests_per_sec / h.requests_per_sec).toFixed(3));
  const ratioWithout = ratio(without, healthBefore);
  const ratioWith = ratio(withHook, healthBefore);
  const ratioWithToAfter = ratio(withHook, healthAfter);
  const meanHealth = { requests_per_sec: (healthBefore.requests_per_sec + healthAfter.requests_per_sec) / 2 };
  const fivexx = [healthBefore, without, withHook, healthAfter].reduce(
    (sum, r) => sum + Object.entries(r.status_codes).reduce((a, [k, v]) => a + (Number(k) >= 500 ? v : 0), 0),
    0,
  );
  const report = {
    ...reportHead("webhooks", seeded),
    duration_s: DURATION,
    connections: CONNECTIONS,
    node: process.version,
    endpoint: { id: endpoint.id, url: hookUrl, events: endpoint.events },
    health_before: healthBefore,
    post_activities_without_endpoint: { ...without, ratio_to_health_before: ratioWithout },
    post_activities_with_endpoint: {
      ...withHook,
      ratio_to_health_before: ratioWith,
      ratio_to_health_after: ratioWithToAfter,
      non_2xx_by_status: badAnswers,
    },
    // Measured after the deliveries' wait (so the drain does not share the CPU with it).
    health_after: healthAfter,
    ratios: {
      // Both ingest runs against the same baseline (the /health run before them).
      without_endpoint: ratioWithout,
      with_endpoint: ratioWith,
      difference: Number((ratioWithout - ratioWith).toFixed(3)),
      // The same against the mean of both /health runs, and "with" against the /health run after it.
      without_to_mean_health: ratio(without, meanHealth),
      with_to_mean_health: ratio(withHook, meanHealth),
      difference_to_mean_health: Number((ratio(without, meanHealth) - ratio(withHook, meanHealth)).toFixed(3)),
      with_to_health_after: ratioWithToAfter,
      difference_each_to_its_neighbour: Number((ratioWithout - ratioWithToAfter).toFixed(3)),
      goal_within_0_05: Math.abs(ratioWithout - ratioWith) <= 0.05,
    },
    warm_up: warmUp,
    delivery: {
      // answer arrival → the message.created delivery's arrival, both on this process's clock.
      answers_2xx: answers.size,
      delivered: latencies.length,
      lost,
      latency_ms: {
        p50: quantile(latencies, 0.5),
        p90: quantile(latencies, 0.9),
        p99: quantile(latencies, 0.99),
        max: quantile(latencies, 1),
        min: quantile(latencies, 0),
        negative: latencies.filter((ms) => ms < 0).length,
      },
      all_delivered_s_after_load: missing ? null : Number(drainS.toFixed(1)),
      waited_s: Number(drainS.toFixed(1)),
      load_s: Number(((loadEnd - loadStart) / 1000).toFixed(1)),
      received_during_load: hitsDuringLoad,
      received_total: hits.length,
      last_received_s_after_load: lastHit === null ? null : Number(((lastHit - loadEnd) / 1000).toFixed(1)),
      received_by_type: byType,
      message_created_by_prefix: createdByPrefix,
      message_created_of_unanswered_requests: unanswered,
      duplicate_webhook_ids: duplicateWebhookIds,
      messages_delivered_twice: messagesDeliveredTwice,
      extra_message_deliveries: extraMessageDeliveries,
      bad_signatures: hits.filter((h) => !h.signature_ok).length,
      wrong_path: hits.filter((h) => h.path !== "/hook").length,
    },
    outbox,
    server_log: serverLog,
    machine,
  };
  report.checks = {
    five_xx: fivexx,
    non_2xx: without.non_2xx + withHook.non_2xx + healthBefore.non_2xx + healthAfter.non_2xx,
    lost,
    duplicate_webhook_ids: duplicateWebhookIds,
    messages_delivered_twice: messagesDeliveredTwice,
    bad_signatures: report.delivery.bad_signatures,
    ingests_stored_once: without.duplicates_stored === 0 && withHook.duplicates_stored === 0,
    no_delivery_of_the_run_without_endpoint: (createdByPrefix.load ?? 0) === 0,
    undispatched: outbox.undispatched,
    deliveries_pending: outbox.deliveries_by_status.pending ?? 0,
    deliveries_failed: outbox.deliveries_by_status.failed ?? 0,
    server_error_lines: serverLog.error_lines,
  };
  report.ok =
    fivexx === 0 &&
    report.checks.non_2xx === 0 &&
    lost === 0 &&
    duplicateWebhookIds === 0 &&
    messagesDeliveredTwice === 0 &&
    report.checks.bad_signatures === 0 &&
    report.checks.ingests_stored_once &&
    report.checks.no_delivery_of_the_run_without_endpoint;
  mkdirSync("bench/results", { recursive: true });
  const name = [`webhooks-${N}`, CONNECTIONS !== 16 ? `c${CONNECTIONS}` : null, WEBHOOK_EVENTS.join(",") !== "*" ? `events-${WEBHOOK_EVENTS.join("+")}` : null]
    .filter(Boolean)
    .join("-");
  writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  const d = report.delivery;
  const row = (label, value) => `| ${label.padEnd(44)} | ${String(value).padStart(24)} |`;
  console.log(
    [
      "",
      `webhooks, ${N} conversations, ${CONNECTIONS} connections, ${DURATION} s a run (bench/results/${name}.json)`,
      row("measure", "value"),
      row("GET /health before / after (req/s)", `${healthBefore.requests_per_sec} / ${healthAfter.requests_per_sec}`),
      row("POST /activities, no endpoint (req/s, ratio)", `${without.requests_per_sec}, ${ratioWithout}`),
      row(`POST /activities, 1 endpoint ${WEBHOOK_EVENTS.join(",")} (req/s, ratio)`, `${withHook.requests_per_sec}, ${ratioWith}`),
      row("ratio difference (goal ≤ 0.05)", report.ratios.difference),
      row("delivery latency p50 / p99 / max (ms)", `${d.latency_ms.p50} / ${d.latency_ms.p99} / ${d.latency_ms.max}`),
      row("answers 2xx / delivered / lost", `${d.answers_2xx} / ${d.delivered} / ${d.lost}`),
      row("duplicate webhook-ids / messages twice", `${d.duplicate_webhook_ids} / ${d.messages_delivered_twice}`),
      row("all delivered, s after the load", d.all_delivered_s_after_load ?? `no (waited ${d.waited_s})`),
      row("5xx / server error lines", `${fivexx} / ${serverLog.error_lines}`),
    ].join("\n"),
  );
  if (!report.ok) process.exitCode = 1;
}

/**
 * --search's routes: the list narrowed by q (a word in 1 % of messages, one in 0.01 %, a
 * phrase in 0.5 %, one in every message: "Message k in thread i …") and the contact search (a name prefix of 5 contacts, a name of 1 %, a
 * phone run of 10), each with the SQL (LIKE over the seeded rows, no index) that says
 * which rows it must answer, newest first (the API's order), for the one-request check.
 */
const SEARCHES = [
  { name: "search_1pct", q: "invoice", kind: "conversations", like: "% invoice%" },
  { name: "search_rare", q: "zanzibar", kind: "conversations", like: "% zanzibar%" },
  { name: "search_phrase", q: '"invoice overdue"', kind: "conversations", like: "% invoice overdue%" },
  { name: "search_common", q: "message", kind: "conversations", like: "%message%" },
  { name: "contacts_name_few", q: "okonk*", kind: "contacts", where: "name LIKE '% Okonkwo'" },
  { name: "contacts_name_1pct", q: "nakamura", kind: "contacts", where: "name LIKE '% Nakamura'" },
  { name: "contacts_phone", q: "415 200 004", kind: "contacts", where: "phone LIKE '%415200004%'" },
].map((s) => ({ ...s, path: `/${s.kind}?q=${encodeURIComponent(s.q)}&limit=25` }));

/** --search: rounds of /health then the route, for each read route's ratio (the median round's). */
const PAIRED_ROUNDS = 3;

/**
 * A 1k --search run keeps its seeded state here (copied before any server runs), and a
 * run at another size starts a second server on it (port + 1): each read route's p50 is
 * then compared with the 1k seed's in the same rounds, the same minute of the machine.
 */
const REFERENCE_STATE = "bench/.search-1000-state";

/** Where --search keeps the copy of the state whose shard has no search triggers (inside STATE: git-ignored, removed by the next seed). */
const NOINDEX_STATE = `${STATE}/noindex`;

/** dbstat of a shard file: bytes by table (with its indexes), the FTS tables' (with their shadow tables) apart. */
function shardBytes(file) {
  const db = new DatabaseSync(file, { readOnly: true });
  const owner = Object.fromEntries(
    db
      .prepare("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')")
      .all()
      .map((r) => [r.name, r.tbl_name]),
  );
  const byTable = {};
  let total = 0;
  for (const { name, bytes } of db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name").all()) {
    let table = owner[name] ?? name;
    // activities_fts_data, _idx, _docsize, _config: the virtual table's shadow tables.
    const fts = /^(activities_fts|contacts_fts)(_|$)/.exec(table);
    if (fts) table = fts[1];
    byTable[table] = (byTable[table] ?? 0) + bytes;
    total += bytes;
  }
  const one = (sql) => Object.values(db.prepare(sql).get())[0];
  const out = { dbstat_bytes: total, page_count_bytes: one("PRAGMA page_count") * one("PRAGMA page_size"), by_table: byTable };
  db.close();
  return out;
}

/**
 * --search, after the seed and before any server: the index is checked (every seeded
 * message and contact has its FTS row; each searched word's FTS count equals a LIKE count
 * over the rows), the expected answers of each search are read, the shard's bytes per
 * message with and without the FTS tables are counted (dbstat), and STATE is copied to
 * NOINDEX_STATE with the search triggers dropped from the copy's shard (its FTS tables
 * stay, unwritten): the second server's, for POST /activities without the index.
 */
function prepareSearch() {
  const file = files[ORGS[0].shard];
  const org = ORGS[0].id;
  const db = new DatabaseSync(file, { readOnly: true });
  const n = (sql, ...p) => Object.values(db.prepare(sql).get(...p))[0];
  const rows = {
    activities: n("SELECT COUNT(*) FROM activities"),
    activities_fts: n("SELECT COUNT(*) FROM activities_fts"),
    contacts: n("SELECT COUNT(*) FROM contacts"),
    contacts_fts: n("SELECT COUNT(*) FROM contacts_fts"),
  };
  const triggers = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND sql LIKE '%\\_fts%' ESCAPE '\\' ORDER BY name")
    .all()
    .map((r) => r.name);
  const expected = {};
  for (const s of SEARCHES) {
    if (s.kind === "conversations") {
      const messages = n("SELECT COUNT(*) FROM activities WHERE org_id = ? AND body LIKE ?", org, s.like);
      const conversationsAll = n("SELECT COUNT(DISTINCT conversation_id) FROM activities WHERE org_id = ? AND body LIKE ?", org, s.like);
      // The list's default filter: archived = false. Its order: sort_at DESC, id DESC.
      const ids = db
        .prepare(
          `SELECT c.id FROM conversations c WHERE c.org_id = ? AND c.archived = 0
             AND EXISTS (SELECT 1 FROM activities a WHERE a.conversation_id = c.id AND a.body LIKE ?)
           ORDER BY c.sort_at DESC, c.id DESC`,
        )
        .all(org, s.like)
        .map((r) => r.id);
      const ftsQuery = s.q.startsWith('"') ? s.q : `"${s.q}"`;
      expected[s.name] = {
        messages,
        share_of_messages: Number((messages / rows.activities).toFixed(5)),
        fts_messages: n("SELECT COUNT(*) FROM activities_fts WHERE activities_fts MATCH ?", `{body subject transcript summary} : (${ftsQuery})`),
        conversations: conversationsAll,
        listed_conversations: ids.length,
        first_page: ids.slice(0, 25),
      };
    } else {
      const ids = db
        .prepare(`SELECT id FROM contacts WHERE org_id = ? AND ${s.where} ORDER BY id DESC`)
        .all(org)
        .map((r) => r.id);
      const fts = s.name === "contacts_phone" ? '"415200004"*' : s.q.endsWith("*") ? `"${s.q.slice(0, -1)}"*` : `"${s.q}"`;
      expected[s.name] = {
        contacts: ids.length,
        share_of_contacts: Number((ids.length / rows.contacts).toFixed(5)),
        fts_contacts: n("SELECT COUNT(*) FROM contacts_fts WHERE contacts_fts MATCH ?", `{name email phone} : (${fts})`),
        first_page: ids.slice(0, 25),
      };
    }
  }
  db.close();
  const bytes = shardBytes(file);
  const t = bytes.by_table;
  const ftsBytes = (t.activities_fts ?? 0) + (t.contacts_fts ?? 0);
  const size = {
    file_bytes: statSync(file).size,
    ...bytes,
    fts_bytes: ftsBytes,
    fts_share: Number((ftsBytes / bytes.dbstat_bytes).toFixed(3)),
    activities_fts_bytes: t.activities_fts ?? 0,
    contacts_fts_bytes: t.contacts_fts ?? 0,
    // A message: its activities row with the table's indexes; with the index, its activities_fts share too.
    bytes_per_message_without_index: Math.round(t.activities / rows.activities),
    bytes_per_message_with_index: Math.round((t.activities + (t.activities_fts ?? 0)) / rows.activities),
    activities_fts_bytes_per_message: Math.round((t.activities_fts ?? 0) / rows.activities),
    contacts_fts_bytes_per_contact: Math.round((t.contacts_fts ?? 0) / rows.contacts),
    // The whole shard (every table) per message: as seeded, and without the two FTS tables.
    shard_bytes_per_message_with_index: Math.round(bytes.dbstat_bytes / rows.activities),
    shard_bytes_per_message_without_index: Math.round((bytes.dbstat_bytes - ftsBytes) / rows.activities),
  };

  // The copy for the second server: the same seeded state, its shard without the triggers.
  const t0 = Date.now();
  rmSync(NOINDEX_STATE, { recursive: true, force: true });
  for (const entry of readdirSync(STATE)) {
    if (join(STATE, entry) !== NOINDEX_STATE) cpSync(join(STATE, entry), join(NOINDEX_STATE, entry), { recursive: true });
  }
  const copyFile = file.replace(`${STATE}/`, `${NOINDEX_STATE}/`);
  const copy = new DatabaseSync(copyFile);
  for (const name of triggers) copy.exec(`DROP TRIGGER "${name}"`);
  const left = copy.prepare("SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'trigger' AND sql LIKE '%\\_fts%' ESCAPE '\\'").get().n;
  copy.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  copy.close();
  if (left !== 0) throw new Error(`the copy's shard still has ${left} search triggers`);
  if (N === 1000) {
    rmSync(REFERENCE_STATE, { recursive: true, force: true });
    for (const entry of readdirSync(STATE)) {
      if (join(STATE, entry) !== NOINDEX_STATE) cpSync(join(STATE, entry), join(REFERENCE_STATE, entry), { recursive: true });
    }
  }
  return {
    rows,
    index_complete: rows.activities_fts === rows.activities && rows.contacts_fts === rows.contacts,
    triggers,
    expected,
    size,
    noindex: { state: NOINDEX_STATE, file: copyFile, triggers_dropped: triggers, copy_seconds: (Date.now() - t0) / 1000 },
  };
}

/** Waits (polling every 30 s, up to 10 min) while other vitest / tsc runs are on the machine; the seconds waited. */
async function waitQuiet(phase) {
  if (process.argv.includes("--no-wait")) return 0;
  const t0 = Date.now();
  let said = false;
  while (otherTestRuns() > 0 && Date.now() - t0 < 600_000) {
    if (!said) console.error(`    (${phase}: vitest / tsc running elsewhere; waiting up to 10 min)`);
    said = true;
    await sleep(30_000);
  }
  return Math.round((Date.now() - t0) / 1000);
}

/** Stops a server started by startServer (its process group) and waits until its port no longer answers. */
async function stopServer(server, port = PORT) {
  const exited = new Promise((r) => server.once("exit", r));
  try {
    process.kill(-server.pid, "SIGTERM");
  } catch {}
  await Promise.race([exited, sleep(15_000)]);
  for (let i = 0; i < 60; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    if (!up) return;
    await sleep(250);
  }
  throw new Error(`port ${port} still answers after the server was stopped`);
}

/** One GET of a search route, checked against the rows the seed holds (the same ids, in the same order). */
/**
 * A route's latency with nothing else in flight: `n` requests one after another (after 20
 * unmeasured), each timed from send to its body read. Under the autocannon load the p50
 * is mostly the queue (10 connections on a server's one thread: about connections ÷
 * req/s); this one is the request's own cost, the server and the client on the same
 * machine. Milliseconds: p25, p50, p75, and the mean of the middle 80 %.
 */
async function sequentialLatency(url, headers, n = 300) {
  for (let i = 0; i < 20; i++) await (await fetch(url, { headers })).arrayBuffer();
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t0);
  }
  const middle = [...times].sort((a, b) => a - b).slice(Math.floor(n * 0.1), Math.ceil(n * 0.9));
  return {
    requests: n,
    p25_ms: quantile(times, 0.25),
    p50_ms: quantile(times, 0.5),
    p75_ms: quantile(times, 0.75),
    trimmed_mean_ms: Number((middle.reduce((a, b) => a + b, 0) / middle.length).toFixed(2)),
  };
}

async function checkSearch(base, headers, s, expected) {
  const r = await fetch(`${base}${s.path}`, { headers });
  const body = await r.json().catch(() => null);
  const items = body?.data ?? [];
  const ids = items.map((x) => x.id);
  const want = expected.first_page;
  const out = {
    status: r.status,
    items: items.length,
    expected_items: want.length,
    has_next_cursor: Boolean(body?.next_cursor),
    expected_next_cursor: (expected.listed_conversations ?? expected.contacts) > 25,
    same_ids_in_order: ids.length === want.length && ids.every((id, i) => id === want[i]),
  };
  if (s.kind === "conversations") {
    out.items_with_message_match = items.filter((x) => x.match?.message_id).length;
    out.snippets_with_highlight = items.filter((x) => /«[^»]+»/.test(x.match?.snippet ?? "")).length;
    out.first_snippet = items[0]?.match?.snippet ?? null;
  } else {
    out.first_name = items[0]?.name ?? null;
    out.first_phone = items[0]?.phone ?? null;
  }
  out.ok =
    r.status === 200 &&
    out.same_ids_in_order &&
    out.has_next_cursor === out.expected_next_cursor &&
    (s.kind !== "conversations" || (out.items_with_message_match === items.length && out.snippets_with_highlight === items.length));
  return out;
}

/**
 * --search: search routes against /health on one server (the seeded index), POST
 * /activities there and on a second server whose shard has no search triggers, the
 * shard's bytes with and without the index. See the header comment.
 */
async function searchRun({ base, headers, targets, ingestBody, seeded, server, serverLog, searchSeed }) {
  const org = ORGS[0];
  const { machine, note } = machineNotes();
  note("start");
  const five = (r) => Object.entries(r.status_codes).reduce((a, [k, v]) => a + (Number(k) >= 500 ? v : 0), 0);
  const measure = async (phase, opts) => {
    const waited = await waitQuiet(phase);
    note(`before ${phase}`, waited ? { waited_s: waited } : {});
    console.error(`  ${phase} …`);
    const r = summary(await load(opts));
    note(`after ${phase}`);
    console.error(`    ${r.requests_per_sec} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms${r.non_2xx ? `, ${r.non_2xx} non-2xx` : ""}`);
    return r;
  };
  const postActivities = (prefix) => ({
    url: `${base}/activities`,
    requests: [{ method: "POST", headers, setupRequest: (req) => ({ ...req, body: ingestBody(prefix) }) }],
  });
  const storedRows = (file, prefix) => {
    const db = new DatabaseSync(file, { readOnly: true });
    const r = db
      .prepare(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT provider_message_id) AS d FROM activities WHERE org_id = ? AND provider = 'bench-load' AND provider_message_id LIKE ?",
      )
      .get(org.id, `${prefix}-%`);
    const fts = db.prepare("SELECT COUNT(*) AS n FROM activities_fts").get().n;
    db.close();
    return { stored: r.n, duplicates_stored: r.n - r.d, activities_fts_rows_after: fts };
  };

  // Server 1: the seeded shard with its index.
  const checks = {};
  for (const s of SEARCHES) checks[s.name] = await checkSearch(base, headers, s, searchSeed.expected[s.name]);
  console.error(
    `  one-request checks: ${Object.entries(checks)
      .map(([k, v]) => `${k} ${v.items}/${v.expected_items}${v.ok ? "" : " WRONG"}`)
      .join(", ")}`,
  );
  // The 1k seed's server beside this one (REFERENCE_STATE), for the p50s in the same rounds.
  const refBase = N !== 1000 && existsSync(REFERENCE_STATE) ? `http://127.0.0.1:${PORT + 1}` : null;
  const refServer = refBase ? startServer(REFERENCE_STATE, PORT + 1) : null;
  if (refServer) {
    // Stopped after the reads; if the run fails before, with this process.
    process.once("exit", () => {
      try {
        process.kill(-refServer.pid, "SIGTERM");
      } catch {}
    });
    console.error(`  the 1k seed's server on ${refBase} (${REFERENCE_STATE}) …`);
    await waitForHealth(refBase);
    await load({ url: `${refBase}/health`, duration: 2 }); // warm-up, as this one's
  }
  const results = {};
  results.health = await measure("GET /health", targets.health);
  // A route in PAIRED_ROUNDS rounds of /health then the route, DURATION / 2 s each: its
  // ratio is the median of the rounds' (the route against the /health run just before it),
  // so a shared machine's slow minute weighs on both sides of a ratio. Its req/s is the
  // median round's (`health`: that round's /health), its p50 and p99 the medians of the
  // rounds' own; non_2xx and status_codes are all rounds'.
  // `reference`: the same route on the 1k server, measured after it in each round.
  const pairedRounds = async (label, target, reference = null) => {
    const rounds = [];
    for (let i = 1; i <= PAIRED_ROUNDS; i++) {
      const health = await measure(`GET /health (before ${label}, round ${i})`, { ...targets.health, duration: DURATION / 2 });
      const route = await measure(`${label} (round ${i})`, { ...target, duration: DURATION / 2 });
      const ref = reference ? await measure(`${label} (the 1k server, round ${i})`, { ...reference, duration: DURATION / 2 }) : null;
      rounds.push({ health, route, ref, ratio: Number((route.requests_per_sec / health.requests_per_sec).toFixed(3)) });
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[PAIRED_ROUNDS >> 1];
    const middle = (values) => [...values].sort((a, b) => a - b)[PAIRED_ROUNDS >> 1];
    const sum = (pick) => ({
      // Latency: the median of the rounds' (each its own), not the median ratio round's.
      p50_ms: middle(rounds.map((r) => pick(r).p50_ms)),
      p99_ms: middle(rounds.map((r) => pick(r).p99_ms)),
      non_2xx: rounds.reduce((a, r) => a + pick(r).non_2xx, 0),
      status_codes: rounds.reduce((a, r) => {
        for (const [k, v] of Object.entries(pick(r).status_codes)) a[k] = (a[k] ?? 0) + v;
        return a;
      }, {}),
    });
    return {
      health: { ...median.health, ...sum((r) => r.health) },
      route: { ...median.route, ...sum((r) => r.route) },
      ratio: median.ratio,
      ...(reference
        ? {
            reference: { ...sum((r) => r.ref), requests_per_sec: middle(rounds.map((r) => r.ref.requests_per_sec)) },
            p50_vs_reference: middle(rounds.map((r) => Number((r.route.p50_ms / r.ref.p50_ms).toFixed(2)))),
          }
        : {}),
      rounds: rounds.map((r) => ({
        health_requests_per_sec: r.health.requests_per_sec,
        requests_per_sec: r.route.requests_per_sec,
        p50_ms: r.route.p50_ms,
        p99_ms: r.route.p99_ms,
        ratio: r.ratio,
        ...(r.ref ? { reference_requests_per_sec: r.ref.requests_per_sec, reference_p50_ms: r.ref.p50_ms } : {}),
      })),
    };
  };
  // A read route: ratio_to_first_health is the median round against the run's first /health
  // (the only ratio before session 13).
  const paired = async (label, target) => {
    const reference = refBase ? { ...target, url: target.url.replace(base, refBase) } : null;
    const { health, route, ratio, rounds, ...versus } = await pairedRounds(label, target, reference);
    return {
      ...route,
      ...versus,
      ratio_to_health: ratio,
      ratio_to_first_health: Number((route.requests_per_sec / results.health.requests_per_sec).toFixed(3)),
      rounds,
      // The rounds' /health (the median round's figures; non_2xx and status_codes of all).
      paired_health: health,
    };
  };
  results.list_conversations = await paired("GET /conversations?limit=25", targets.list_conversations);
  // Each checked again right after its load: a conversation search's plan is remembered for
  // a minute (src/search/queries.ts), so that answer comes from the remembered plan's
  // statement alone, the first one from all three.
  const checksAfter = {};
  for (const s of SEARCHES) {
    results[s.name] = await paired(`GET ${s.path}`, { url: `${base}${s.path}`, headers });
    checksAfter[s.name] = await checkSearch(base, headers, s, searchSeed.expected[s.name]);
  }
  console.error(
    `  checks after each load: ${Object.entries(checksAfter)
      .map(([k, v]) => `${k} ${v.items}/${v.expected_items}${v.ok ? "" : " WRONG"}`)
      .join(", ")}`,
  );
  results.health.ratio_to_health = 1;
  for (const s of SEARCHES) results[s.name].path = s.path;
  // Each read route alone, one request at a time (sequentialLatency): its own cost, for the
  // p50 goal beside the loaded p50.
  console.error("  one request at a time …");
  // Each read route on the server at `server` (this one's base, or the 1k seed's).
  const readRoutes = [
    ["health", "/health", {}],
    ["list_conversations", targets.list_conversations.url.slice(base.length), headers],
    ...SEARCHES.map((s) => [s.name, s.path, headers]),
  ];
  const unloadedOn = async (server) => {
    const out = {};
    for (const [name, path, h] of readRoutes) out[name] = await sequentialLatency(`${server}${path}`, h);
    return out;
  };
  for (const [k, v] of Object.entries(await unloadedOn(base))) results[k].unloaded = v;
  if (refServer) {
    for (const [k, v] of Object.entries(await unloadedOn(refBase))) {
      results[k].reference_unloaded = v;
      results[k].unloaded_p50_vs_reference = Number((results[k].unloaded.p50_ms / v.p50_ms).toFixed(2));
    }
    note("stopping the 1k seed's server");
    await stopServer(refServer, PORT + 1);
  }
  // The write cost: POST /activities in paired rounds (pairedRounds) on each server.
  const postPaired = async (label, prefix) => {
    const { health, route, ratio, rounds } = await pairedRounds(`POST /activities (${label})`, postActivities(prefix));
    return { health, post_activities: route, ratio, rounds };
  };
  const withIndex = await postPaired("with index", "idx");
  note("stopping server 1");
  await stopServer(server);
  Object.assign(withIndex.post_activities, storedRows(files[org.shard], "idx"));

  // One round on a fresh server of `state`: warm-up, then /health and POST /activities in
  // paired rounds (`prefix` marks its rows), the server stopped, then its rows counted in `file`.
  const serverRound = async (state, file, label, prefix) => {
    const fresh = startServer(state);
    const log = watchServerLog(fresh);
    const out = {};
    try {
      await waitForHealth(base);
      await load({ ...targets.health, duration: 2 }); // warm-up, as on the first
      Object.assign(out, await postPaired(label, prefix));
    } finally {
      note(`stopping the server (${label})`);
      await stopServer(fresh);
    }
    Object.assign(out.post_activities, storedRows(file, prefix));
    return { out, log };
  };
  // Server 2: the copy made right after the seed, its search triggers dropped.
  console.error(`  starting a second server on ${NOINDEX_STATE} (no search triggers) …`);
  const { out: withoutIndex, log: serverLog2 } = await serverRound(NOINDEX_STATE, searchSeed.noindex.file, "no index", "noidx");
  // A second round on fresh processes, server 1 first again (it ran the searches before its
  // first round): one round of each is at the mercy of a shared machine's minute.
  const withIndex2 = (await serverRound(STATE, files[org.shard], "with index, round 2", "idx2")).out;
  const withoutIndex2 = (await serverRound(NOINDEX_STATE, searchSeed.noindex.file, "no index, round 2", "noidx2")).out;
  withIndex.second_round = withIndex2;
  withoutIndex.second_round = withoutIndex2;
  // And both against the first /health of the run (one baseline).
  withIndex.ratio_to_first_health = Number((withIndex.post_activities.requests_per_sec / results.health.requests_per_sec).toFixed(3));
  withoutIndex.ratio_to_first_health = Number((withoutIndex.post_activities.requests_per_sec / results.health.requests_per_sec).toFixed(3));
  // The goal's difference: the two rounds' ratios averaged on each side.
  const byRound = [Number((withoutIndex.ratio - withIndex.ratio).toFixed(3)), Number((withoutIndex2.ratio - withIndex2.ratio).toFixed(3))];
  const difference = Number(((byRound[0] + byRound[1]) / 2).toFixed(3));

  // The 1k run's p50s (bench/results/search-1000.json), for the 100k goals.
  const reference = N !== 1000 && existsSync("bench/results/search-1000.json") ? JSON.parse(readFileSync("bench/results/search-1000.json", "utf8")) : null;
  const p50Growth = (name) => (reference?.results?.[name] ? Number((results[name].p50_ms / reference.results[name].p50_ms).toFixed(2)) : null);
  const unloadedGrowth = (name) =>
    reference?.results?.[name]?.unloaded ? Number((results[name].unloaded.p50_ms / reference.results[name].unloaded.p50_ms).toFixed(2)) : null;
  const goal = (name) => ({
    ratio_to_health: results[name].ratio_to_health,
    ratio_goal_0_4: results[name].ratio_to_health >= 0.4,
    ratio_by_round: results[name].rounds.map((r) => r.ratio),
    ratio_to_first_health: results[name].ratio_to_first_health,
    p50_ms: results[name].p50_ms,
    p50_of_1k_run_ms: reference?.results?.[name]?.p50_ms ?? null,
    p50_vs_1k: p50Growth(name),
    p50_goal_1_5x: p50Growth(name) === null ? null : p50Growth(name) <= 1.5,
    unloaded_p50_ms: results[name].unloaded.p50_ms,
    unloaded_p50_of_1k_run_ms: reference?.results?.[name]?.unloaded?.p50_ms ?? null,
    unloaded_p50_vs_1k: unloadedGrowth(name),
    unloaded_p50_goal_1_5x: unloadedGrowth(name) === null ? null : unloadedGrowth(name) <= 1.5,
    // The same run: the 1k seed's server in the same rounds (REFERENCE_STATE).
    same_run_p50_vs_1k: results[name].p50_vs_reference ?? null,
    same_run_p50_goal_1_5x: results[name].p50_vs_reference === undefined ? null : results[name].p50_vs_reference <= 1.5,
    same_run_unloaded_p50_vs_1k: results[name].unloaded_p50_vs_reference ?? null,
    same_run_unloaded_p50_goal_1_5x: results[name].unloaded_p50_vs_reference === undefined ? null : results[name].unloaded_p50_vs_reference <= 1.5,
  });
  const allRuns = [
    ...Object.values(results),
    ...Object.values(results).flatMap((r) => [r.paired_health, r.reference].filter(Boolean)),
    ...[withIndex, withoutIndex, withIndex2, withoutIndex2].flatMap((x) => [x.health, x.post_activities]),
  ];
  const report = {
    ...reportHead("search", seeded),
    duration_s: DURATION,
    connections: CONNECTIONS,
    node: process.version,
    index: {
      rows: searchSeed.rows,
      complete: searchSeed.index_complete,
      triggers: searchSeed.triggers,
      // What each searched word matches in the seed (LIKE over the rows; the FTS count must be the same).
      expected: Object.fromEntries(Object.entries(searchSeed.expected).map(([k, v]) => [k, { ...v, first_page: undefined }])),
    },
    checks_one_request: checks,
    checks_after_load: checksAfter,
    results,
    post_activities: {
      with_index: withIndex,
      without_index: { ...withoutIndex, state: searchSeed.noindex.state, triggers_dropped: searchSeed.noindex.triggers_dropped },
      // Each against the /health run just before it, on its own server.
      ratio_difference: difference,
      ratio_difference_by_round: byRound,
      goal_within_0_05: Math.abs(difference) <= 0.05,
    },
    size_seeded: searchSeed.size,
    goals: {
      ...(reference ? { reference: { file: "bench/results/search-1000.json", date: reference.date } } : {}),
      search_1pct: goal("search_1pct"),
      contacts_name_few: goal("contacts_name_few"),
      contacts_name_1pct: goal("contacts_name_1pct"),
      contacts_phone: goal("contacts_phone"),
      post_activities_ratio_difference: difference,
      post_activities_goal_within_0_05: Math.abs(difference) <= 0.05,
    },
    five_xx: allRuns.reduce((a, r) => a + five(r), 0),
    non_2xx: allRuns.reduce((a, r) => a + r.non_2xx, 0),
    server_log: { with_index: serverLog, without_index: serverLog2 },
    machine,
  };
  report.ok =
    report.index.complete &&
    Object.values(checks).every((c) => c.ok) &&
    Object.values(checksAfter).every((c) => c.ok) &&
    Object.entries(searchSeed.expected).every(([, v]) => (v.fts_messages ?? v.fts_contacts) === (v.messages ?? v.contacts)) &&
    report.non_2xx === 0 &&
    withIndex.post_activities.duplicates_stored === 0 &&
    withoutIndex.post_activities.duplicates_stored === 0 &&
    withIndex2.post_activities.duplicates_stored === 0 &&
    withoutIndex2.post_activities.duplicates_stored === 0 &&
    withoutIndex2.post_activities.activities_fts_rows_after === searchSeed.rows.activities_fts &&
    // The second server's shard wrote no index rows: its triggers were gone.
    withoutIndex.post_activities.activities_fts_rows_after === searchSeed.rows.activities_fts;
  mkdirSync("bench/results", { recursive: true });
  const name = [`search-${N}`, CONNECTIONS !== 10 ? `c${CONNECTIONS}` : null].filter(Boolean).join("-");
  writeFileSync(`bench/results/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  const row = (a, b, c, d, e, f) =>
    `| ${a.padEnd(52)} | ${String(b).padStart(6)} | ${String(c).padStart(11)} | ${String(d).padStart(6)} | ${String(e).padStart(8)} | ${String(f).padStart(7)} |`;
  const found = (k) => (checks[k] ? `${checks[k].items}/${checks[k].expected_items}` : "");
  const line = (label, key) => {
    const r = results[key];
    return row(label, r.requests_per_sec, `${r.p50_ms} / ${r.p99_ms}`, r.ratio_to_health, p50Growth(key) ?? "", found(key));
  };
  console.log(
    [
      "",
      `search, ${N} conversations / ${seeded.activities} messages, ${CONNECTIONS} connections, ${DURATION} s a run (bench/results/${name}.json)`,
      row("route", "req/s", "p50/p99 ms", "ratio", "p50/1k", "items"),
      line("GET /health", "health"),
      line("GET /conversations?limit=25", "list_conversations"),
      ...SEARCHES.map((s) => line(`GET /${s.kind}?q=${s.q}&limit=25`, s.name)),
      row("GET /health (server 1, before POST)", withIndex.health.requests_per_sec, `${withIndex.health.p50_ms} / ${withIndex.health.p99_ms}`, 1, "", ""),
      row(
        "POST /activities, with index",
        withIndex.post_activities.requests_per_sec,
        `${withIndex.post_activities.p50_ms} / ${withIndex.post_activities.p99_ms}`,
        withIndex.ratio,
        "",
        "",
      ),
      row(
        "GET /health (server 2, no search triggers)",
        withoutIndex.health.requests_per_sec,
        `${withoutIndex.health.p50_ms} / ${withoutIndex.health.p99_ms}`,
        1,
        "",
        "",
      ),
      row(
        "POST /activities, without index",
        withoutIndex.post_activities.requests_per_sec,
        `${withoutIndex.post_activities.p50_ms} / ${withoutIndex.post_activities.p99_ms}`,
        withoutIndex.ratio,
        "",
        "",
      ),
      `ratio by round (route / the /health just before it; the table's is the median): ${["list_conversations", ...SEARCHES.map((s) => s.name)]
        .map((k) => `${k} ${results[k].rounds.map((r) => r.ratio).join(", ")}`)
        .join("; ")}`,
      ...(refBase
        ? [
            `the 1k seed's server in the same rounds, p50 here ÷ p50 there (median of rounds; one at a time): ${[
              "health",
              "list_conversations",
              ...SEARCHES.map((s) => s.name),
            ]
              .filter((k) => results[k].p50_vs_reference !== undefined || results[k].unloaded_p50_vs_reference !== undefined)
              .map((k) => `${k} ${results[k].p50_vs_reference ?? "-"}× (${results[k].unloaded_p50_vs_reference}×)`)
              .join("; ")}`,
          ]
        : []),
      `one request at a time, p50 ms (× the 1k run's): ${["health", "list_conversations", ...SEARCHES.map((s) => s.name)]
        .map((k) => `${k} ${results[k].unloaded.p50_ms}${unloadedGrowth(k) === null ? "" : ` (${unloadedGrowth(k)}×)`}`)
        .join("; ")}`,
      `POST /activities ratio, round 2 on fresh servers: with index ${withIndex2.ratio} (health ${withIndex2.health.requests_per_sec}), without ${withoutIndex2.ratio} (health ${withoutIndex2.health.requests_per_sec})`,
      `POST ratio difference (without − with, mean of the two rounds ${byRound.join(", ")}; goal ≤ 0.05): ${difference}`,
      `bytes per message (activities + its indexes): ${searchSeed.size.bytes_per_message_without_index} without the index, ${searchSeed.size.bytes_per_message_with_index} with it (activities_fts ${searchSeed.size.activities_fts_bytes_per_message}); contacts_fts ${searchSeed.size.contacts_fts_bytes_per_contact} B a contact`,
      `shard: ${searchSeed.size.dbstat_bytes} B (dbstat), FTS tables ${searchSeed.size.fts_bytes} B = ${(searchSeed.size.fts_share * 100).toFixed(1)} %; per message ${searchSeed.size.shard_bytes_per_message_with_index} B with, ${searchSeed.size.shard_bytes_per_message_without_index} B without`,
      `index rows: activities_fts ${searchSeed.rows.activities_fts}/${searchSeed.rows.activities}, contacts_fts ${searchSeed.rows.contacts_fts}/${searchSeed.rows.contacts}; 5xx ${report.five_xx}, non-2xx ${report.non_2xx}; ok ${report.ok}`,
    ].join("\n"),
  );
  if (!report.ok) process.exitCode = 1;
}

await main();

/** The server's resident memory (KiB): workerd's processes in its process group. */
function serverRss(server) {
  const ps = spawnSync("ps", ["-eo", "pgid=,rss=,comm="], { encoding: "utf8" }).stdout ?? "";
  let kib = 0;
  for (const line of ps.split("\n")) {
    const [pgid, rss, comm] = line.trim().split(/\s+/);
    if (Number(pgid) === server.pid && comm?.includes("workerd")) kib += Number(rss);
  }
  return kib;
}

/** `npm run export -- …args`: exit code, wall time, the summary it prints last on stderr. */
function runExport(args) {
  return runScript("export", args, "stderr", (err) => JSON.parse(err.trim().split("\n").at(-1) ?? ""));
}

/**
 * --export: GET /conversations/export streamed and checked, timed per step of
 * conversations, with the server's read counts and memory. See the header comment.
 */
async function exportRun({ base, headers, token, targets, seeded, server, serverLog }) {
  const org = ORGS[0];
  const { machine, note } = machineNotes();
  console.error("  /health (baseline) …");
  const health = summary(await load({ ...targets.health }));
  note("after /health");
  const step = N >= 100_000 ? 10_000 : Math.max(100, Math.floor(N / 10));
  const rss = { before_kib: serverRss(server), max_during_kib: 0, samples: 0 };
  const sampler = setInterval(() => {
    rss.max_during_kib = Math.max(rss.max_during_kib, serverRss(server));
    rss.samples++;
  }, 100);
  console.error(`  GET /conversations/export (${N} conversations, timed per ${step}) …`);
  const check = { lines: 0, messages: 0, unique: new Set(), contact_order_ok: true, message_order_ok: true, ten_each: true, bad_lines: 0 };
  const steps = [];
  let bytes = 0;
  let status = 0;
  let contentType = null;
  let error = null;
  const t0 = performance.now();
  let stepStart = t0;
  let firstByteMs = null;
  try {
    const res = await fetch(`${base}/conversations/export`, { headers: { authorization: headers.authorization, "x-org-id": org.id } });
    status = res.status;
    contentType = res.headers.get("content-type");
    const decoder = new TextDecoder();
    let rest = "";
    let lastContact = "";
    for await (const chunk of res.body) {
      if (firstByteMs === null) {
        firstByteMs = performance.now() - t0;
        // Steps are timed from the first byte: the first one would carry the request's own latency.
        stepStart = performance.now();
      }
      bytes += chunk.length;
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop();
      for (const text of lines) {
        let line;
        try {
          line = JSON.parse(text);
        } catch {
          check.bad_lines++;
          continue;
        }
        check.lines++;
        check.unique.add(line.id);
        check.messages += line.messages.length;
        if (line.contact.id <= lastContact) check.contact_order_ok = false;
        lastContact = line.contact.id;
        if (line.messages.length !== 10) check.ten_each = false;
        for (let i = 1; i < line.messages.length; i++) {
          const a = line.messages[i - 1];
          const b = line.messages[i];
          if (a.occurred_at > b.occurred_at || (a.occurred_at === b.occurred_at && a.id >= b.id)) check.message_order_ok = false;
        }
        if (check.lines % step === 0) {
          const now = performance.now();
          // The server's RSS at each step: flat when the export's memory is bounded (growth with depth would show here).
          steps.push({ conversations: check.lines, seconds: Number(((now - stepStart) / 1000).toFixed(3)), server_rss_kib: serverRss(server) });
          stepStart = now;
        }
      }
    }
    if (rest) check.bad_lines++;
  } catch (e) {
    error = String(e);
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  rss.max_during_kib = Math.max(rss.max_during_kib, serverRss(server));
  note("after export");
  // The server's log line (written as the stream closes).
  for (let i = 0; i < 40 && !serverLog.last_by_msg["conversations.export.done"]; i++) await sleep(250);
  const done = serverLog.last_by_msg["conversations.export.done"] ?? null;
  console.error("  /health (after) …");
  const healthAfter = summary(await load({ ...targets.health }));
  console.error("  npm run export -- --out … …");
  const file = `${STATE}/export-${N}.ndjson`;
  rmSync(file, { force: true });
  rss.after_export_kib = serverRss(server);
  const script = await runExport(["--org", org.id, "--base-url", base, "--token", token, "--out", file]);
  // A second whole export on the same server: its RSS against the first's tells per-export
  // memory (it would add up) from the database's pages read once (they would not).
  rss.after_second_export_kib = serverRss(server);
  let scriptLines = 0;
  if (existsSync(file)) {
    const text = readFileSync(file);
    for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) scriptLines++;
  }
  note("after script");
  // The round trip (up to 10k conversations, or with --round-trip): the file imported as it
  // is into a new org (npm run import), exported again, and imported once more (--restart:
  // every item a duplicate).
  let roundTrip = null;
  if ((N <= 10_000 || process.argv.includes("--round-trip")) && script.code === 0) {
    console.error("  round trip: npm run import of the file into a new org …");
    const created = await fetch(`${base}/orgs`, {
      method: "POST",
      headers: { authorization: headers.authorization, "content-type": "application/json" },
      body: JSON.stringify({ name: "Export target" }),
    });
    const target = (await created.json()).id;
    const imported = await runImport(["--org", target, "--file", file, "--base-url", base, "--token", token]);
    const again = `${STATE}/export-${N}-target.ndjson`;
    rmSync(again, { force: true });
    const reexport = await runExport(["--org", target, "--base-url", base, "--token", token, "--out", again]);
    const reimport = await runImport(["--org", target, "--file", file, "--base-url", base, "--token", token, "--restart"]);
    roundTrip = { target, import: imported, export_of_target: reexport, import_again: reimport };
    note("after round trip");
  }
  const times = steps.map((s) => s.seconds);
  const report = {
    ...reportHead(null, seeded),
    duration_s: DURATION,
    connections: CONNECTIONS,
    node: process.version,
    results: {
      health,
      export: {
        status,
        content_type: contentType,
        error,
        seconds: Number(seconds.toFixed(2)),
        first_byte_ms: firstByteMs === null ? null : Number(firstByteMs.toFixed(1)),
        bytes,
        conversations_per_sec: Math.round(check.lines / seconds),
        messages_per_sec: Math.round(check.messages / seconds),
        // A crude normalization across machines: conversations exported per second per /health request per second.
        ratio_to_health: Number((check.lines / seconds / health.requests_per_sec).toFixed(2)),
        step_conversations: step,
        steps,
        step_seconds: {
          first: times[0] ?? null,
          last: times.at(-1) ?? null,
          min: times.length ? Math.min(...times) : null,
          max: times.length ? Math.max(...times) : null,
          last_to_first: times.length ? Number((times.at(-1) / times[0]).toFixed(2)) : null,
        },
        server: done && {
          reads: done.reads,
          max_rows_per_read: done.max_rows,
          reads_per_1000_conversations: Number(((done.reads / Math.max(done.conversations, 1)) * 1000).toFixed(1)),
          conversations: done.conversations,
          messages: done.messages,
          ms: done.ms,
        },
        server_rss_kib: rss,
      },
      health_after: healthAfter,
      script: { ...script, file, lines: scriptLines },
      round_trip: roundTrip,
    },
    machine,
    server_errors: { lines: serverLog.error_lines, samples: serverLog.error_samples },
  };
  report.checks = {
    status_200: status === 200,
    ndjson: /^application\/x-ndjson/.test(contentType ?? ""),
    every_conversation_once: check.lines === N && check.unique.size === N && check.bad_lines === 0,
    every_message: check.messages === 10 * N && check.ten_each,
    contact_order: check.contact_order_ok,
    message_order: check.message_order_ok,
    reads_bounded: done !== null && done.max_rows <= EXPORT_MESSAGE_PAGE,
    flat: times.length > 1 ? times.at(-1) / times[0] <= 1.5 : null,
    script_exit_0: script.code === 0,
    script_lines: scriptLines === N,
    round_trip:
      roundTrip &&
      roundTrip.import.code === 0 &&
      roundTrip.import.summary?.stored === 10 * N &&
      roundTrip.import.summary?.refused === 0 &&
      roundTrip.export_of_target.summary?.conversations === N &&
      roundTrip.export_of_target.summary?.messages === 10 * N &&
      roundTrip.import_again.summary?.duplicates === 10 * N &&
      roundTrip.import_again.summary?.stored === 0,
  };
  report.ok = Object.values(report.checks).every((v) => v !== false);
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/export-${N}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  if (!report.ok) process.exitCode = 1;
}
