import type { FieldError } from "../lib/errors";

// Template text (SPEC 17): plain text with `{{variable}}` tags, `{{ variable }}` (white
// space inside the braces) and `{{variable|fallback}}` (the fallback when the value is
// empty). Parsed when a template is saved (an unknown variable or a malformed tag is
// refused, 422 template_invalid) and again when it is rendered. Rendering is plain
// substitution: no escaping (a template renders the text body of an sms, an email or a
// note, never html).

export const TEMPLATE_VARIABLES = ["contact.name", "contact.first_name", "contact.phone", "contact.email", "member.name", "org.name"] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];
/** What a render knows; a missing or blank value renders as the tag's fallback, else empty. */
export type TemplateValues = Partial<Record<TemplateVariable, string | null>>;

type Part = string | { variable: TemplateVariable; fallback: string };

const KNOWN = new Set<string>(TEMPLATE_VARIABLES);
/** A tag at `lastIndex`: `{{`, no braces or line breaks, `}}`. */
const TAG = /\{\{([^{}\r\n]*)\}\}/y;
/** Errors named at most: a template full of bad tags is told about its first few (and not read further). */
const MAX_ERRORS = 10;

/** The parts of `text`, or what is wrong with it (`path`: the field it came from). */
export function parseTemplate(text: string, path: string): { parts: Part[]; errors: FieldError[] } {
  const parts: Part[] = [];
  const errors: FieldError[] = [];
  // `pos`: the text before it is in `parts`; `from`: where the next `{{` is looked for.
  let pos = 0;
  let from = 0;
  while (errors.length < MAX_ERRORS) {
    const open = text.indexOf("{{", from);
    if (open < 0) break;
    TAG.lastIndex = open;
    const m = TAG.exec(text);
    if (!m) {
      const shown = text.slice(open, open + 30).split(/\r?\n/)[0];
      errors.push({ path, message: `malformed tag at character ${open + 1}: "${shown}" (a tag is {{variable}} or {{variable|fallback}}, on one line)` });
      // Past this `{{`: every later tag is still checked.
      from = open + 2;
      continue;
    }
    from = open + m[0].length;
    const inner = m[1];
    const bar = inner.indexOf("|");
    const name = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    const fallback = bar < 0 ? "" : inner.slice(bar + 1).trim();
    if (!KNOWN.has(name)) {
      errors.push({ path, message: `unknown variable {{${name}}}` });
      continue;
    }
    if (open > pos) parts.push(text.slice(pos, open));
    parts.push({ variable: name as TemplateVariable, fallback });
    pos = from;
  }
  if (pos < text.length) parts.push(text.slice(pos));
  return { parts, errors };
}

/** The problems of a template's fields, [] when it can be saved. */
export function templateErrors(fields: { body: string; subject?: string | null }): FieldError[] {
  return [...parseTemplate(fields.body, "body").errors, ...(fields.subject ? parseTemplate(fields.subject, "subject").errors : [])];
}

/** `text` with every tag replaced (a stored template parses; a tag that does not is left as written). */
export function renderTemplate(text: string, values: TemplateValues): string {
  const { parts } = parseTemplate(text, "");
  return parts
    .map((p) => {
      if (typeof p === "string") return p;
      const value = values[p.variable] ?? "";
      return value.trim() ? value : p.fallback;
    })
    .join("");
}

/** The first word of a name ("Ada" of "Ada Lovelace"); null without a name. */
export const firstName = (name: string | null | undefined) => name?.trim().split(/\s+/)[0] || null;
