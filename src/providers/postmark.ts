import type { Bindings } from "../env";
import { notConfigured, refusal, type ProviderAdapter } from "./types";

const base64 = (buf: ArrayBuffer) => {
  let s = "";
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

/** Postmark /email with the server token; attachments travel base64 from R2. */
export function postmarkProvider(env: Pick<Bindings, "POSTMARK_SERVER_TOKEN" | "POSTMARK_API_BASE">): ProviderAdapter {
  return {
    name: "postmark",
    async send(m) {
      const token = env.POSTMARK_SERVER_TOKEN;
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
      const apiBase = (env.POSTMARK_API_BASE || "https://api.postmarkapp.com").replace(/\/$/, "");
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
