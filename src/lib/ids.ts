import { hex } from "./bytes";

/** Random bytes drawn 4 KiB at a time (one getRandomValues call per 256 ids, not per id). */
const pool = new Uint8Array(4096);
let drawn = pool.length;

/** UUID v7: 48-bit millisecond timestamp, then random bits, so ids sort by creation time. */
export function uuidv7(now = Date.now()): string {
  if (drawn === pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  const b = pool.slice(drawn, drawn + 16);
  drawn += 16;
  let t = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: unknown): s is string => typeof s === "string" && UUID_RE.test(s);
