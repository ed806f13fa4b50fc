import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iso, isoOrNull } from "../src/lib/time";

// src/lib/time.ts writes ISO-8601 by arithmetic; Date is the reference it must match.

describe("iso", () => {
  it("writes what Date#toISOString writes, for any time (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => {
        expect(iso(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 2000 },
    );
    // Around now, where the API's times are: the ms, the day and the year boundaries.
    fc.assert(
      fc.property(fc.integer({ min: 1_500_000_000_000, max: 2_500_000_000_000 }), (ms) => {
        expect(iso(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20000 },
    );
    // The stored range, densely: 1970 to 9999.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(iso(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20000 },
    );
  });

  it("gets the edges right: leap days, century years, the last ms of a year, the epoch, year 10000, fractions", () => {
    const edges = [
      0,
      1,
      -1,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2000, 2, 1),
      Date.UTC(1900 + 200, 1, 28, 12),
      Date.UTC(2100, 2, 1),
      Date.UTC(2024, 11, 31, 23, 59, 59, 999),
      Date.UTC(2025, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      1_732_800_000_000.5,
    ];
    for (const ms of edges) expect(iso(ms), String(ms)).toBe(new Date(ms).toISOString());
    expect(iso(Date.UTC(2000, 1, 29, 23, 59, 59, 999))).toBe("2000-02-29T23:59:59.999Z");
    expect(iso(-0)).toBe("1970-01-01T00:00:00.000Z");
    // What Date refuses, iso refuses the same way.
    expect(() => iso(Number.NaN)).toThrow(RangeError);
    expect(() => iso(8_640_000_000_000_001)).toThrow(RangeError);
    expect(isoOrNull(null)).toBeNull();
    expect(isoOrNull(undefined)).toBeNull();
    expect(isoOrNull(0)).toBe("1970-01-01T00:00:00.000Z");
  });
});
