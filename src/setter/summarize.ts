/**
 * The built-in call summarizer: extractive, deterministic, no model. It keeps the
 * (at most) three sentences of the transcript that best carry its content, in the
 * order they were said, within 400 characters.
 *
 * Scoring, per sentence:
 * - content: the mean document frequency of its content words (stop words and
 *   fillers left out), so sentences about what the call was about rank high;
 * - signals: +50 % for a request or question, a time, a date, a weekday, an amount
 *   or a number (what a follow-up needs);
 * - position: +25 % for the caller's opening sentence (usually the reason for calling);
 * - sentences of fewer than four words (greetings, "okay", "bye") are dropped.
 * Ties keep the earlier sentence.
 */
export const SUMMARY_MAX_SENTENCES = 3;
export const SUMMARY_MAX_CHARS = 400;

const STOP = new Set(
  (
    "a about after again all also am an and any are as at be because been before being but by can could did do does doing " +
    "for from had has have having he her here hers him his how i i'm i'll i've if in into is it it's its just me my no nor not " +
    "of off on once only or other our ours out over own same she should so some such than that that's the their theirs them then " +
    "there these they this those through to too under until up very was we we're were what when where which while who whom why " +
    "will with would you you're your yours yourself um uh uhm er ah oh okay ok yeah yes yep hi hello hey bye goodbye thanks thank " +
    "please sure right well like just really got get gonna wanna know mean so alright great good"
  ).split(" "),
);

const SIGNAL =
  /\?|\b(can|could|would|need|want|schedule|reschedule|cancel|book|move|call back|price|cost|quote|invoice|refund|appointment|deadline)\b|\b\d{1,2}(:\d{2})?\s?(am|pm)\b|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today|tonight|next week)\b|[$€£]\s?\d|\b\d+\b/i;

/** Speaker labels ("Agent:", "Caller 1:", "Dr Smith:") at a line's or a sentence's start are not content. */
const SPEAKER = /(^|(?<=[.!?]["')\]]?\s))\s*[A-Z][A-Za-z'-]{0,20}(?: [A-Z0-9][A-Za-z0-9'-]{0,20})?:\s+/gm;

export function splitSentences(text: string): string[] {
  const flat = text.replace(SPEAKER, "").replace(/\s+/g, " ").trim();
  if (!flat) return [];
  return (flat.match(/[^.!?]+(?:[.!?]+["')\]]*|$)/g) ?? []).map((s) => s.trim()).filter(Boolean);
}

const wordsOf = (s: string) => s.toLowerCase().match(/[a-z0-9\u00c0-\u024f']+/g) ?? [];
const contentWords = (s: string) => wordsOf(s).filter((w) => w.length > 2 && !STOP.has(w));

export function extractiveSummary(transcript: string): string | null {
  const sentences = splitSentences(transcript).filter((s) => wordsOf(s).length >= 4);
  if (!sentences.length) return null;
  const freq = new Map<string, number>();
  for (const s of sentences) for (const w of new Set(contentWords(s))) freq.set(w, (freq.get(w) ?? 0) + 1);
  const scored = sentences.map((text, index) => {
    const words = contentWords(text);
    const content = words.length ? words.reduce((sum, w) => sum + (freq.get(w) ?? 0), 0) / words.length + words.length / 10 : 0;
    const score = content * (SIGNAL.test(text) ? 1.5 : 1) * (index === 0 ? 1.25 : 1);
    return { text, index, score };
  });
  const ranked = [...scored].sort((a, b) => b.score - a.score || a.index - b.index);
  const chosen: typeof scored = [];
  let length = 0;
  for (const s of ranked) {
    if (chosen.length === SUMMARY_MAX_SENTENCES) break;
    const added = (chosen.length ? 1 : 0) + s.text.length;
    if (length + added > SUMMARY_MAX_CHARS) continue;
    chosen.push(s);
    length += added;
  }
  // Even the best sentence is too long: cut it at a word boundary.
  if (!chosen.length) {
    const cut = ranked[0].text.slice(0, SUMMARY_MAX_CHARS - 1);
    return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), 1)).trimEnd()}…`;
  }
  return chosen
    .sort((a, b) => a.index - b.index)
    .map((s) => s.text)
    .join(" ");
}
