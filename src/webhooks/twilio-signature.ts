// X-Twilio-Signature (SPEC 9): base64 HMAC-SHA1, keyed by the auth token, of the URL
// Twilio called followed by every POST parameter sorted by name, name then value.
import { constantTimeEqual, hmacKey } from "../lib/bytes";

const enc = new TextEncoder();

export async function twilioSignature(authToken: string, url: string, params: URLSearchParams) {
  const names = [...new Set(params.keys())].sort();
  let data = url;
  for (const name of names) for (const value of params.getAll(name)) data += name + value;
  const key = await hmacKey(authToken, "SHA-1", "sign");
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(data)));
  return btoa(String.fromCharCode(...mac));
}

/** The URL Twilio signed: PUBLIC_BASE_URL + the path and query as received. */
export function calledUrl(publicBaseUrl: string | undefined, requestUrl: string) {
  const u = new URL(requestUrl);
  const base = (publicBaseUrl || u.origin).replace(/\/$/, "");
  return `${base}${u.pathname}${u.search}`;
}

export async function verifyTwilio(authToken: string | undefined, url: string, params: URLSearchParams, signature: string | undefined) {
  if (!authToken || !signature) return false;
  return constantTimeEqual(await twilioSignature(authToken, url, params), signature);
}
