// npm run export -- --org <org_id> [--base-url http://localhost:8787]
//   [--token <bearer> | INBOX_TOKEN=<bearer>] [--after <contact_id>] [--out <file.ndjson>] > file.ndjson
//
// Streams GET /conversations/export (SPEC 20) to stdout (or --out), as it comes: one line
// per conversation, the Conversation shape with its `messages`, oldest first. A progress
// line goes to stderr (conversations, messages, MB, rates). An owner's or admin's token is
// needed (locally: `npm run token -- <user_id>`; with none given on localhost, the demo
// owner's, as `npm run import` does).
//
// Resumable: lines come in contact id order and each names its contact first, so a cut
// export resumes after the last whole line's `contact.id`. Only whole lines are written; a
// cut stream (a network error, the Worker's CPU limit on a very large org, a 5xx) is
// resumed at once with `?after=`, up to --attempts (5) times in a row without progress.
// Past that:
//   - to stdout: the error says which `--after <contact_id>` to rerun with (append: `>>`);
//   - with --out <file>: a rerun finds the file, drops a cut last line if any, and appends
//     the lines after its last whole one (--restart starts the file over).
// The file can be imported into another org as it is: `npm run import -- --org <other>
// --file file.ndjson` (README "Export").
import { once } from "node:events";
import { closeSync, createWriteStream, existsSync, openSync, readSync, rmSync, statSync, truncateSync } from "node:fs";
import { cliOption, scriptBearer } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => cliOption(name, fallback, args);
const ORG = opt("org");
const OUT = opt("out");
const BASE = (opt("base-url") ?? process.env.INBOX_BASE_URL ?? "http://localhost:8787").replace(/\/$/, "");
if (!ORG) {
  console.error("usage: npm run export -- --org <org_id> [--base-url URL] [--token T] [--after <contact_id>] [--out <file> [--restart]] > file.ndjson");
  process.exit(2);
}

const bearer = () => scriptBearer(BASE);

