/** What an adapter needs to deliver one outbound message. */
export type OutboundMessage = {
  id: string;
  kind: "sms" | "email";
  from: string;
  to: string;
  body: string;
  subject?: string | null;
  html?: string | null;
  /** Signed links (sms; null when links cannot be signed) or the bytes themselves (email attachments). */
  media: { id: string; url: string | null; contentType: string; filename: string | null; load: () => Promise<ArrayBuffer | null> }[];
  statusCallback?: string;
};

/**
 * accepted: the provider took it (its id). retry: a network error, 429 or 5xx.
 * reject: any other refusal, final, with the provider's own code and message.
 */
export type SendOutcome =
  | { kind: "accepted"; providerMessageId: string }
  | { kind: "retry"; code: string; message: string }
  | { kind: "reject"; code: string; message: string };

export interface ProviderAdapter {
  readonly name: "twilio" | "postmark" | "log";
  send(message: OutboundMessage): Promise<SendOutcome>;
}

export const notConfigured = (provider: string): SendOutcome => ({
  kind: "reject",
  code: "provider_not_configured",
  message: `The ${provider} provider has no credentials on this server.`,
});

/** Maps an HTTP answer to retry or reject (SPEC 9: 429 and 5xx retry, other 4xx fail at once). */
export function refusal(status: number, code: string, message: string): SendOutcome {
  return status === 429 || status >= 500 ? { kind: "retry", code, message } : { kind: "reject", code, message };
}

/**
 * What a provider's API says about one message (the send sweep asks): found, absent (the
 * provider has no such message: it was never sent), or unreachable (no answer we can
 * trust now: network, 5xx, credentials; ask again on a later run).
 */
export type Lookup<T> = { kind: "found"; found: T } | { kind: "absent" } | { kind: "unreachable"; reason: string };

/** Runs a provider GET; network errors are `unreachable`. */
export async function providerGet(
  url: string,
  headers: Record<string, string>,
  // biome-ignore lint/suspicious/noExplicitAny: a provider's JSON, read field by field behind typeof checks
): Promise<{ res: Response; payload: any } | { kind: "unreachable"; reason: string }> {
  try {
    const res = await fetch(url, { headers: { accept: "application/json", ...headers } });
    return { res, payload: await res.json().catch(() => ({})) };
  } catch (e) {
    return { kind: "unreachable", reason: `network_error: ${String(e).slice(0, 200)}` };
  }
}
