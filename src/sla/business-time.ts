import type { BusinessHours } from "../db/schema";

// Business-time arithmetic in the org's IANA zone, DST-correct: local opening hours
// are turned into UTC instants day by day, so a 23- or 25-hour day counts right.

export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(tz: string) {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

type Local = { y: number; m: number; d: number; hh: number; mm: number; ss: number; weekday: Weekday };

function localParts(utcMs: number, timeZone: string): Local {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(utcMs))
      .map((p) => [p.type, p.value]),
  );
  return {
    y: Number(parts.year),
    m: Number(parts.month),
    d: Number(parts.day),
    hh: Number(parts.hour),
    mm: Number(parts.minute),
    ss: Number(parts.second),
    weekday: parts.weekday.toLowerCase().slice(0, 3) as Weekday,
  };
}

/** Offset of the zone at an instant: local wall clock minus UTC, in ms. */
function offsetAt(utcMs: number, timeZone: string) {
  const l = localParts(utcMs, timeZone);
  return Date.UTC(l.y, l.m - 1, l.d, l.hh, l.mm, l.ss) - Math.floor(utcMs / 1000) * 1000;
}

/** The UTC instant of a local wall time (a time skipped by DST lands just after the gap). */
export function zonedToUtc(y: number, m: number, d: number, minutes: number, timeZone: string) {
  const wall = Date.UTC(y, m - 1, d) + minutes * 60_000;
  let utc = wall - offsetAt(wall, timeZone);
  const again = wall - offsetAt(utc, timeZone);
  if (again !== utc) utc = Math.max(utc, again);
  return utc;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * `since` plus `minutes` counted only inside the opening hours. Null when the
 * hours never open (no periods at all).
 */
export function addBusinessMinutes(since: number, minutes: number, hours: BusinessHours): number | null {
  const anyOpen = Object.values(hours.days).some((p) => p && p.length > 0);
  if (!anyOpen) return null;
  let remaining = minutes * 60_000;
  let cursor = since;
  // Walk local calendar days from the day `since` falls on; a week always has an open period.
  const start = localParts(since, hours.timezone);
  for (let day = 0; day < 366 * 20; day++) {
    const date = new Date(Date.UTC(start.y, start.m - 1, start.d + day));
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    const weekday = WEEKDAYS[date.getUTCDay()];
    for (const period of hours.days[weekday] ?? []) {
      const open = zonedToUtc(y, m, d, toMinutes(period.start), hours.timezone);
      const close = zonedToUtc(y, m, d, toMinutes(period.end), hours.timezone);
      if (close <= cursor) continue;
      const from = Math.max(open, cursor);
      if (close - from >= remaining) return from + remaining;
      remaining -= close - from;
      cursor = close;
    }
  }
  return null;
}
