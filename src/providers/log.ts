import { log } from "../lib/log";
import type { ProviderAdapter } from "./types";

/** Sends nothing over the network: the local default and the demo org's channels. */
export const logProvider: ProviderAdapter = {
  name: "log",
  async send(m) {
    const providerMessageId = `log-${crypto.randomUUID()}`;
    log("info", "log_provider_send", { message_id: m.id, kind: m.kind, from: m.from, to: m.to, media: m.media.length, provider_message_id: providerMessageId });
    return { kind: "accepted", providerMessageId };
  },
};
