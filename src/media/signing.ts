// Signed media links (SPEC 5): GET /media/{id}?exp=&sig= with sig = HMAC-SHA256(id.exp).
import { mediaSecret } from "../config/secrets";
import { settings } from "../config/settings";
import { constantTimeEqual, hex, hmacKey } from "../lib/bytes";

const enc = new TextEncoder();

async function hmac(secret: string, data: string) {
  const key = await hmacKey(secret, "SHA-256", "sign");
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(data)));
}

export const MEDIA_LINK_TTL_SECONDS = 7 * 24 * 3600;

/** A signed link, or null when MEDIA_URL_SECRET is missing or short: nothing is ever signed with a weak key. */
export async function signedMediaUrl(
  env: { PUBLIC_BASE_URL?: string; MEDIA_URL_SECRET?: string },
  mediaId: string,
  ttl = MEDIA_LINK_TTL_SECONDS,
  now = Date.now(),
) {
  const secret = mediaSecret(env);
  if (secret === null) return null;
  const exp = Math.floor(now / 1000) + ttl;
  const sig = await hmac(secret, `${mediaId}.${exp}`);
  return `${settings(env).publicBaseUrl ?? ""}/media/${mediaId}?exp=${exp}&sig=${sig}`;
}

/** Constant-time check of a link's signature and expiry. */
export async function verifyMediaSignature(secret: string, mediaId: string, exp: string, sig: string, now = Date.now()) {
  if (!/^\d{1,12}$/.test(exp) || Number(exp) * 1000 < now) return false;
  return constantTimeEqual(await hmac(secret, `${mediaId}.${exp}`), sig);
}
