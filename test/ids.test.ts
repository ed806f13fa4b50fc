import { describe, expect, it } from "vitest";
import { UUID_RE, uuidv7, uuidv7Sequence } from "../src/lib/ids";

describe("ids", () => {
  it("uuidv7Sequence draws valid v7 ids of one instant, each above the last, none twice", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    const next = uuidv7Sequence(now);
    const ids = Array.from({ length: 5_000 }, () => next());
    const stamp = now.toString(16).padStart(12, "0");
    for (const id of ids) {
      expect(id).toMatch(UUID_RE);
      expect(id.replaceAll("-", "").slice(0, 12)).toBe(stamp);
      expect(id[14]).toBe("7"); // version
      expect("89ab").toContain(id[19]); // variant 10
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("uuidv7 ids are unique and carry their millisecond, also drawn between sequences (which take the shared random bytes one at a time)", () => {
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      ids.push(uuidv7(1_700_000_000_000));
      if (i % 7 === 0) uuidv7Sequence(1_700_000_000_000)();
      if (i % 11 === 0) {
        const next = uuidv7Sequence(1_700_000_000_000);
        next();
        next();
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.startsWith("018bcfe5-6800-7"))).toBe(true);
  });
});
