import type { Context } from "hono";
import { z } from "zod";
import { requireTwilioAuthToken } from "../config/secrets";
import { settings } from "../config/settings";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { toE164 } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import { isTwilioMessageStatus } from "../org-inbox/status-rules";
import { copyInboundMedia, derivedMediaId, registerInboundMedia } from "./inbound-media";
import type { ProviderSource, WebhookAdapter } from "./pipeline";
import { calledUrl, verifyTwilio } from "./twilio-signature";

const utf8 = new TextDecoder();

const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/**
 * Twilio: X-Twilio-Signature over the URL and every POST parameter, checked before anything
 * else happens (403 otherwise; 503 with no TWILIO_AUTH_TOKEN). SPEC 9: every Twilio webhook,
 * applied or kept as unroutable, is answered 200 with empty TwiML.
 */
export const twilio: ProviderSource = {
  provider: "twilio",
  async authenticate(c) {
    const authToken = requireTwilioAuthToken(c.env);
    // Decoded here, not with text(): workerd warns on the console for every text() of a
    // form body (a "body which does not appear to be text"), and under `wrangler dev` that
    // warning was the largest single cost of the webhook in a CPU profile (issue 16).
    const params = new URLSearchParams(utf8.decode(await c.req.arrayBuffer()));
    const ok = await verifyTwilio(authToken, calledUrl(settings(c.env).publicBaseUrl ?? undefined, c.req.url), params, c.req.header("x-twilio-signature"));
    if (!ok) throw new ApiError("forbidden", "X-Twilio-Signature is missing or does not match.");
    const body = Object.fromEntries(params);
    return { body, kept: body };
  },
  answer: (c: Context<AppEnv>) => c.body(TWIML_EMPTY, 200, { "content-type": "text/xml" }),
};

/** Twilio's parameters are strings; it adds new ones without notice, so any other passes. */
export const twilioParams = <S extends z.ZodRawShape>(shape: S) => z.object(shape).catchall(z.string());

/** A phone number as Twilio sends it, in E.164 (the deployment's region for national numbers). */
const phone = (region: string) =>
  z.string().transform((s, ctx) => {
    const e164 = toE164(s, region);
    if (e164) return e164;
    ctx.addIssue({ code: "custom", message: "not a phone number" });
    return z.NEVER;
  });

/** The first of `names` that is present (an empty value counts: it is then missing), as the sid or status of a callback. */
const firstOf = (p: Record<string, string | undefined>, ...names: string[]) => names.map((n) => p[n]).find((v) => v !== undefined) ?? "";

const inboundSms = (region: string) =>
  twilioParams({ To: phone(region), From: phone(region), Body: z.string().optional(), NumMedia: z.string().optional() }).transform((p, ctx) => {
    const sid = firstOf(p, "MessageSid", "SmsMessageSid");
    if (!sid) {
      ctx.addIssue({ code: "custom", message: "no MessageSid" });
      return z.NEVER;
    }
    const count = Math.min(Number(p.NumMedia ?? "0") || 0, 10);
    // Indexed as Twilio numbers them: the index names the media row, so a redelivery names the same.
    const media: { index: number; url: string; contentType: string }[] = [];
    for (let index = 0; index < count; index++) {
      const url = p[`MediaUrl${index}`];
      if (url) media.push({ index, url, contentType: p[`MediaContentType${index}`] ?? "application/octet-stream" });
    }
    return { sid, to: p.To, from: p.From, body: p.Body ?? "", media };
  });

/** POST /webhooks/twilio/messages: an inbound SMS/MMS into the timeline (media copied to R2 off the webhook's path). */
export const twilioMessages: WebhookAdapter<ReturnType<typeof inboundSms>> = {
  ...twilio,
  payload: inboundSms,
  async apply(hook, p) {
    const orgId = await hook.route("sms", p.to);
    if (!orgId) return { reason: "unknown_address" };
    const items = await Promise.all(
      p.media.map(async (m) => ({ id: await derivedMediaId(orgId, "twilio", p.sid, String(m.index)), url: m.url, contentType: m.contentType })),
    );
    await registerInboundMedia(hook.env, hook.db, orgId, items);
    const answer = await inbox(hook.env, orgId).answer.ingest({
      contact: { phone: p.from },
      type: "sms",
      direction: "inbound",
      status: "received",
      body: p.body,
      from: p.from,
      to: p.to,
      provider: "twilio",
      providerMessageId: p.sid,
      occurredAt: Date.now(),
      mediaIds: items.map((m) => m.id),
    });
    if ("error" in answer) return { reason: `refused: ${answer.error.code}` };
    // Off the webhook's path: Twilio gets its answer now.
    if (!answer.ok.duplicate && items.length)
      hook.waitUntil(Promise.all(items.map((m) => copyInboundMedia(hook.env, hook.db, orgId, { ...m, activityId: answer.ok.activity.id }))));
  },
};

const messageStatus = (region: string) =>
  twilioParams({ From: z.string().optional(), ErrorCode: z.string().optional(), ErrorMessage: z.string().optional() }).transform((p, ctx) => {
    const sid = firstOf(p, "MessageSid", "SmsSid");
    const status = firstOf(p, "MessageStatus", "SmsStatus").toLowerCase();
    if (!sid || !isTwilioMessageStatus(status)) {
      ctx.addIssue({ code: "custom", message: "no MessageSid, or a MessageStatus we do not apply" });
      return z.NEVER;
    }
    // Our number: the org is found by it.
    return { sid, status, from: toE164(p.From ?? "", region), errorCode: p.ErrorCode ?? null, errorMessage: p.ErrorMessage ?? null };
  });

/** POST /webhooks/twilio/status: delivery status of our outbound messages, forward-only (OrgInbox applies it). */
export const twilioStatus: WebhookAdapter<ReturnType<typeof messageStatus>> = {
  ...twilio,
  payload: messageStatus,
  async apply(hook, p) {
    const orgId = await hook.route("sms", p.from);
    if (!orgId) return { reason: "unknown_address" };
    const outcome = await inbox(hook.env, orgId).applyTwilioStatus({
      sid: p.sid,
      status: p.status,
      errorCode: p.errorCode,
      errorMessage: p.errorMessage,
      // Our id rides in the callback URL (inside what Twilio signs): it adopts the sid of a message that has none.
      messageId: hook.url.searchParams.get("message_id"),
    });
    // Unknown yet: the send consumer may not have stored the sid; it applies this when it does.
    if (outcome === "unknown") return { reason: "unknown_message", waitingFor: p.sid };
  },
};
