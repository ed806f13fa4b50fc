import { and, eq } from "drizzle-orm";
import { settings } from "../config/settings";
import { mediaFor } from "../conversations/queries";
import { channels } from "../db/schema";
import { shardDb } from "../db/shards";
import type { Bindings } from "../env";
import type { SendJob } from "../jobs";
import { log } from "../lib/log";
import { signedMediaUrl } from "../media/signing";
import { mediaKey } from "../media/storage";
import { inbox } from "../org-inbox/client";
import type { SendResult } from "../org-inbox/delivery";
import { providerFor } from "../providers";
import type { SendOutcome } from "../providers/types";

export const MAX_SEND_ATTEMPTS = 5;

/** Backoff after attempt n (1-based): 2, 4, 8, 16 s, plus at most 20 % jitter (SPEC 13). */
export function backoffSeconds(attempt: number, random = Math.random()) {
  const base = 2 ** attempt;
  return Math.floor(base * (1 + 0.2 * random));
}

/**
 * Delivers one queued message at most once: OrgInbox's claim (queued → sending) is a
 * conditional update, so a redelivered job, or one for a message no longer queued,
 * sends nothing. The provider is called here, outside OrgInbox's chain; its answer
 * goes back to OrgInbox, which stores and announces it.
 */
export async function deliver(env: Bindings, job: SendJob): Promise<{ retryAfter?: number }> {
  const db = await shardDb(env, job.orgId);
  const claimed = await inbox(env, job.orgId).claimSend(job.messageId);
  if (!claimed) return {};

  const channel = claimed.channelId
    ? await db
        .select()
        .from(channels)
        .where(and(eq(channels.id, claimed.channelId), eq(channels.orgId, job.orgId)))
        .get()
    : undefined;
  let outcome: SendOutcome;
  if (!channel || !claimed.toAddr || (claimed.type !== "sms" && claimed.type !== "email")) {
    outcome = { kind: "reject", code: "no_channel", message: "The channel this message was to leave from is gone." };
  } else {
    const mediaRows = [...(await mediaFor(db, job.orgId, claimed.mediaIds)).values()];
    const media = await Promise.all(
      mediaRows.map(async (m) => ({
        id: m.id,
        url: await signedMediaUrl(env, m.id),
        contentType: m.contentType,
        filename: m.filename,
        load: async () => (await env.MEDIA.get(mediaKey(m.orgId, m.id)))?.arrayBuffer() ?? null,
      })),
    );
    const base = settings(env).publicBaseUrl;
    outcome = await providerFor(channel.provider, env).send({
      id: claimed.id,
      kind: claimed.type,
      from: channel.address,
      to: claimed.toAddr,
      body: claimed.body ?? "",
      subject: claimed.subject,
      html: claimed.html,
      media,
      // Our id rides in the (signed) callback URL, so a callback can land the message even if we never stored the sid.
      statusCallback: base ? `${base}/webhooks/twilio/status?message_id=${claimed.id}` : undefined,
    });
  }

  const settle = (result: SendResult) => inbox(env, job.orgId).settleSend(claimed.id, result);
  if (outcome.kind === "accepted") {
    await settle({ status: "sent", provider: channel!.provider, providerMessageId: outcome.providerMessageId });
    return {};
  }
  const final = outcome.kind === "reject" || claimed.sendAttempts >= MAX_SEND_ATTEMPTS;
  log(final ? "error" : "warn", "send_failed", { message_id: claimed.id, attempt: claimed.sendAttempts, code: outcome.code, final });
  await settle({ status: final ? "failed" : "queued", errorCode: outcome.code, errorMessage: outcome.message });
  return final ? {} : { retryAfter: backoffSeconds(claimed.sendAttempts) };
}

/** The SEND_QUEUE consumer. */
export async function handleSendBatch(batch: MessageBatch<SendJob>, env: Bindings) {
  for (const message of batch.messages) {
    const { retryAfter } = await deliver(env, message.body);
    if (retryAfter !== undefined) message.retry({ delaySeconds: retryAfter });
    else message.ack();
  }
}
