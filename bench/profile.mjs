// npm run bench:profile -- [--routes health,post_activities,twilio_inbound_webhook,batch]
//   [--seconds 10] [--connections 16] [--conversations 1000] [--port 8816] [--cpu-profile]
//
// Where a route's CPU goes (issue 16). Starts `wrangler dev` on the state the last
// `npm run bench` seeded (bench/.state: its org, owner and contacts; --conversations must
// be the size it seeded), then loads each route in turn with autocannon and prints, per
// route, req/s, p50 and the CPU each workerd process of the server spent per request
// (from /proc: wrangler dev runs two, its proxy and the one with the Worker, its Durable
// Objects and local D1). That CPU per request is steadier than req/s on a shared 2-core
// machine, so compare code by it, in alternating runs. With --cpu-profile it also records
// a V8 CPU profile of the Worker's isolate through the inspector during each route
// (bench/results/profile-<route>.cpuprofile, open it in Chrome DevTools) and prints the
// functions with the most self time. Routes: health, post_activities (new inbound SMS to
// the seeded contacts), twilio_inbound_webhook (signed, 10 % redeliveries),
// list_conversations, search_invoice, search_rare, search_common, search_phrase, search_contacts (SEARCH_SEED's words:
// profile those on a state `npm run bench -- --search` seeded), batch (POST /activities/batch of 500: half to seeded contacts,
// half to new numbers).
import { execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import WebSocket from "ws";
import { cliOption, signToken } from "../scripts/lib.mjs";

const ROUTES = cliOption("routes", "health,post_activities,twilio_inbound_webhook").split(",");
const SECONDS = Number(cliOption("seconds", "10"));
const CONNECTIONS = Number(cliOption("connections", "16"));
const N = Number(cliOption("conversations", "1000"));
const PORT = Number(cliOption("port", "8816"));
const INSPECTOR = PORT + 1000;
const PROFILE = process.argv.includes("--cpu-profile");
// The bench's org, owner and secrets (bench/run.mjs).
const ORG = "01936b00-0000-7000-8000-000000000001";
const OWNER = "01936b00-0000-7000-8000-0000000000a1";
const TWILIO_TOKEN = "bench-twilio-token";
const SIGNED_BASE = "https://bench.inbox.test";
const OUR_NUMBER = "+14155559999";

const base = `http://127.0.0.1:${PORT}`;
if (
  await fetch(`${base}/health`).then(
    () => true,
    () => false,
  )
)
  throw new Error(`port ${PORT} already answers: stop that server or pass --port`);
const server = spawn(
  "npx",
  [
    "wrangler",
    "dev",
    "--port",
    String(PORT),
    "--inspector-port",
    String(INSPECTOR),
    "--persist-to",
    "bench/.state",
    "--log-level",
    "error",
    "--var",
    `TWILIO_AUTH_TOKEN:${TWILIO_TOKEN}`,
    "--var",
    `PUBLIC_BASE_URL:${SIGNED_BASE}`,
    "--var",
    "RATE_LIMIT_PER_MINUTE:0",
    "--var",
    "SEND_LIMIT_PER_MINUTE:0",
  ],
  { env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "ignore", "inherit"], detached: true },
);
const stop = () => {
  try {
    process.kill(-server.pid, "SIGKILL");
  } catch {}
};
process.on("exit", stop);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));
for (
  let tries = 0;
  !(await fetch(`${base}/health`).then(
    () => true,
    () => false,
  ));
  tries++
) {
  if (tries > 300) throw new Error("wrangler dev did not answer /health in 90 s");
  await new Promise((r) => setTimeout(r, 300));
}

