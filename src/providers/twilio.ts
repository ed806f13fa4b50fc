import type { Bindings } from "../env";
import { notConfigured, refusal, type ProviderAdapter } from "./types";

/** Twilio Messages API: form-encoded, HTTP Basic with the account SID and auth token. */
export function twilioProvider(env: Pick<Bindings, "TWILIO_ACCOUNT_SID" | "TWILIO_AUTH_TOKEN" | "TWILIO_API_BASE">): ProviderAdapter {
  return {
    name: "twilio",
    async send(m) {
      const sid = env.TWILIO_ACCOUNT_SID;
      const token = env.TWILIO_AUTH_TOKEN;
      if (!sid || !token) return notConfigured("twilio");
      const form = new URLSearchParams({ To: m.to, From: m.from, Body: m.body });
      for (const media of m.media) form.append("MediaUrl", media.url);
      if (m.statusCallback) form.set("StatusCallback", m.statusCallback);
      const base = (env.TWILIO_API_BASE || "https://api.twilio.com").replace(/\/$/, "");
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
