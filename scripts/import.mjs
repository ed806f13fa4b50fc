// npm run import -- --org <org_id> --file history.ndjson [--base-url http://localhost:8787]
//   [--token <bearer> | INBOX_TOKEN=<bearer>] [--concurrency 2] [--restart]
//
// Streams an NDJSON file (each line the body of one POST /activities, or a line of
// GET /conversations/export: see below) through
// POST /activities/batch (SPEC 15): batches of up to 500 items and 4 MiB, a few in flight,
// a progress line (items/s, ETA), and a summary. An owner's or admin's token is needed
// (locally: `npm run token -- <user_id>`; the demo owner's is printed by `npm run dev`).
//
// Resumable: `<file>.import-state.json` records the last line every earlier line of which
// was acknowledged; a rerun starts after it (--restart starts over, as a new import). Each
// batch carries an Idempotency-Key made of the file's identity, the import's run id and
// the batch's first line, so a batch sent again after a cut answers what it answered the
// first time; items with a provider_message_id are deduplicated by the server in any case
// (a restarted import of the same file reports them as duplicates).
// Refused items (400/422/500 results, and lines that are not JSON) go to
// `<file>.rejects.ndjson` as { line, status, error, item }.
//
// An export file (`npm run export`, GET /conversations/export) imports as it is: a line
// that is an object with `messages` is one conversation, expanded into one item per
// message by scripts/export-map.mjs (the contact keyed by its phone, else its email, with
// its name; provider_message_id `export:<message id>` when the message had none, so a
// rerun is deduplicated; media dropped: an org's media cannot move). A long thread's items
// span several batches; the state still records whole lines. What does not carry over:
// README "Export".
import { createHash } from "node:crypto";
import { appendFileSync, createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { exportLineToActivities, isExportLine } from "./export-map.mjs";
import { cliOption, scriptBearer } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => cliOption(name, fallback, args);
const ORG = opt("org");
const FILE = opt("file");
const BASE = (opt("base-url") ?? process.env.INBOX_BASE_URL ?? "http://localhost:8787").replace(/\/$/, "");
const CONCURRENCY = Math.max(1, Number(opt("concurrency", "2")));
const MAX_ITEMS = 500;
const MAX_BYTES = 4 * 1024 * 1024;
if (!ORG || !FILE) {
  console.error("usage: npm run import -- --org <org_id> --file <history.ndjson> [--base-url URL] [--token T] [--concurrency N] [--restart]");
  process.exit(2);
}
if (!existsSync(FILE)) {
  console.error(`no such file: ${FILE}`);
  process.exit(2);
}

const bearer = () => scriptBearer(BASE);

const STATE = `${FILE}.import-state.json`;
const REJECTS = `${FILE}.rejects.ndjson`;
const stat = statSync(FILE);
// The file's identity for idempotency keys: its name, size and mtime (a changed file is another import).
const fileId = createHash("sha256").update(`${FILE}\0${stat.size}\0${stat.mtimeMs}\0${ORG}`).digest("hex").slice(0, 24);
if (args.includes("--restart")) {
  rmSync(STATE, { force: true });
  rmSync(REJECTS, { force: true });
}
const saved = existsSync(STATE) ? JSON.parse(readFileSync(STATE, "utf8")) : null;
// A run id per import (kept across resumes, new with --restart): a restarted import is sent
// afresh, so the server's dedup (not an idempotent replay) answers for what is already there.
const state =
  saved && saved.fileId === fileId
    ? saved
    : {
        fileId,
        runId: createHash("sha256").update(`${Date.now()}${Math.random()}`).digest("hex").slice(0, 8),
        done: 0,
        stored: 0,
        duplicates: 0,
        refused: 0,
        reasons: {},
        export_lines: 0,
        media_dropped: 0,
        unsent_skipped: 0,
      };
if (saved && saved.fileId !== fileId) console.error(`${STATE} is for another version of the file: starting over`);
// Saved before the first batch goes out: a cut before any answer resumes with the same run
// id, so the batches already sent replay instead of being stored again.
writeFileSync(STATE, JSON.stringify(state));

async function countLines() {
  let n = 0;
  for await (const _ of createInterface({ input: createReadStream(FILE), crlfDelay: Number.POSITIVE_INFINITY })) n++;
  return n;
}

const token = await bearer();
const total = await countLines();
const started = Date.now();
let sentThisRun = 0;

function progress(final = false) {
  const elapsed = (Date.now() - started) / 1000;
  const rate = sentThisRun / Math.max(elapsed, 0.001);
  const left = total - state.done;
  const eta = rate > 0 ? left / rate : Number.POSITIVE_INFINITY;
  const width = 30;
  const filled = Math.round((state.done / Math.max(total, 1)) * width);
  const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${state.done}/${total} ${rate.toFixed(0)} items/s ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : "?"}`;
  if (process.stderr.isTTY && !final) process.stderr.write(`\r${line}`);
  else if (final) process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}${line}\n`);
}