const headers = { authorization: `Bearer ${await signToken(OWNER)}`, "x-org-id": ORG, "content-type": "application/json" };
const seededPhone = (i) => `+1415${String(2000000 + (i % N)).padStart(7, "0")}`;
let sent = 0;
let fresh = 0;
const sids = [];
const twilioBody = () => {
  const again = sids.length && Math.random() < 0.1;
  const sid = again ? sids[Math.floor(Math.random() * sids.length)] : `SMprofile${Date.now()}${sids.push(0)}`;
  if (!again) sids[sids.length - 1] = sid;
  const params = {
    AccountSid: `AC${"0".repeat(32)}`,
    Body: "profile inbound",
    From: seededPhone(sids.length),
    MessageSid: sid,
    NumMedia: "0",
    SmsStatus: "received",
    To: OUR_NUMBER,
  };
  const signed = `${SIGNED_BASE}/webhooks/twilio/messages${Object.keys(params)
    .sort()
    .map((k) => k + params[k])
    .join("")}`;
  return { body: new URLSearchParams(params).toString(), signature: createHmac("sha1", TWILIO_TOKEN).update(signed).digest("base64") };
};
const inbound = (phone) => ({
  contact: { phone },
  type: "sms",
  direction: "inbound",
  body: "profile inbound",
  provider: "profile",
  provider_message_id: `profile-${Date.now()}-${++sent}`,
});
const post = (path, body) => ({ url: `${base}${path}`, requests: [{ method: "POST", headers, setupRequest: (r) => ({ ...r, body: body() }) }] });
const targets = {
  health: { url: `${base}/health` },
  list_conversations: { url: `${base}/conversations?limit=25`, headers },
  search_invoice: { url: `${base}/conversations?q=invoice&limit=25`, headers },
  search_rare: { url: `${base}/conversations?q=zanzibar&limit=25`, headers },
  search_common: { url: `${base}/conversations?q=message&limit=25`, headers },
  search_phrase: { url: `${base}/conversations?q=${encodeURIComponent('"invoice overdue"')}&limit=25`, headers },
  search_contacts: { url: `${base}/contacts?q=nakamura&limit=25`, headers },
  post_activities: post("/activities", () => JSON.stringify(inbound(seededPhone(sent)))),
  batch: post("/activities/batch", () =>
    JSON.stringify({
      activities: Array.from({ length: 500 }, (_, i) =>
        inbound(i % 2 ? `+1415${String(3000000 + ++fresh).padStart(7, "0")}` : seededPhone(Math.floor(Math.random() * N))),
      ),
    }),
  ),
  twilio_inbound_webhook: {
    url: `${base}/webhooks/twilio/messages`,
    requests: [
      {
        method: "POST",
        setupRequest: (r) => {
          const { body, signature } = twilioBody();
          return { ...r, body, headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature } };
        },
      },
    ],
  },
};
for (const route of ROUTES) if (!targets[route]) throw new Error(`unknown route ${route}: ${Object.keys(targets).join(", ")}`);
const load = (route, seconds) =>
  new Promise((resolve, reject) =>
    autocannon({ connections: CONNECTIONS, duration: seconds, timeout: 60, ...targets[route] }, (e, r) => (e ? reject(e) : resolve(r))),
  );

// The server's workerd processes (its process group) and their CPU time in ms (utime + stime, 10 ms ticks).
const workerds = () =>
  execFileSync("pgrep", ["-g", String(server.pid), "-x", "workerd"])
    .toString()
    .trim()
    .split("\n")
    .map(Number)
    .sort((a, b) => a - b);
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

let inspector = null;
let nextId = 0;
const waiting = new Map();
const inspect = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    waiting.set(id, resolve);
    inspector.send(JSON.stringify({ id, method, params }));
  });
if (PROFILE) {
  const [target] = await (await fetch(`http://127.0.0.1:${INSPECTOR}/json`)).json();
  inspector = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => inspector.on("open", r));
  inspector.on("message", (data) => {
    const m = JSON.parse(String(data));
    waiting.get(m.id)?.(m.result);
    waiting.delete(m.id);
  });
  await inspect("Profiler.enable");
  await inspect("Profiler.setSamplingInterval", { interval: 200 });
}

/** The functions with the most self time in a CPU profile, as "share  name  file:line". */
function topSelf(profile, n = 25) {
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const self = new Map();
  for (const node of profile.nodes) {
    const c = counts.get(node.id);
    if (!c) continue;
    const f = node.callFrame;
    const key = `${f.functionName || "(anonymous)"}  ${f.url.split("/").pop() || "(native)"}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + c);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => `  ${((c / profile.samples.length) * 100).toFixed(1).padStart(5)} %  ${k}`);
}

await load(ROUTES[0], 2); // warm-up
for (const route of ROUTES) {
  const pids = workerds();
  const before = pids.map(cpuMs);
  if (PROFILE) await inspect("Profiler.start");
  const result = await load(route, SECONDS);
  const perRequest = pids.map((pid, i) => ((cpuMs(pid) - before[i]) / result.requests.total).toFixed(2));
  console.log(
    `${route}: ${result.requests.average} req/s, p50 ${result.latency.p50} ms, non-2xx ${result.non2xx}; workerd CPU ms a request (pid order): ${perRequest.join(" / ")}`,
  );
  if (PROFILE) {
    const { profile } = await inspect("Profiler.stop");
    const file = `bench/results/profile-${route}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    console.log(`  ${file}; most self time:\n${topSelf(profile).join("\n")}`);
  }
}
process.exit(0);
