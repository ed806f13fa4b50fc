import type { Context } from "hono";
import { routeOf } from "../db/shards";
import type { AppEnv } from "../env";
import { requireTwilioAuthToken } from "../config/secrets";
import { settings } from "../config/settings";
import { ApiError } from "../lib/errors";
import { toE164 } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import { isTwilioMessageStatus } from "../org-inbox/status-rules";
import { callCallback } from "./twilio-calls";
import { copyInboundMedia, derivedMediaId, registerInboundMedia, type InboundMedia } from "./inbound-media";
import { calledUrl, verifyTwilio } from "./twilio-signature";
import { keepUnroutable } from "./unroutable";

const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
/** SPEC 9: every Twilio webhook, applied or kept as unroutable, is answered 200 with empty TwiML. */
const twiml = (c: Context<AppEnv>) => c.body(TWIML_EMPTY, 200, { "content-type": "text/xml" });

/** Reads the form and checks X-Twilio-Signature before anything else happens (403 otherwise; 503 with no TWILIO_AUTH_TOKEN). */
async function signedParams(c: Context<AppEnv>) {
  const authToken = requireTwilioAuthToken(c.env);
  const params = new URLSearchParams(await c.req.text());
  const ok = await verifyTwilio(authToken, calledUrl(settings(c.env).publicBaseUrl ?? undefined, c.req.url), params, c.req.header("x-twilio-signature"));
  if (!ok) throw new ApiError("forbidden", "X-Twilio-Signature is missing or does not match.");
  return params;
}

/** The org (and its shard) our sms number belongs to, through the control database's routes. */
const smsRoute = (c: Context<AppEnv>, address: string | null) => (address ? routeOf(c.env, "sms", address) : Promise.resolve(null));

const region = (c: Context<AppEnv>) => settings(c.env).defaultPhoneRegion;

/** POST /webhooks/twilio/messages: an inbound SMS/MMS into the timeline. */
export async function inboundMessage(c: Context<AppEnv>) {
  const params = await signedParams(c);
  const payload = Object.fromEntries(params);
  let orgId: string | null = null;
  try {
    const to = toE164(params.get("To") ?? "", region(c));
    const from = toE164(params.get("From") ?? "", region(c));
    const sid = params.get("MessageSid") ?? params.get("SmsMessageSid");
    if (!to || !from || !sid) {
      await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "invalid_payload", payload });
      return twiml(c);
    }
    const route = await smsRoute(c, to);
    if (!route) {
      await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "unknown_address", payload });
      return twiml(c);
    }
    orgId = route.orgId;
    const d = route.db;
    const count = Math.min(Number(params.get("NumMedia") ?? "0") || 0, 10);
    const items: InboundMedia[] = [];
    for (let i = 0; i < count; i++) {
      const url = params.get(`MediaUrl${i}`);
      if (url) items.push({ id: await derivedMediaId(orgId, "twilio", sid, String(i)), url, contentType: params.get(`MediaContentType${i}`) ?? "application/octet-stream" });
    }
    await registerInboundMedia(d, orgId, items);
    const answer = await inbox(c.env, orgId).answer.ingest({
      contact: { phone: from },
      type: "sms",
      direction: "inbound",
      status: "received",
      body: params.get("Body") ?? "",
      from,
      to,
      provider: "twilio",
      providerMessageId: sid,
      occurredAt: Date.now(),
      mediaIds: items.map((m) => m.id),
    });
    if ("error" in answer) {
      await keepUnroutable(c.env, { orgId, provider: "twilio", reason: `refused: ${answer.error.code}`, payload });
    } else if (!answer.ok.duplicate && items.length) {
      // Off the webhook's path: Twilio gets its answer now.
      c.executionCtx.waitUntil(Promise.all(items.map((m) => copyInboundMedia(c.env, d, orgId!, m))));
    }
  } catch (e) {
    await keepUnroutable(c.env, { orgId, provider: "twilio", reason: `processing_failed: ${String(e).slice(0, 200)}`, payload });
  }
  return twiml(c);
}

/** POST /webhooks/twilio/status: delivery status of our outbound messages. */
export async function messageStatus(c: Context<AppEnv>) {
  const params = await signedParams(c);
  const payload = Object.fromEntries(params);
  let orgId: string | null = null;
  try {
    const sid = params.get("MessageSid") ?? params.get("SmsSid");
    const status = (params.get("MessageStatus") ?? params.get("SmsStatus") ?? "").toLowerCase();
    if (!sid || !isTwilioMessageStatus(status)) {
      await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "invalid_payload", payload });
      return twiml(c);
    }
    orgId = (await smsRoute(c, toE164(params.get("From") ?? "", region(c))))?.orgId ?? null;
    if (!orgId) {
      await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: "unknown_address", payload });
      return twiml(c);
    }
    const outcome = await inbox(c.env, orgId).applyTwilioStatus({
      sid,
      status,
      errorCode: params.get("ErrorCode"),
      errorMessage: params.get("ErrorMessage"),
      messageId: new URL(c.req.url).searchParams.get("message_id"),
    });
    // Unknown yet: the send consumer may not have stored the sid; it applies this when it does.
    if (outcome === "unknown") await keepUnroutable(c.env, { orgId, provider: "twilio", reason: "unknown_message", payload, waitingFor: sid });
  } catch (e) {
    await keepUnroutable(c.env, { orgId, provider: "twilio", reason: `processing_failed: ${String(e).slice(0, 200)}`, payload });
  }
  return twiml(c);
}

/** POST /webhooks/twilio/calls: call status, recording and transcription callbacks. */
export async function callEvent(c: Context<AppEnv>) {
  const params = await signedParams(c);
  try {
    await callCallback(c, params);
  } catch (e) {
    await keepUnroutable(c.env, { orgId: null, provider: "twilio", reason: `processing_failed: ${String(e).slice(0, 200)}`, payload: Object.fromEntries(params) });
  }
  return twiml(c);
}
