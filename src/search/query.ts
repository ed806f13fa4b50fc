import { z } from "@hono/zod-openapi";

// The search language of SPEC 16, parsed here and never handed to FTS5 as typed: words
// are ANDed, "quoted phrases" match in sequence, a trailing `*` makes a prefix, case and
// accents are ignored (the tokenizer, unicode61 remove_diacritics 2). Everything else is
// text: each term becomes a double-quoted FTS5 string made only of its letters and
// digits, so NEAR, OR, AND, NOT, `col:`, `^`, `-`, `+`, parentheses and stray quotes are
// words or separators, never syntax (docs/decisions.md, Search).

/** `q` of every search route: 1–200 characters after trimming (400 otherwise). */
export const SearchQuery = z.string().trim().min(1).max(200).openapi({
  description:
    'Search text, 1–200 characters: words are ANDed, "quoted phrases" match in order, a trailing * is a prefix (word*), case and accents are ignored; anything else is literal text',
});

/** One term: its tokens (as the tokenizer splits them), whether it is a phrase typed in quotes, whether its last token is a prefix. */
export type Term = { tokens: string[]; prefix: boolean };

/** Token characters of unicode61 (letters, numbers, private use); everything else separates. */
const TOKEN = /[\p{L}\p{N}\p{Co}]+/gu;
/** A prefix shorter than this is taken as a whole word (a one-letter prefix would read every term of the index). */
const MIN_PREFIX = 2;

const tokensOf = (text: string) => text.match(TOKEN) ?? [];

const ASCII = /^[^\u0080-\uffff]*$/;
/** No character past U+007F (no mark to remove, and unicode61's token characters are [A-Za-z0-9]). */
export const isAscii = (text: string) => ASCII.test(text);

/**
 * Lowercase, accents removed: how the index compares tokens (for highlighting; the index
 * folds on its own). ASCII has no marks to remove: lowercased only (most tokens of a
 * snippet; the NFD round trip was most of the snippet's time).
 */
export const fold = (token: string) => (isAscii(token) ? token.toLowerCase() : token.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase());

/** Splits `q` into terms; a term with no token (punctuation only) is dropped, so a q may parse to none. */
export function parseQuery(q: string): Term[] {
  const terms: Term[] = [];
  const add = (text: string, star: boolean) => {
    const tokens = tokensOf(text);
    if (!tokens.length) return;
    const last = tokens[tokens.length - 1];
    terms.push({ tokens, prefix: star && [...fold(last)].length >= MIN_PREFIX });
  };
  let rest = q;
  while (rest.length) {
    const open = rest.indexOf('"');
    const close = open < 0 ? -1 : rest.indexOf('"', open + 1);
    const plain = close < 0 ? rest : rest.slice(0, open);
    for (const word of plain.split(/\s+/)) add(word, word.endsWith("*"));
    if (close < 0) break;
    // A phrase: `"…"` (and `"…"*`, a prefix on its last word). An unbalanced quote is a separator.
    const star = rest[close + 1] === "*";
    add(rest.slice(open + 1, close), star);
    rest = rest.slice(close + (star ? 2 : 1));
  }
  return terms;
}

/** A term as an FTS5 string: its tokens between double quotes (they hold no quote; escaped anyway), `*` after it for a prefix. */
const ftsString = (tokens: string[], prefix: boolean) => `"${tokens.join(" ").replaceAll('"', '""')}"${prefix ? "*" : ""}`;

/** The MATCH expression over message text (activities_fts), any org's: only where a join checks the org (a thread's rowid range, the conversation search). */
export const textMatch = (terms: Term[]) => `{body subject transcript summary} : (${terms.map((t) => ftsString(t.tokens, t.prefix)).join(" AND ")})`;

/** Digits only, with or without separators (`415`, `415-555`, `(415) 555`): a run of a phone number. */
export const isDigits = (t: Term) => t.tokens.every((x) => /^\d+$/.test(x));

/**
 * The MATCH expression over contacts (contacts_fts), any org's: only where a WHERE checks
 * the org (GET /contacts, the conversation search). Neighbouring terms of digits are one
 * run (`+1 415` → 1415, `(415) 555-0142` → 4155550142), a prefix of the phone column,
 * which holds every suffix of the number: the digits are found anywhere in it, as the
 * LIKE of before found them.
 */
export function contactText(terms: Term[]) {
  const parts: string[] = [];
  let digits = "";
  const flush = () => {
    if (digits) parts.push(ftsString([digits], digits.length >= MIN_PREFIX));
    digits = "";
  };
  for (const t of terms) {
    if (isDigits(t)) {
      digits += t.tokens.join("");
      continue;
    }
    flush();
    parts.push(ftsString(t.tokens, t.prefix));
  }
  flush();
  return `{name email phone} : (${parts.join(" AND ")})`;
}
