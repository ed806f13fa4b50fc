// Bytes and their comparisons; nothing of the domain.
import { remember } from "./remember";

const enc = new TextEncoder();

/** Lowercase hex, two digits a byte. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export const hex = (bytes: ArrayBuffer | Uint8Array) => {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += HEX[b];
  return out;
};

/** SHA-256 of bytes, or of text as UTF-8, in hex. */
export async function sha256Hex(data: ArrayBuffer | ArrayBufferView | string) {
  return hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? enc.encode(data) : data));
}

/** Whether two strings are equal, in time that depends on their lengths only (secrets, signatures). */
export function constantTimeEqual(a: string, b: string) {
  const x = enc.encode(a);
  const y = enc.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Imported HMAC keys, by hash, use and secret: a secret is imported once per isolate, not per request (a rotated one imports its own). */
const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of `secret` for `hash` and `use`, imported once; a failed import is not kept, so the next call tries again. */
export function hmacKey(secret: string, hash: "SHA-1" | "SHA-256", use: "sign" | "verify"): Promise<CryptoKey> {
  const id = `${hash}\u0000${use}\u0000${secret}`;
  const known = hmacKeys.get(id);
  if (known) return known;
  const key = crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash }, false, [use]);
  remember(hmacKeys, id, key, 100);
  key.catch(() => {
    if (hmacKeys.get(id) === key) hmacKeys.delete(id);
  });
  return key;
}
