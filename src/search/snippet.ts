import { fold, isAscii, isDigits, type Term } from "./query";

// The `match.snippet` of a search hit: the matched text around its first hit, at most
// SNIPPET_CHARS characters, each matched token wrapped in « ». Cut here, from the row,
// not by FTS5's snippet(): the indexes are contentless (the text is stored once, in its
// table). A phrase's tokens are marked wherever they occur, as words are.

export const SNIPPET_CHARS = 160;
const OPEN = "«";
const CLOSE = "»";
/** Characters kept before the first hit, so it is read in context. */
const LEAD = 40;

const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;
/** TOKEN on ASCII text (a Unicode property class costs more per character). */
const ASCII_TOKEN = /[A-Za-z0-9]+/g;
const lower = (token: string) => token.toLowerCase();

type Matcher = (folded: string) => boolean;

function matcher(terms: Term[], digitRuns: boolean): Matcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const runs: string[] = [];
  for (const t of terms) {
    if (digitRuns && isDigits(t)) runs.push(t.tokens.join(""));
    t.tokens.forEach((token, i) => {
      const f = fold(token);
      if (t.prefix && i === t.tokens.length - 1) prefixes.push(f);
      else exact.add(f);
    });
  }
  return (folded) => exact.has(folded) || prefixes.some((p) => folded.startsWith(p)) || runs.some((r) => folded.includes(r));
}

/** The snippet of `text` (whitespace collapsed) around its first matching token; null when no token matches. */
function cut(text: string, hit: Matcher): string | null {
  const flat = text.replace(/\s+/g, " ").trim();
  const spans: [number, number][] = [];
  const ascii = isAscii(flat);
  const folded = ascii ? lower : fold;
  for (const m of flat.matchAll(ascii ? ASCII_TOKEN : TOKEN)) {
    // Nothing past SNIPPET_CHARS after the first hit is shown (the snippet starts at most LEAD·2 before it).
    if (spans.length && m.index > spans[0][0] + SNIPPET_CHARS) break;
    if (hit(folded(m[0]))) spans.push([m.index, m.index + m[0].length]);
  }
  if (!spans.length) return null;
  let start = Math.max(0, spans[0][0] - LEAD);
  // Start at a word: back to the space before, unless that loses the lead entirely.
  if (start > 0) {
    const space = flat.lastIndexOf(" ", start);
    start = space >= 0 && spans[0][0] - space <= LEAD * 2 ? space + 1 : start;
  }
  const pieces: { text: string; marked: boolean }[] = [];
  let at = start;
  for (const [from, to] of spans) {
    if (to <= start) continue;
    if (from > at) pieces.push({ text: flat.slice(at, from), marked: false });
    pieces.push({ text: flat.slice(Math.max(from, at), to), marked: true });
    at = to;
  }
  if (at < flat.length) pieces.push({ text: flat.slice(at), marked: false });
  let out = start > 0 ? "…" : "";
  for (const [i, p] of pieces.entries()) {
    const piece = p.marked ? `${OPEN}${p.text}${CLOSE}` : p.text;
    // Room is kept for the closing ellipsis while anything is left after this piece.
    if (out.length + piece.length + (i === pieces.length - 1 ? 0 : 1) <= SNIPPET_CHARS) {
      out += piece;
      continue;
    }
    if (!p.marked) out += p.text.slice(0, SNIPPET_CHARS - 1 - out.length);
    return `${out.trimEnd()}…`;
  }
  return out;
}

/** The start of `text`, unmarked, within SNIPPET_CHARS. */
function head(text: string) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= SNIPPET_CHARS ? flat : `${flat.slice(0, SNIPPET_CHARS - 1).trimEnd()}…`;
}

/** A page's rows share its terms: their matcher is built once. */
const messageMatchers = new WeakMap<Term[], Matcher>();

/** The snippet of a message: the first of its texts (body, subject, transcript, summary) with a hit. */
export function messageSnippet(texts: (string | null)[], terms: Term[]): string {
  let hit = messageMatchers.get(terms);
  if (!hit) {
    hit = matcher(terms, false);
    messageMatchers.set(terms, hit);
  }
  for (const text of texts) {
    const s = text ? cut(text, hit) : null;
    if (s) return s;
  }
  // The index matched what the highlighter cannot see (a folding of its own): the text's start.
  return head(texts.find((t) => t) ?? "");
}

/** The snippet of a contact: name · email · phone, its matching parts marked (a run of digits marks the whole number). */
export function contactSnippet(contact: { name: string | null; email: string | null; phone: string | null }, terms: Term[]): string {
  const hit = matcher(terms, true);
  const text = [contact.name, contact.email, contact.phone].filter((x) => x).join(" · ");
  return cut(text, hit) ?? head(text);
}
