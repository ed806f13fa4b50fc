import { type SettingsSource, settings } from "../config/settings";
import { type Lookup, notConfigured, type ProviderAdapter, providerGet, refusal } from "./types";

const base64 = (buf: ArrayBuffer) => {
  let s = "";
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

/** Postmark /email with the server token; attachments travel base64 from R2. */
export function postmarkProvider(env: SettingsSource): ProviderAdapter {
  return {
    name: "postmark",
    async send(m) {
      const { postmarkServerToken: token, postmarkApiBase: apiBase } = settings(env);
      if (!token) return notConfigured("postmark");
      const attachments = [];
      for (const media of m.media) {
        const bytes = await media.load();
        if (!bytes) return { kind: "reject", code: "media_missing", message: `Media ${media.id} is not stored.` };
        attachments.push({ Name: media.filename ?? media.id, Content: base64(bytes), ContentType: media.contentType });
      }
      const body = {
        From: m.from,
        To: m.to,
        Subject: m.subject ?? "",
        TextBody: m.body,
        ...(m.html ? { HtmlBody: m.html } : {}),
        MessageStream: "outbound",
        Metadata: { message_id: m.id },
        ...(attachments.length ? { Attachments: attachments } : {}),
      };
      let res: Response;
      try {
        res = await fetch(`${apiBase}/email`, {
          method: "POST",
          headers: { "x-postmark-server-token": token, "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify(body),
        });
      } catch (e) {
        return { kind: "retry", code: "network_error", message: String(e) };
      }
      const payload = (await res.json().catch(() => ({}))) as { MessageID?: string; ErrorCode?: number; Message?: string };
      if (res.ok && payload.MessageID && !payload.ErrorCode) return { kind: "accepted", providerMessageId: payload.MessageID };
      return refusal(res.status, String(payload.ErrorCode ?? res.status), payload.Message ?? `Postmark answered ${res.status}`);
    },
  };
}

// Postmark answers an unknown message id with 422 and ErrorCode 701 (some endpoints 404).
const notFound = (res: Response, payload: { ErrorCode?: unknown } | null) => res.status === 404 || (res.status === 422 && payload?.ErrorCode === 701);

/** GET /messages/outbound/{id}/details: Status and MessageEvents (Delivered, Bounced, …). */
export async function lookupPostmarkMessage(
  env: SettingsSource,
  messageId: string,
): Promise<Lookup<{ status: string; events: { Type?: string; Details?: Record<string, unknown> }[] }>> {
  const { postmarkServerToken: token, postmarkApiBase: apiBase } = settings(env);
  if (!token) return { kind: "unreachable", reason: "provider_not_configured" };
  const got = await providerGet(`${apiBase}/messages/outbound/${encodeURIComponent(messageId)}/details`, { "x-postmark-server-token": token });
  if ("kind" in got) return got;
  const { res, payload } = got;
  if (notFound(res, payload)) return { kind: "absent" };
  if (!res.ok || typeof payload.Status !== "string") return { kind: "unreachable", reason: `postmark_${res.status}` };
  return { kind: "found", found: { status: payload.Status, events: Array.isArray(payload.MessageEvents) ? payload.MessageEvents : [] } };
}

/** Our message id rides in Metadata on every send: Postmark's id for it, if Postmark has it. */
export async function findPostmarkMessage(env: SettingsSource, ourId: string): Promise<Lookup<{ messageId: string }>> {
  const { postmarkServerToken: token, postmarkApiBase: apiBase } = settings(env);
  if (!token) return { kind: "unreachable", reason: "provider_not_configured" };
  const query = new URLSearchParams({ count: "1", offset: "0", metadata_message_id: ourId });
  const got = await providerGet(`${apiBase}/messages/outbound?${query}`, { "x-postmark-server-token": token });
  if ("kind" in got) return got;
  const { res, payload } = got;
  if (!res.ok || !Array.isArray(payload.Messages)) return { kind: "unreachable", reason: `postmark_${res.status}` };
  const found = (payload.Messages as { MessageID?: unknown }[]).find((m) => typeof m?.MessageID === "string") as { MessageID: string } | undefined;
  return found ? { kind: "found", found: { messageId: found.MessageID } } : { kind: "absent" };
}
