import { type SettingsSource, settings } from "../config/settings";
import { type Lookup, notConfigured, type ProviderAdapter, providerGet, refusal } from "./types";

/** Twilio Messages API: form-encoded, HTTP Basic with the account SID and auth token. */
export function twilioProvider(env: SettingsSource): ProviderAdapter {
  return {
    name: "twilio",
    async send(m) {
      const { twilioAccountSid: sid, twilioAuthToken: token, twilioApiBase: base } = settings(env);
      if (!sid || !token) return notConfigured("twilio");
      // MMS media travel as links Twilio fetches; without a signing key there are none to give.
      if (m.media.some((x) => x.url === null)) {
        return {
          kind: "reject",
          code: "media_links_not_configured",
          message: "Media links cannot be signed on this server (MEDIA_URL_SECRET); nothing was sent.",
        };
      }
      const form = new URLSearchParams({ To: m.to, From: m.from, Body: m.body });
      for (const media of m.media) form.append("MediaUrl", media.url!);
      if (m.statusCallback) form.set("StatusCallback", m.statusCallback);
      let res: Response;
      try {
        res = await fetch(`${base}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`, {
          method: "POST",
          headers: { authorization: `Basic ${btoa(`${sid}:${token}`)}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
          body: form,
        });
      } catch (e) {
        return { kind: "retry", code: "network_error", message: String(e) };
      }
      const payload = (await res.json().catch(() => ({}))) as { sid?: string; code?: number | string; message?: string };
      if (res.ok && payload.sid) return { kind: "accepted", providerMessageId: payload.sid };
      return refusal(res.status, String(payload.code ?? res.status), payload.message ?? `Twilio answered ${res.status}`);
    },
  };
}

/** GET …/Messages/{sid}.json: the message's current status and error, 404 → absent. */
export async function lookupTwilioMessage(
  env: SettingsSource,
  messageSid: string,
): Promise<Lookup<{ status: string; errorCode: string | null; errorMessage: string | null }>> {
  const { twilioAccountSid: sid, twilioAuthToken: token, twilioApiBase: apiBase } = settings(env);
  if (!sid || !token) return { kind: "unreachable", reason: "provider_not_configured" };
  const got = await providerGet(`${apiBase}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages/${encodeURIComponent(messageSid)}.json`, {
    authorization: `Basic ${btoa(`${sid}:${token}`)}`,
  });
  if ("kind" in got) return got;
  const { res, payload } = got;
  if (res.status === 404) return { kind: "absent" };
  if (!res.ok || typeof payload.status !== "string") return { kind: "unreachable", reason: `twilio_${res.status}` };
  return {
    kind: "found",
    found: {
      status: payload.status.toLowerCase(),
      errorCode: payload.error_code == null ? null : String(payload.error_code),
      errorMessage: typeof payload.error_message === "string" ? payload.error_message : null,
    },
  };
}
