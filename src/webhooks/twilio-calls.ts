import { and, eq, gt, isNull } from "drizzle-orm";
import { z } from "zod";
import { settings } from "../config/settings";
import { activities, unroutableEvents } from "../db/schema";
import { findInShards } from "../db/shards";
import { log } from "../lib/log";
import { toE164 } from "../lib/phone";
import { isDisplayUrl } from "../lib/schemas";
import type { CallDetails } from "../org-inbox/calls";
import { inbox } from "../org-inbox/client";
import { copyInboundMedia, derivedMediaId, registerInboundMedia } from "./inbound-media";
import type { Hook, WebhookAdapter } from "./pipeline";
import { twilio, twilioParams } from "./twilio";

/** How long a recording or transcription that beat its call waits for it. */
export const EARLY_CALLBACK_WAIT_MS = 24 * 3_600_000;

const FINAL_CALL_STATUSES = ["completed", "no-answer", "busy", "failed", "canceled"] as const;
type CallStatus = (typeof FINAL_CALL_STATUSES)[number];
const isFinal = (s: string | undefined): s is CallStatus => (FINAL_CALL_STATUSES as readonly (string | undefined)[]).includes(s);

const directionOf = (direction: string | undefined) => (direction === "inbound" ? "inbound" : direction?.startsWith("outbound") ? "outbound" : null);

/** What a status, recording or transcription callback adds to its call (the hook is routed to its org's shard); written by OrgInbox, which announces it. */
async function applyDetails(hook: Hook, call: { id: string; orgId: string }, p: Record<string, string | undefined>) {
  const details: CallDetails = {};
  const callDuration = Number(p.CallDuration);
  if (Number.isFinite(callDuration) && callDuration > 0) details.callDurationSeconds = Math.round(callDuration);
  const recordingUrl = p.RecordingUrl;
  if (recordingUrl && !isDisplayUrl(recordingUrl)) {
    // Only https is stored for display (an inbox app renders it as a link).
    log("warn", "recording_url_refused", { org_id: call.orgId, activity_id: call.id });
  } else if (recordingUrl) {
    details.recordingUrl = recordingUrl;
    const recordingDuration = Number(p.RecordingDuration);
    if (Number.isFinite(recordingDuration) && recordingDuration > 0) details.recordingDurationSeconds = Math.round(recordingDuration);
    // The provider's URL until our R2 copy exists; then a signed link to the copy.
    const id = await derivedMediaId(call.orgId, "twilio-recording", p.RecordingSid ?? recordingUrl);
    const item = { id, url: /\.(mp3|wav)$/i.test(recordingUrl) ? recordingUrl : `${recordingUrl}.mp3`, contentType: "audio/mpeg" };
    await registerInboundMedia(hook.env, hook.db, call.orgId, [item]);
    details.recordingMediaId = id;
    hook.waitUntil(copyInboundMedia(hook.env, hook.db, call.orgId, { ...item, activityId: call.id }));
  }
  const transcript = p.TranscriptionText;
  if (transcript && (p.TranscriptionStatus ?? "completed") === "completed") details.transcript = transcript;
  if (!Object.keys(details).length) return;
  await inbox(hook.env, call.orgId).applyCallDetails(call.id, details);
}

// Every callback names its call; what else it carries (status, recording, transcript) is read by applyDetails.
const callCallback = (_region: string) => twilioParams({ CallSid: z.string().min(1) });

/**
 * POST /webhooks/twilio/calls: status, recording and transcription callbacks, all keyed by
 * CallSid into one call activity, whatever order they arrive in. Only a final status creates
 * the call (through OrgInbox's ingest); a recording or transcription before it waits for it.
 */
export const twilioCalls: WebhookAdapter<ReturnType<typeof callCallback>> = {
  ...twilio,
  payload: callCallback,
  async apply(hook, p) {
    const callSid = p.CallSid;
    // A CallSid names no org: every shard is asked (src/db/shards.ts findInShards).
    const known = await findInShards(hook.env, (db) =>
      db
        .select({ id: activities.id, orgId: activities.orgId })
        .from(activities)
        .where(and(eq(activities.provider, "twilio"), eq(activities.providerMessageId, callSid), eq(activities.type, "call")))
        .all(),
    );
    if (known.length) {
      for (const call of known) {
        hook.found(call.orgId, call.db);
        await applyDetails(hook, call, p);
      }
      return;
    }
    if (!isFinal(p.CallStatus)) {
      // Not a final status, and the call is not known yet: keep it until the call arrives.
      if (p.RecordingUrl || p.TranscriptionText) return { reason: "call_not_yet_known", waitingFor: callSid };
      return;
    }
    const direction = directionOf(p.Direction);
    const region = settings(hook.env).defaultPhoneRegion;
    const from = toE164(p.From ?? "", region);
    const to = toE164(p.To ?? "", region);
    const orgId = await hook.route("sms", direction === "inbound" ? to : from);
    const theirs = direction === "inbound" ? from : to;
    if (!orgId) return { reason: "unknown_address" };
    if (!direction || !theirs) return { reason: "invalid_payload", orgId: null };
    const answer = await inbox(hook.env, orgId).answer.ingest({
      contact: { phone: theirs },
      type: "call",
      direction,
      status: p.CallStatus,
      from,
      to,
      provider: "twilio",
      providerMessageId: callSid,
      occurredAt: Date.now(),
      call: { durationSeconds: Number(p.CallDuration ?? "0") || 0 },
      mediaIds: [],
    });
    if ("error" in answer) return { reason: `refused: ${answer.error.code}` };
    const call = { id: answer.ok.activity.id, orgId };
    await applyDetails(hook, call, p);
    // Callbacks that came before the call itself now have somewhere to go. They were kept
    // with no org (none was known then), so in the control database.
    const waiting = await hook.control
      .select()
      .from(unroutableEvents)
      .where(
        and(
          eq(unroutableEvents.provider, "twilio"),
          eq(unroutableEvents.waitingFor, callSid),
          isNull(unroutableEvents.resolvedAt),
          // SPEC 13: early callbacks wait 24 h; older ones stay unroutable for the operator.
          gt(unroutableEvents.receivedAt, Date.now() - EARLY_CALLBACK_WAIT_MS),
        ),
      )
      .all();
    for (const early of waiting) {
      await applyDetails(hook, call, early.payload as Record<string, string>);
      await hook.control.update(unroutableEvents).set({ resolvedAt: Date.now() }).where(eq(unroutableEvents.id, early.id));
    }
  },
};
