import { describe, expect, it } from "vitest";
import { labelPair, levenshtein, normalize, similarity } from "../src/setter/similarity";
import { extractiveSummary, SUMMARY_MAX_CHARS, splitSentences } from "../src/setter/summarize";

describe("training-pair labels (SPEC 8)", () => {
  it.each([
    ["identical", "See you Tuesday at 2pm!", "See you Tuesday at 2pm!", "accepted"],
    ["whitespace only", "  See you   Tuesday\nat 2pm! ", "See you Tuesday at 2pm!", "accepted"],
    ["a word changed", "See you Tuesday at 2pm!", "See you Wednesday at 2pm!", "edited"],
    ["words added", "Yes, Tuesday at 2pm works.", "Yes, Tuesday at 2pm works for us!", "edited"],
    ["a long sentence added", "Yes, Tuesday at 2pm works.", "Yes, Tuesday at 2pm works. Bring your insurance card.", "rewritten"],
    ["case differs", "see you tuesday", "See you Tuesday", "edited"],
    ["rewritten", "Tuesday works, see you then!", "Sorry, we are fully booked this week. Can I call you Monday?", "rewritten"],
    ["nothing in common", "abc", "xyz", "rewritten"],
  ] as const)("%s → %s", (_name, draft, sent, label) => {
    expect(labelPair(draft, sent).label).toBe(label);
  });

  it("similarity is 1 − distance / longer length on the normalized texts", () => {
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(levenshtein("", "abc")).toBe(3);
    expect(similarity("kitten", "sitting")).toBeCloseTo(1 - 3 / 7, 10);
    expect(similarity(" a  b ", "a b")).toBe(1);
    expect(normalize("  a \n\t b ")).toBe("a b");
    // Exactly half: edited, not rewritten (≥ 0.5).
    expect(similarity("abcd", "abxy")).toBe(0.5);
    expect(labelPair("abcd", "abxy")).toEqual({ label: "edited", similarity: 0.5 });
    expect(labelPair("abcd", "axyz").label).toBe("rewritten");
  });
});

const transcripts = {
  reschedule:
    "Agent: Thanks for calling Bright Smile Dental, this is Sam.\n" +
    "Caller: Hi Sam, this is Maria Lopez. I have a cleaning booked for Thursday at 10am but I need to move it.\n" +
    "Agent: No problem. What day works better for you?\n" +
    "Caller: Could we do Tuesday afternoon, maybe around 2:30pm?\n" +
    "Agent: Tuesday at 2:30pm is open. I'll move your cleaning there and text you a confirmation.\n" +
    "Caller: Perfect, thank you so much.\n" +
    "Agent: You're welcome, bye.",
  quote:
    "Hello, I'm calling about the roof repair quote you sent last week. The quote was $4,200 and I wanted to know if that includes removing the old shingles. " +
    "Also, my neighbor said you offer a discount for paying upfront. If so, I'd like to schedule the work for next week. " +
    "You can reach me at this number any time after 5pm. Okay, thanks, bye.",
  short: "Hi. Okay. Bye.",
  long: "So basically the thing is that we have been trying to get the warehouse inventory system to sync with the online store for the past three months and every single time the nightly export runs it duplicates about two hundred product listings which then show up as out of stock for customers in the morning and our support team has to manually fix each of them before nine which takes most of the morning and nobody can figure out whether the problem is the export job itself or the import on the store side or something in between like the mapping spreadsheet that someone set up years ago and never documented",
};

describe("extractive call summary", () => {
  it.each(Object.entries(transcripts).filter(([k]) => k !== "short"))(
    "%s: at most 3 sentences and 400 chars, all from the transcript, stable",
    (_name, transcript) => {
      const summary = extractiveSummary(transcript)!;
      expect(summary).toBeTruthy();
      expect(summary.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
      const sentences = splitSentences(summary);
      expect(sentences.length).toBeLessThanOrEqual(3);
      const flat = transcript.replace(/\s+/g, " ");
      for (const s of sentences) expect(flat).toContain(s.replace(/…$/, ""));
      expect(extractiveSummary(transcript)).toBe(summary);
    },
  );

  it("keeps what a follow-up needs and drops the pleasantries", () => {
    expect(extractiveSummary(transcripts.reschedule)).toBe(
      "I have a cleaning booked for Thursday at 10am but I need to move it. Could we do Tuesday afternoon, maybe around 2:30pm? Tuesday at 2:30pm is open.",
    );
    const quote = extractiveSummary(transcripts.quote)!;
    expect(quote).toContain("$4,200");
    expect(quote).not.toMatch(/thanks, bye/i);
  });

  it("a transcript of pleasantries has no summary; an endless sentence is cut at a word", () => {
    expect(extractiveSummary(transcripts.short)).toBeNull();
    expect(extractiveSummary("")).toBeNull();
    const cut = extractiveSummary(transcripts.long)!;
    expect(cut.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(cut.endsWith("…")).toBe(true);
    expect(transcripts.long.startsWith(cut.slice(0, -1))).toBe(true);
  });
});
