// npm run dev: local D1 migrations (every database: the control one and both shards), the
// demo orgs (one per shard), a printed token, then `wrangler dev`.
// Everything stays in .wrangler/state; no Cloudflare account or network needed.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { DEMO, DEMO2, demo2Activities, demoActivities, demoSql } from "./demo.mjs";
import { devVars, signToken } from "./lib.mjs";

// Offline by default: no telemetry, no fetch of the `request.cf` placeholder.
const env = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env };
const wrangler = (args, opts = {}) => {
  const r = spawnSync("npx", ["wrangler", ...args], { stdio: "inherit", env: { ...env, CI: "true" }, ...opts });
  if (r.status !== 0) {
    console.error(`wrangler ${args.join(" ")} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
};

// The port: `npm run dev -- --port N` (or `--port=N`), else PORT, else 8787. It is given to
// wrangler once (a second --port would make wrangler refuse), and the seeding below uses it.
function takePort(args) {
  const rest = [];
  let port;
  for (let i = 0; i < args.length; i++) {
    const m = /^--port(?:=(.*))?$/.exec(args[i]);
    if (!m) rest.push(args[i]);
    else port = m[1] ?? args[++i] ?? "";
  }
  return { port, rest };
}
const { port: portArg, rest: wranglerArgs } = takePort(process.argv.slice(2));
const port = portArg ?? process.env.PORT ?? "8787";
if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
  console.error(`The port must be a number from 1 to 65535 (--port N, --port=N or PORT), not "${port}".`);
  process.exit(1);
}

const vars = devVars();
const migrated = spawnSync(process.execPath, ["scripts/migrate.mjs", "--local"], { stdio: "inherit", env });
if (migrated.status !== 0) process.exit(migrated.status ?? 1);
mkdirSync(".wrangler", { recursive: true });
// The control database first; then each demo org's rows go to the shard it lives on now
// (the operator may have moved it since the last run).
const seed = (binding, sql) => {
  const file = `.wrangler/demo-seed-${binding}.sql`;
  writeFileSync(file, sql);
  wrangler(["d1", "execute", binding, "--local", "--file", file], { stdio: ["inherit", "ignore", "inherit"] });
};
seed("DB", demoSql().DB);
const homes = spawnSync("npx", ["wrangler", "d1", "execute", "DB", "--local", "--json", "--command", "SELECT id, shard FROM orgs"], {
  env: { ...env, CI: "true" },
  encoding: "utf8",
});
const orgRows = homes.status === 0 ? (JSON.parse(homes.stdout)[0]?.results ?? []) : [];
for (const [binding, sql] of Object.entries(demoSql(Date.now(), Object.fromEntries(orgRows.map((r) => [r.id, r.shard]))))) {
  if (binding !== "DB") seed(binding, sql);
}

const ownerToken = await signToken(DEMO.ownerId, { claims: { name: "Olivia Owner" } });
const agentToken = await signToken(DEMO.agentId, { claims: { name: "Alex Agent" } });
const dev = spawn("npx", ["wrangler", "dev", "--port", port, ...wranglerArgs], { stdio: "inherit", env });
const stop = (sig) => dev.kill(sig);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
dev.on("exit", (code) => process.exit(code ?? 0));

// Once the server answers, the demo timeline goes in through the API itself.
async function seedTimeline() {
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  // One POST /activities/batch an org (SPEC 15); provider ids make a rerun store nothing.
  let added = 0;
  for (const [org, activities] of [
    [DEMO, demoActivities()],
    [DEMO2, demo2Activities()],
  ]) {
    const res = await fetch(`${base}/activities/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${ownerToken}`, "x-org-id": org.orgId, "content-type": "application/json" },
      body: JSON.stringify({ activities }),
    }).catch((e) => ({ ok: false, status: 0, text: async () => String(e) }));
    if (!res.ok) {
      console.error(`demo timeline of ${org.name}: ${res.status} ${await res.text()}`);
      continue;
    }
    for (const r of (await res.json()).results) {
      if (r.status === 201) added++;
      else if (r.status !== 200) console.error(`demo activity ${activities[r.index].provider_message_id}: ${r.status} ${JSON.stringify(r.error)}`);
    }
  }
  console.log(`Demo timeline: ${added} new activities.`);
  console.log(`
Demo orgs ready (state in .wrangler/state): ${DEMO.name} on ${DEMO.shard}, ${DEMO2.name} on ${DEMO2.shard}.
  ORG_ID=${DEMO.orgId}
  ORG2_ID=${DEMO2.orgId}   (the same TOKEN: Olivia owns both)
  TOKEN=${ownerToken}
  AGENT_TOKEN=${agentToken}

Try:
  export ORG_ID=${DEMO.orgId} TOKEN=<the token above>
  curl -s localhost:${port}/contacts -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: $ORG_ID"
  curl -s localhost:${port}/conversations -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: $ORG_ID"
  open http://localhost:${port}/docs
Other users: npm run token -- <user_id>   (secret: AUTH_JWT_SECRET in .dev.vars${vars.AUTH_JWT_SECRET ? "" : " — missing!"})
`);
}
seedTimeline();
