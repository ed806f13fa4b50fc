import { Webhook } from "standardwebhooks";
import type { WebhookEndpoint } from "../db/schema";

// Standard Webhooks signing (SPEC 18), with the `standardwebhooks` package: webhook-id,
// webhook-timestamp and webhook-signature `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
// During the 24 h after a rotation both secrets sign: the header carries both signatures,
// space-separated, as the specification allows, so a receiver verifies with either.

/** How long a rotated-out secret keeps signing. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** `whsec_` + base64 of 24 random bytes. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** The three headers of one delivery attempt of `body` to `endpoint`. */
export function signedHeaders(
  endpoint: Pick<WebhookEndpoint, "secret" | "previousSecret" | "previousSecretUntil">,
  deliveryId: string,
  body: string,
  at = new Date(),
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && (endpoint.previousSecretUntil ?? 0) > at.getTime()) secrets.push(endpoint.previousSecret);
  return {
    "webhook-id": deliveryId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(deliveryId, at, body)).join(" "),
  };
}
