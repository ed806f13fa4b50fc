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
// export resumes after the last complete line's `contact.id`:
//   - to stdout: the error says which `--after <contact_id>` to rerun with (append: `>>`);
//   - with --out <file>: a rerun finds the file, drops a cut last line, and appends the
//     lines after its last complete one (--restart starts the file over).
// The file can be imported into another org as it is: `npm run import -- --org <other>
// --file file.ndjson` (README "Export").
import { once } from "node:events";
import { closeSync, createWriteStream, existsSync, openSync, readSync, rmSync, statSync, truncateSync } from "node:fs";
import { devVars, signToken } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ORG = opt("org");
const OUT = opt("out");
const BASE = (opt("base-url") ?? process.env.INBOX_BASE_URL ?? "http://localhost:8787").replace(/\/$/, "");
if (!ORG) {
  console.error("usage: npm run export -- --org <org_id> [--base-url URL] [--token T] [--after <contact_id>] [--out <file> [--restart]] > file.ndjson");
  process.exit(2);
}

async function bearer() {
  const given = opt("token") ?? process.env.INBOX_TOKEN;
  if (given) return given;
  // Locally, with no token given: the demo owner's, signed with .dev.vars' secret.
  if (/^https?:\/\/(localhost|127\.0\.0\.1)/.test(BASE) && devVars().AUTH_JWT_SECRET) {
    return signToken(opt("user", "01936a00-0000-7000-8000-0000000000a1"));
  }
  console.error("a bearer token is needed: --token or INBOX_TOKEN (an owner or admin of the org)");
  process.exit(2);
}

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
const seen = { conversations: 0, messages: 0, bytes: 0, lastContact: after };

function progress(final = false) {
  const s = Math.max((Date.now() - started) / 1000, 0.001);
  const line = `${seen.conversations} conversations, ${seen.messages} messages, ${(seen.bytes / 1048576).toFixed(1)} MB in ${s.toFixed(0)} s: ${(seen.conversations / s).toFixed(0)} conv/s ${(seen.messages / s).toFixed(0)} msg/s`;
  if (process.stderr.isTTY && !final) process.stderr.write(`\r${line}`);
  else if (final) process.stderr.write(`${process.stderr.isTTY ? "\r" : ""}${line}\n`);
}

// Counted on the bytes as they pass, whatever a line's size: a raw newline ends a line
// (one inside a string is escaped), `"conversation_id":` starts a message (a quote inside
// a string is escaped), and a line's first bytes name its contact.
const MESSAGE_KEY = Buffer.from('"conversation_id":');
let tail = Buffer.alloc(0);
let head = "";
let inHead = true;
function count(chunk) {
  const joined = tail.length ? Buffer.concat([tail, chunk]) : chunk;
  for (let at = joined.indexOf(MESSAGE_KEY); at >= 0; at = joined.indexOf(MESSAGE_KEY, at + 1)) if (at + MESSAGE_KEY.length > tail.length) seen.messages++;
  tail = joined.subarray(Math.max(0, joined.length - MESSAGE_KEY.length + 1));
  let from = 0;
  for (;;) {
    const nl = chunk.indexOf(10, from);
    const piece = chunk.subarray(from, nl < 0 ? chunk.length : nl);
    if (inHead) {
      head += piece.toString("utf8");
      if (head.length >= 120 || nl >= 0) inHead = false;
    }
    if (nl < 0) break;
    const m = CONTACT_ID.exec(head);
    if (m) seen.lastContact = m[1];
    seen.conversations++;
    head = "";
    inHead = true;
    from = nl + 1;
  }
}

let lastShown = 0;
try {
  const url = `${BASE}/conversations/export${after ? `?after=${encodeURIComponent(after)}` : ""}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, "x-org-id": ORG } });
  if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 500)}`);
  for await (const chunk of res.body) {
    const bytes = Buffer.from(chunk);
    count(bytes);
    seen.bytes += bytes.length;
    // Backpressure: no more is read from the server than the output takes.
    if (!output.write(bytes)) await once(output, "drain");
    if (Date.now() - lastShown > 250) {
      lastShown = Date.now();
      progress();
    }
  }
  if (head) throw new Error("the stream ended inside a line");
} catch (e) {
  progress(true);
  const resume = seen.lastContact
    ? OUT
      ? "rerun the same command to resume"
      : `rerun with --after ${seen.lastContact} (appending: >>) after dropping the cut last line`
    : "rerun the same command";
  console.error(`\nstopped: ${e.message}\n${resume}`);
  if (OUT) output.end();
  process.exit(1);
}
if (OUT) {
  output.end();
  await once(output, "finish");
}
progress(true);
console.error(
  JSON.stringify({ org: ORG, after, conversations: seen.conversations, messages: seen.messages, bytes: seen.bytes, seconds: (Date.now() - started) / 1000 }),
);
