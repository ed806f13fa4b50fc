/** Training-pair labels (SPEC 8): how far the text a member sent is from the draft. */
export type PairLabel = "accepted" | "edited" | "rewritten";

/** Trimmed, with every run of whitespace collapsed to one space. */
export const normalize = (s: string) => s.trim().replace(/\s+/g, " ");

/** Edit distance over UTF-16 code units, two rows of memory. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let curr = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      curr[j] = Math.min(prev[j] + 1, curr[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length];
}

/** 1 − distance / longer length, on the normalized texts; two empty texts are identical. */
export function similarity(draft: string, sent: string): number {
  const a = normalize(draft);
  const b = normalize(sent);
  const longer = Math.max(a.length, b.length);
  return longer === 0 ? 1 : 1 - levenshtein(a, b) / longer;
}

export function labelPair(draft: string, sent: string): { label: PairLabel; similarity: number } {
  const s = similarity(draft, sent);
  const label = normalize(draft) === normalize(sent) ? "accepted" : s >= 0.5 ? "edited" : "rewritten";
  return { label, similarity: Math.round(s * 10_000) / 10_000 };
}
