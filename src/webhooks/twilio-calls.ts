import { and, eq, gt, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { settings } from "../config/settings";
import type { Db } from "../db/client";
import { activities, unroutableEvents } from "../db/schema";
import { controlDb, findInShards, routeOf } from "../db/shards";
import type { AppEnv, Bindings } from "../env";
import { toE164 } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import type { CallDetails } from "../org-inbox/calls";
import { log } from "../lib/log";
import { isDisplayUrl } from "../lib/schemas";
import { copyInboundMedia, derivedMediaId, registerInboundMedia } from "./inbound-media";
import { keepUnroutable } from "./unroutable";

/** How long a recording or transcription that beat its call waits for it. */
export const EARLY_CALLBACK_WAIT_MS = 24 * 3_600_000;

const FINAL_CALL_STATUSES = ["completed", "no-answer", "busy", "failed", "canceled"] as const;
type CallStatus = (typeof FINAL_CALL_STATUSES)[number];

const directionOf = (d: string | null) => (d === "inbound" ? "inbound" : d?.startsWith("outbound") ? "outbound" : null);

/** What a status, recording or transcription callback adds to its call (`d`: the org's shard); written by OrgInbox, which announces it. */
async function applyDetails(env: Bindings, d: Db, call: { id: string; orgId: string }, p: URLSearchParams, waitUntil: (p: Promise<unknown>) => void) {
  const details: CallDetails = {};
  const callDuration = Number(p.get("CallDuration"));
  if (Number.isFinite(callDuration) && callDuration > 0) details.callDurationSeconds = Math.round(callDuration);
  const recordingUrl = p.get("RecordingUrl");
  if (recordingUrl && !isDisplayUrl(recordingUrl)) {
    // Only https is stored for display (an inbox app renders it as a link).
    log("warn", "recording_url_refused", { org_id: call.orgId, activity_id: call.id });
  } else if (recordingUrl) {
    details.recordingUrl = recordingUrl;
    const recordingDuration = Number(p.get("RecordingDuration"));
    if (Number.isFinite(recordingDuration) && recordingDuration > 0) details.recordingDurationSeconds = Math.round(recordingDuration);
    // The provider's URL until our R2 copy exists; then a signed link to the copy.
    const id = await derivedMediaId(call.orgId, "twilio-recording", p.get("RecordingSid") ?? recordingUrl);
    const item = { id, url: /\.(mp3|wav)$/i.test(recordingUrl) ? recordingUrl : `${recordingUrl}.mp3`, contentType: "audio/mpeg" };
    await registerInboundMedia(d, call.orgId, [item]);
    details.recordingMediaId = id;
    waitUntil(copyInboundMedia(env, d, call.orgId, item));
  }
  const transcript = p.get("TranscriptionText");
  if (transcript && (p.get("TranscriptionStatus") ?? "completed") === "completed") details.transcript = transcript;
  if (!Object.keys(details).length) return;
  await inbox(env, call.orgId).applyCallDetails(call.id, details);
}

/**
 * POST /webhooks/twilio/calls: status, recording and transcription callbacks, all
 * keyed by CallSid into one call activity, whatever order they arrive in.
 */
export async function callCallback(c: Context<AppEnv>, params: URLSearchParams) {
  const payload = Object.fromEntries(params);
  const callSid = params.get("CallSid");
  if (!callSid) {
    await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "invalid_payload", payload });
    return;
  }
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  // A CallSid names no org: every shard is asked (src/db/shards.ts findInShards).
  const known = await findInShards(c.env, (d) =>
    d
      .select({ id: activities.id, orgId: activities.orgId })
      .from(activities)
      .where(and(eq(activities.provider, "twilio"), eq(activities.providerMessageId, callSid), eq(activities.type, "call")))
      .all(),
  );
  const status = params.get("CallStatus") as CallStatus | null;

  if (!known.length && status && (FINAL_CALL_STATUSES as readonly string[]).includes(status)) {
    const direction = directionOf(params.get("Direction"));
    const region = settings(c.env).defaultPhoneRegion;
    const from = toE164(params.get("From") ?? "", region);
    const to = toE164(params.get("To") ?? "", region);
    const ours = direction === "inbound" ? to : from;
    const theirs = direction === "inbound" ? from : to;
    const channel = ours ? await routeOf(c.env, "sms", ours) : null;
    if (!direction || !theirs || !channel) {
      await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: channel ? "invalid_payload" : "unknown_address", payload });
      return;
    }
    const answer = await inbox(c.env, channel.orgId).answer.ingest({
      contact: { phone: theirs },
      type: "call",
      direction,
      status,
      from,
      to,
      provider: "twilio",
      providerMessageId: callSid,
      occurredAt: Date.now(),
      call: { durationSeconds: Number(params.get("CallDuration") ?? "0") || 0 },
      mediaIds: [],
    });
    if ("error" in answer) {
      await keepUnroutable(c.env, { orgId: channel.orgId, provider: "twilio", reason: `refused: ${answer.error.code}`, payload });
      return;
    }
    const call = { id: answer.ok.activity.id, orgId: channel.orgId };
    await applyDetails(c.env, channel.db, call, params, waitUntil);
    // Callbacks that came before the call itself now have somewhere to go. They were kept
    // with no org (none was known), so in the control database.
    const control = controlDb(c.env);
    const waiting = await control
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
      await applyDetails(c.env, channel.db, call, new URLSearchParams(early.payload as Record<string, string>), waitUntil);
      await control.update(unroutableEvents).set({ resolvedAt: Date.now() }).where(eq(unroutableEvents.id, early.id));
    }
    return;
  }
  if (known.length) {
    for (const call of known) await applyDetails(c.env, call.db, call, params, waitUntil);
    return;
  }
  // Not a final status, and the call is not known yet: keep it until the call arrives.
  if (params.get("RecordingUrl") || params.get("TranscriptionText")) {
    await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "call_not_yet_known", payload, waitingFor: callSid });
  }
}
