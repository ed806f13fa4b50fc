import type { Bindings } from "../env";
import { logProvider } from "./log";
import { postmarkProvider } from "./postmark";
import { twilioProvider } from "./twilio";
import type { ProviderAdapter } from "./types";

/** The adapter a channel names (SPEC 1: each channel sends through its own provider). */
export function providerFor(name: string, env: Bindings): ProviderAdapter {
  switch (name) {
    case "twilio":
      return twilioProvider(env);
    case "postmark":
      return postmarkProvider(env);
    default:
      return logProvider;
  }
}
