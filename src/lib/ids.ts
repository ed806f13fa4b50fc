import { hex } from "./bytes";

/** Random bytes drawn 4 KiB at a time (one getRandomValues call per 256 ids, not per id). */
const pool = new Uint8Array(4096);
let drawn = pool.length;

/** UUID v7: 48-bit millisecond timestamp, then random bits, so ids sort by creation time. */
export function uuidv7(now = Date.now()): string {
  if (drawn + 16 > pool.length) {
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

/**
 * UUID v7s of one instant that sort in the order drawn (RFC 9562, 6.2 method 2: rand_b of
 * the first is random, each next one a random step of 1–65,536 above the last): a group
 * commit draws its ids in arrival order with no sort and none drawn in vain.
 */
export function uuidv7Sequence(now = Date.now()): () => string {
  let b: Uint8Array | null = null;
  let randB = 0n;
  return () => {
    if (!b) {
      b = hexBytes(uuidv7(now));
      randB = BigInt(b[8] & 0x3f);
      for (let i = 9; i < 16; i++) randB = (randB << 8n) | BigInt(b[i]);
    } else {
      randB += BigInt(1 + ((randomByte() << 8) | randomByte()));
      // 2^62 values: a group of 500 uses 2^25 at most.
      if (randB >= 1n << 62n) throw new Error("uuidv7Sequence: rand_b exhausted");
      b[8] = 0x80 | Number((randB >> 56n) & 0x3fn);
      for (let i = 9; i < 16; i++) b[i] = Number((randB >> BigInt((15 - i) * 8)) & 0xffn);
    }
    const h = hex(b);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}

const randomByte = () => {
  if (drawn >= pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  return pool[drawn++];
};

const hexBytes = (uuid: string) => {
  const h = uuid.replaceAll("-", "");
  return Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(h.slice(i * 2, i * 2 + 2), 16));
};

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: unknown): s is string => typeof s === "string" && UUID_RE.test(s);
