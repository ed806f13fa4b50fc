import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";
import { invalid } from "./errors";
import { remember } from "./remember";

/** Inputs normalized lately (region + input → E.164 or null): a contact's number arrives again and again, and parsing it again cost a POST /activities about 2 % of its CPU. */
const recent = new Map<string, string | null>();
const RECENT_MAX = 10_000;

/** E.164 or null when the input cannot be a phone number. */
export function toE164(input: string, defaultRegion = "US"): string | null {
  const key = `${defaultRegion}\u0000${input}`;
  const known = recent.get(key);
  if (known !== undefined) return known;
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion as CountryCode);
  const e164 = parsed?.isValid() ? parsed.number : null;
  remember(recent, key, e164, RECENT_MAX);
  return e164;
}

export function requireE164(input: string, path: string, defaultRegion?: string): string {
  const e164 = toE164(input, defaultRegion);
  if (!e164) throw invalid(path, `"${input}" is not a valid phone number.`);
  return e164;
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();
