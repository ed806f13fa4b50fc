import { describe, expect, it } from "vitest";
import type { BusinessHours } from "../src/db/schema";
import { addBusinessMinutes, isTimeZone } from "../src/sla/business-time";

const nineToFive = (timezone: string, extra: Partial<BusinessHours["days"]> = {}): BusinessHours => ({
  timezone,
  days: {
    mon: [{ start: "09:00", end: "17:00" }],
    tue: [{ start: "09:00", end: "17:00" }],
    wed: [{ start: "09:00", end: "17:00" }],
    thu: [{ start: "09:00", end: "17:00" }],
    fri: [{ start: "09:00", end: "17:00" }],
    ...extra,
  },
});
const split = (timezone: string): BusinessHours => ({
  timezone,
  days: {
    mon: [
      { start: "09:00", end: "12:00" },
      { start: "13:00", end: "17:00" },
    ],
    tue: [
      { start: "09:00", end: "12:00" },
      { start: "13:00", end: "17:00" },
    ],
  },
});
const aroundTheClockSat: BusinessHours = { timezone: "UTC", days: { sat: [{ start: "00:00", end: "24:00" }] } };

// [case, hours, since (ISO, with offset), minutes, due (ISO UTC)]
const cases: [string, BusinessHours, string, number, string][] = [
  ["inside hours", nineToFive("America/New_York"), "2026-11-24T10:00:00-05:00", 60, "2026-11-24T16:00:00.000Z"],
  ["runs past closing into the next morning", nineToFive("America/New_York"), "2026-11-24T16:30:00-05:00", 60, "2026-11-25T14:30:00.000Z"],
  ["at night: due the target after opening", nineToFive("America/New_York"), "2026-11-24T22:00:00-05:00", 60, "2026-11-25T15:00:00.000Z"],
  ["before opening", nineToFive("America/New_York"), "2026-11-24T06:00:00-05:00", 30, "2026-11-24T14:30:00.000Z"],
  ["Friday evening → Monday", nineToFive("America/New_York"), "2026-11-27T18:00:00-05:00", 60, "2026-11-30T15:00:00.000Z"],
  ["Saturday → Monday", nineToFive("Europe/Berlin"), "2026-11-28T11:00:00+01:00", 120, "2026-11-30T10:00:00.000Z"],
  ["a lunch break is skipped", split("Europe/Berlin"), "2026-11-23T11:30:00+01:00", 60, "2026-11-23T12:30:00.000Z"],
  ["a full day and more", nineToFive("America/New_York"), "2026-11-24T09:00:00-05:00", 8 * 60 + 30, "2026-11-25T14:30:00.000Z"],
  // US DST ends Sun 2026-11-01: Friday 17:00 EDT (21:00Z) to Monday 09:00 EST (14:00Z).
  ["across the autumn DST change (US)", nineToFive("America/New_York"), "2026-10-30T16:30:00-04:00", 60, "2026-11-02T14:30:00.000Z"],
  // EU DST starts Sun 2026-03-29: Monday opens at 09:00 CEST = 07:00Z.
  ["across the spring DST change (EU)", nineToFive("Europe/Berlin"), "2026-03-27T16:00:00+01:00", 120, "2026-03-30T08:00:00.000Z"],
  // Hours that span the change itself: a Sunday open around the clock in New York on 2026-11-01 lasts 25 h.
  [
    "a 25-hour Sunday counts 25 hours",
    { timezone: "America/New_York", days: { sun: [{ start: "00:00", end: "24:00" }] } },
    "2026-11-01T00:00:00-04:00",
    25 * 60,
    "2026-11-02T05:00:00.000Z",
  ],
  ["24:00 closes at midnight", aroundTheClockSat, "2026-11-28T23:30:00Z", 60, "2026-12-05T00:30:00.000Z"],
  ["zero minutes inside hours is now", nineToFive("UTC"), "2026-11-24T10:00:00Z", 0, "2026-11-24T10:00:00.000Z"],
];

describe("addBusinessMinutes", () => {
  it.each(cases)("%s", (_name, hours, since, minutes, due) => {
    expect(new Date(addBusinessMinutes(Date.parse(since), minutes, hours)!).toISOString()).toBe(due);
  });

  it("is null when the hours never open", () => {
    expect(addBusinessMinutes(Date.now(), 60, { timezone: "UTC", days: {} })).toBeNull();
  });

  it("knows IANA zones from anything else", () => {
    expect(isTimeZone("America/New_York")).toBe(true);
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("Mars/Olympus_Mons")).toBe(false);
  });
});