/** A line's contact id: a line starts `{"id":"…","contact":{"id":"…"`. */
const CONTACT_ID = /^\{"id":"[0-9a-f-]{36}","contact":\{"id":"([0-9a-f-]{36})"/;

/**
 * --out: the file made whole again (a cut last line dropped) and the contact id of its
 * last line, read from the end backwards in small blocks (never the whole file).
 */
function resumePoint(file) {
  const size = statSync(file).size;
  if (!size) return null;
  const fd = openSync(file, "r");
  try {
    const block = Buffer.alloc(64 * 1024);
    let end = size;
    // The file's last newline: everything after it is a cut line.
    let lastNewline = -1;
    for (let pos = size; pos > 0 && lastNewline < 0; ) {
      const start = Math.max(0, pos - block.length);
      const n = readSync(fd, block, 0, pos - start, start);
      const at = block.subarray(0, n).lastIndexOf(10);
      if (at >= 0) lastNewline = start + at;
      pos = start;
    }
    end = lastNewline + 1;
    if (end < size) {
      console.error(`${file}: dropping a cut last line (${size - end} bytes)`);
      truncateSync(file, end);
    }
    if (end === 0) return null;
    // The start of the last complete line: the newline before it (or the file's start).
    let lineStart = 0;
    for (let pos = end - 1; pos > 0; ) {
      const start = Math.max(0, pos - block.length);
      const n = readSync(fd, block, 0, pos - start, start);
      const at = block.subarray(0, n).lastIndexOf(10);
      if (at >= 0) {
        lineStart = start + at + 1;
        break;
      }
      pos = start;
    }
    const head = Buffer.alloc(200);
    const n = readSync(fd, head, 0, head.length, lineStart);
    const m = CONTACT_ID.exec(head.subarray(0, n).toString("utf8"));
    if (!m) throw new Error(`${file}: its last line is not an export line`);
    return m[1];
  } finally {
    closeSync(fd);
  }
}

let after = opt("after") ?? null;
let output = process.stdout;
if (OUT) {
  if (args.includes("--restart")) rmSync(OUT, { force: true });
  if (existsSync(OUT)) {
    after = resumePoint(OUT) ?? after;
    if (after) console.error(`${OUT}: resuming after contact ${after}`);
  }
  output = createWriteStream(OUT, { flags: "a" });
}

const token = await bearer();
const started = Date.now();
const seen = { conversations: 0, messages: 0, messagesWritten: 0, bytes: 0, lastContact: after };

function progress(final = false) {
  const s = Math.max((Date.now() - started) / 1000, 0.001);
  const line = `${seen.conversations} conversations, ${seen.messages} messages, ${(seen.bytes / 1048576).toFixed(1)} MB in ${s.toFixed(0)} s: ${(seen.conversations / s).toFixed(0)} conv/s ${(seen.messages / s).toFixed(0)} msg/s`;
  if (process.stderr.isTTY && !final) process.stderr.write(`\r${line}`);
  else if (final) process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}${line}\n`);
}

// Only whole lines are written: the bytes of the line being received are held until its
// newline (a raw newline ends a line: one inside a string is escaped), so a cut stream
// leaves no partial line behind and is resumed after the last whole line's contact. The
// memory this takes is the longest line's. Messages are counted as they pass
// (`"conversation_id":` opens each message: a quote inside a string is escaped).
const MESSAGE_KEY = Buffer.from('"conversation_id":');
let pending = [];
let pendingBytes = 0;
let tail = Buffer.alloc(0);

async function write(bytes) {
  seen.bytes += bytes.length;
  if (!output.write(bytes)) await once(output, "drain");
}

/** Takes a chunk of the stream; writes the whole lines it completes. */
async function take(chunk) {
  const joined = tail.length ? Buffer.concat([tail, chunk]) : chunk;
  for (let at = joined.indexOf(MESSAGE_KEY); at >= 0; at = joined.indexOf(MESSAGE_KEY, at + 1)) seen.messages++;
  tail = joined.subarray(Math.max(0, joined.length - MESSAGE_KEY.length + 1));
  let from = 0;
  for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
    pending.push(chunk.subarray(from, nl + 1));
    const line = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    const m = CONTACT_ID.exec(line.subarray(0, 200).toString("utf8"));
    if (!m) throw new Error(`not an export line: ${line.subarray(0, 200).toString("utf8")}`);
    // Backpressure: no more is read from the server than the output takes.
    await write(line);
    seen.lastContact = m[1];
    seen.conversations++;
    seen.messagesWritten = seen.messages;
    pending = [];
    pendingBytes = 0;
    from = nl + 1;
  }
  if (from < chunk.length) {
    pending.push(chunk.subarray(from));
    pendingBytes += chunk.length - from;
  }
}

const MAX_ATTEMPTS = Number(opt("attempts", "5"));
let lastShown = 0;
for (let attempt = 1; ; attempt++) {
  const from = seen.lastContact;
  try {
    const url = `${BASE}/conversations/export${from ? `?after=${encodeURIComponent(from)}` : ""}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, "x-org-id": ORG } });
    if (!res.ok) {
      const text = await res.text();
      const error = new Error(`${res.status} ${text.slice(0, 500)}`);
      // Only a server error or a limit is worth another attempt; 4xx is the caller's.
      error.fatal = res.status < 500 && res.status !== 429;
      throw error;
    }
    for await (const chunk of res.body) {
      await take(Buffer.from(chunk));
      if (Date.now() - lastShown > 250) {
        lastShown = Date.now();
        progress();
      }
    }
    if (pendingBytes) throw new Error("the stream ended inside a line");
    break;
  } catch (e) {
    // A cut line is dropped (its messages uncounted) and the export resumes after the last whole line.
    pending = [];
    pendingBytes = 0;
    tail = Buffer.alloc(0);
    seen.messages = seen.messagesWritten;
    const progressed = seen.lastContact !== from;
    if (progressed) attempt = 1;
    if (e.fatal || attempt >= MAX_ATTEMPTS) {
      progress(true);
      const resume = seen.lastContact
        ? OUT
          ? "rerun the same command to resume"
          : `rerun with --after ${seen.lastContact}, appending (>>)`
        : "rerun the same command";
      console.error(`\nstopped: ${e.message}\n${resume}`);
      if (OUT) output.end();
      process.exit(1);
    }
    console.error(`\ncut (${e.message}); resuming after contact ${seen.lastContact ?? "(start)"} …`);
    await new Promise((r) => setTimeout(r, 1000 * 2 ** Math.min(attempt, 5)));
  }
}
if (OUT) {
  output.end();
  await once(output, "finish");
}
progress(true);
console.error(
  JSON.stringify({ org: ORG, after, conversations: seen.conversations, messages: seen.messages, bytes: seen.bytes, seconds: (Date.now() - started) / 1000 }),
);