const reject = (line, status, error, item) => {
  appendFileSync(REJECTS, `${JSON.stringify({ line, status, error, item })}\n`);
  state.refused++;
  const reason = error?.code ?? `status_${status}`;
  state.reasons[reason] = (state.reasons[reason] ?? 0) + 1;
};

/**
 * One batch's results, index by index. Items answered 500 (that item alone could not be
 * stored) are sent again, alone in a batch of their own, up to 3 times.
 */
async function send(batch) {
  // A batch is named by where it starts (line, and item of the line when an export line spans batches): the same start, the same items.
  const key = `import-${fileId}-${state.runId}-${batch.first}${batch.sub ? `.${batch.sub}` : ""}`;
  const results = await post(
    batch.items.map((i) => i.item),
    key,
  );
  for (let round = 1; round <= 3; round++) {
    const failed = results.filter((r) => r.status === 500);
    if (!failed.length) break;
    await new Promise((r) => setTimeout(r, 1000 * 2 ** round));
    const again = await post(
      failed.map((r) => batch.items[r.index].item),
      `${key}-retry${round}`,
    );
    for (const [k, r] of again.entries()) results[failed[k].index] = { ...r, index: failed[k].index };
  }
  return results;
}

/** POSTs one batch until it gets an answer (network errors and 5xx/429 retried with backoff, the same Idempotency-Key). */
async function post(items, key) {
  const body = JSON.stringify({ activities: items });
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(`${BASE}/activities/batch`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "x-org-id": ORG,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body,
      });
    } catch (e) {
      res = { ok: false, status: 0, text: async () => String(e) };
    }
    if (res.ok) return (await res.json()).results;
    const text = await res.text();
    const retry = res.status === 0 || res.status === 429 || res.status >= 500 || (res.status === 409 && text.includes("idempotency_in_flight"));
    if (!retry || attempt >= 8) throw new Error(`batch ${key}: ${res.status} ${text.slice(0, 500)}`);
    const wait = Number(res.headers?.get?.("retry-after")) * 1000 || Math.min(30_000, 500 * 2 ** attempt);
    await new Promise((r) => setTimeout(r, wait));
  }
}

// Batches in flight, acknowledged in file order (by sequence): state.done moves only over a
// contiguous prefix. A batch holds items from line `first` on; `last` is the last line all
// of whose items are in it or before it (its blank and unreadable lines too).
const inFlight = new Map();
const finished = new Map();
let nextSeq = 0;
let nextToAck = 0;

