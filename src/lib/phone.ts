import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";
import { invalid } from "./errors";

/** E.164 or null when the input cannot be a phone number. */
export function toE164(input: string, defaultRegion = "US"): string | null {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion as CountryCode);
  return parsed?.isValid() ? parsed.number : null;
}

export function requireE164(input: string, path: string, defaultRegion?: string): string {
  const e164 = toE164(input, defaultRegion);
  if (!e164) throw invalid(path, `"${input}" is not a valid phone number.`);
  return e164;
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();
