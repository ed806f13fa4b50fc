// Prints an org's live events (GET /events) as they happen.
//   npm run events                      (uses ORG_ID and TOKEN from the environment)
//   npm run events -- --since 42        (resume after seq 42)
// With `npm run dev` running, in another shell:
//   export ORG_ID=… TOKEN=…   (as printed by npm run dev)
//   npm run events
// then make something happen, e.g. a demo contact's SMS arriving:
//   curl -s localhost:8787/activities -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: $ORG_ID" \
//     -H 'content-type: application/json' \
//     -d '{"contact":{"phone":"+14155550142"},"type":"sms","direction":"inbound","body":"Running 5 min late!","provider":"twilio","provider_message_id":"SMdemo1"}'
const base = (process.env.BASE_URL ?? "http://localhost:8787").replace(/^http/, "ws");
const { ORG_ID, TOKEN } = process.env;
if (!ORG_ID || !TOKEN) {
  console.error("Set ORG_ID and TOKEN (npm run dev prints both).");
  process.exit(1);
}
const sinceArg = process.argv.indexOf("--since");
const since = sinceArg > 0 ? process.argv[sinceArg + 1] : undefined;
const url = `${base}/events?org_id=${ORG_ID}&token=${TOKEN}${since ? `&since=${since}` : ""}`;

const ws = new WebSocket(url);
ws.addEventListener("open", () => console.log(`connected to ${base}/events — waiting for events (Ctrl-C to stop)`));
ws.addEventListener("message", (m) => {
  if (m.data === "pong") return;
  const e = JSON.parse(m.data);
  if (e.type === "hello") return console.log(`latest seq ${e.seq}`);
  if (e.type === "resync") return console.log(`missed events are gone: refetch, then follow from seq ${e.seq}`);
  const d = e.data ?? {};
  const what = e.type.startsWith("message.")
    ? `${d.type} ${d.direction ?? ""} ${d.status}: ${(d.body ?? d.call?.summary ?? "").slice(0, 60)}`
    : e.type === "conversation.updated"
      ? `${d.contact?.name ?? d.contact?.phone ?? d.id}: unread ${d.unread_count}, starred ${d.starred}, archived ${d.archived}`
      : e.type === "suggestion.created"
        ? `draft: ${(d.body ?? "").slice(0, 60)}`
        : "";
  console.log(`#${e.seq} ${e.at} ${e.type.padEnd(20)} ${what}`);
});
ws.addEventListener("close", (e) => {
  console.log(`closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
  process.exit(e.code === 1000 ? 0 : 1);
});
ws.addEventListener("error", () => console.error("connection failed: is npm run dev running, and are ORG_ID/TOKEN right?"));
// Keep idle proxies from closing the socket; the server answers without waking up.
setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 30_000).unref();