// A batch's outcome counts (and its rejects are written) when it is acknowledged, with
// every batch before it: a resumed import re-sends only unacknowledged batches, which
// are then counted once.
function settle(batch, results) {
  batch.results = results;
  finished.set(batch.seq, batch);
  while (finished.has(nextToAck)) {
    const b = finished.get(nextToAck);
    finished.delete(nextToAck);
    for (const bad of b.bad) reject(bad.line, bad.status ?? 400, { code: bad.code ?? "not_json", detail: bad.error }, bad.raw);
    state.export_lines = (state.export_lines ?? 0) + b.exportLines;
    state.media_dropped = (state.media_dropped ?? 0) + b.mediaDropped;
    state.unsent_skipped = (state.unsent_skipped ?? 0) + b.unsentSkipped;
    for (const r of b.results) {
      const { line, item } = b.items[r.index];
      if (r.status === 201) state.stored++;
      else if (r.status === 200) state.duplicates++;
      else reject(line, r.status, r.error, item);
    }
    state.done = Math.max(state.done, b.last);
    nextToAck++;
  }
  writeFileSync(STATE, JSON.stringify(state));
  sentThisRun += batch.items.length;
  progress();
}

async function dispatch(batch) {
  while (inFlight.size >= CONCURRENCY) await Promise.race(inFlight.values());
  const p = (batch.items.length ? send(batch) : Promise.resolve([])).then((results) => {
    inFlight.delete(batch.seq);
    settle(batch, results);
  });
  inFlight.set(batch.seq, p);
}

const fresh = (first, sub = 0) => ({
  seq: nextSeq++,
  first,
  sub,
  last: first - 1,
  items: [],
  bad: [],
  bytes: 0,
  exportLines: 0,
  mediaDropped: 0,
  unsentSkipped: 0,
});
let batch = fresh(state.done + 1);
let lineNo = 0;
try {
  for await (const raw of createInterface({ input: createReadStream(FILE), crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNo++;
    if (lineNo <= state.done) continue;
    if (!raw.trim()) {
      batch.last = lineNo;
      continue;
    }
    let parsed;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      batch.bad.push({ line: lineNo, error: String(e), raw: raw.slice(0, 1000) });
      batch.last = lineNo;
      continue;
    }
    // A plain line is one item (its bytes as read); an export line, one item per message.
    let items = [{ item: parsed, bytes: Buffer.byteLength(raw) + 1 }];
    const mapped = isExportLine(parsed) ? exportLineToActivities(parsed) : null;
    if (mapped) {
      if (mapped.error) {
        const what = { contact: parsed.contact, messages: parsed.messages.length };
        batch.bad.push({ line: lineNo, status: 422, code: mapped.error, error: "the contact has neither a phone nor an email to key it by", raw: what });
      }
      items = mapped.activities.map((item) => ({ item, bytes: Buffer.byteLength(JSON.stringify(item)) + 1 }));
    }
    for (const [sub, { item, bytes }] of items.entries()) {
      if (batch.items.length && (batch.items.length >= MAX_ITEMS || batch.bytes + bytes > MAX_BYTES)) {
        await dispatch(batch);
        batch = fresh(lineNo, sub);
      }
      batch.items.push({ line: lineNo, item });
      batch.bytes += bytes;
    }
    // An export line counts with the batch its last item is in (acknowledged: the line is done).
    if (mapped) {
      batch.exportLines++;
      batch.mediaDropped += mapped.media_dropped;
      batch.unsentSkipped += mapped.unsent_skipped;
    }
    batch.last = lineNo;
  }
  if (batch.last >= batch.first || batch.items.length) await dispatch(batch);
  await Promise.all(inFlight.values());
} catch (e) {
  progress(true);
  console.error(`\nstopped: ${e.message}\nrerun the same command to resume after line ${state.done}`);
  process.exit(1);
}
progress(true);
const seconds = (Date.now() - started) / 1000;
console.log(
  JSON.stringify(
    {
      file: FILE,
      lines: total,
      stored: state.stored,
      duplicates: state.duplicates,
      refused: state.refused,
      reasons: state.reasons,
      ...(state.export_lines ? { export_lines: state.export_lines, media_dropped: state.media_dropped, unsent_skipped: state.unsent_skipped ?? 0 } : {}),
      rejects: state.refused ? REJECTS : null,
      seconds: Number(seconds.toFixed(1)),
      items_per_second: Math.round(sentThisRun / Math.max(seconds, 0.001)),
    },
    null,
    2,
  ),
);
