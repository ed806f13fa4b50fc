import type { z } from "@hono/zod-openapi";
import { settings } from "../config/settings";
import { toMessage } from "../conversations/present";
import type { AppRouteHandler } from "../env";
import { invalid } from "../lib/errors";
import { normalizeEmail, requireE164 } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import type { IngestInput } from "../org-inbox/ingest";
import type * as routes from "./activities.routes";
import type { IngestBody } from "./activities.routes";

type Body = z.infer<typeof IngestBody>;

/** API body → the ingest input every path shares: addresses normalized, status derived. */
export function toIngestInput(b: Body, region: string | undefined, authorId: string): IngestInput {
  const contact =
    "id" in b.contact
      ? { id: b.contact.id.toLowerCase() }
      : "phone" in b.contact
        ? { phone: requireE164(b.contact.phone, "contact.phone", region), name: b.contact.name }
        : { email: normalizeEmail(b.contact.email), name: b.contact.name };
  const address = (v: string | null | undefined, path: string) => {
    if (!v) return null;
    if (b.type === "sms" || b.type === "call") return requireE164(v, path, region);
    if (b.type === "email") return normalizeEmail(v);
    return v;
  };
  const occurredAt = b.occurred_at ? Date.parse(b.occurred_at) : Date.now();
  if (!Number.isFinite(occurredAt)) throw invalid("occurred_at", "occurred_at is not a valid time");
  const direction = b.type === "note" ? null : b.direction!;
  return {
    contact,
    type: b.type,
    direction,
    status: b.type === "note" ? "logged" : b.type === "call" ? b.call!.status : direction === "inbound" ? "received" : "sent",
    body: b.body,
    subject: b.subject,
    html: b.html,
    from: address(b.from, "from"),
    to: address(b.to, "to"),
    provider: b.provider,
    providerMessageId: b.provider_message_id,
    occurredAt,
    call: b.call
      ? { durationSeconds: b.call.duration_seconds, recordingUrl: b.call.recording_url, transcript: b.call.transcript, summary: b.call.summary }
      : null,
    mediaIds: (b.media_ids ?? []).map((id) => id.toLowerCase()),
    authorId: b.type === "note" || direction === "outbound" ? authorId : null,
  };
}

export const ingestActivity: AppRouteHandler<typeof routes.ingestActivity> = async (c) => {
  const orgId = c.get("orgId");
  const input = toIngestInput(c.req.valid("json"), settings(c.env).defaultPhoneRegion, c.get("userId"));
  const result = await inbox(c.env, orgId).ingest(input);
  const media = new Map(result.media.map((m) => [m.id, m]));
  const message = await toMessage(c.env, result.activity, media);
  return c.json({ message, duplicate: result.duplicate }, result.duplicate ? 200 : 201);
};
