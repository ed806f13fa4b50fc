import { and, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Activity, activities } from "../db/schema";
import { findInShards } from "../db/shards";
import type { Bindings } from "../env";
import { enqueueSend } from "../jobs";
import { log } from "../lib/log";
import { inbox } from "../org-inbox/client";
import type { StuckFinding, SweepOutcome } from "../org-inbox/delivery";
import { isTwilioMessageStatus, type PostmarkChange } from "../org-inbox/status-rules";
import { findPostmarkMessage, lookupPostmarkMessage } from "../providers/postmark";
import { lookupTwilioMessage } from "../providers/twilio";
import type { Lookup } from "../providers/types";
import { postmarkRecordChange } from "../webhooks/postmark-status";

// A send whose provider never calls back would stay `sending` forever. Every 5 minutes
// (wrangler.toml [triggers]) the sweep asks the provider about messages `sending` for
// over 10 minutes: a status it knows is applied with the webhooks' own rules; a message
// it never received goes back to `queued` once, and is `failed` (`delivery_unknown`) the
// second time. The same run hands messages `queued` for over 10 minutes to the queue again
// (their job was lost: requeueLostSends).

export const SWEEP_AFTER_MS = 10 * 60_000;
export const SWEEP_BATCH = 100;

type Stuck = Pick<Activity, "id" | "orgId" | "provider" | "providerMessageId" | "sweepRequeues">;
export type SweepCounts = { checked: number } & Record<SweepOutcome, number>;

/**
 * Oldest first, at most SWEEP_BATCH, on the partial index of `sending` rows (the literal
 * `'sending'` is what lets SQLite use it). A message the sweep looked at and left alone
 * waits another SWEEP_AFTER_MS, so a few that never resolve cannot starve the rest.
 */
export function stuckSendsQuery(db: Db, now: number) {
  const cutoff = now - SWEEP_AFTER_MS;
  const a = activities;
  return db
    .select({ id: a.id, orgId: a.orgId, provider: a.provider, providerMessageId: a.providerMessageId, sweepRequeues: a.sweepRequeues, updatedAt: a.updatedAt })
    .from(a)
    .where(and(sql`${a.status} = 'sending'`, lt(a.updatedAt, cutoff), or(isNull(a.sweepCheckedAt), lt(a.sweepCheckedAt, cutoff))))
    .orderBy(a.updatedAt)
    .limit(SWEEP_BATCH);
}

/**
 * Sends `queued` for over SWEEP_AFTER_MS: their job was lost (the object stopped between the
 * write and the hand-over, or the queue gave the job up after its retries). Oldest first, on
 * the partial index of `queued` rows; a retry's backoff is seconds, so none of these is waiting.
 */
export function lostSendsQuery(db: Db, now: number) {
  const a = activities;
  return db
    .select({ id: a.id, orgId: a.orgId, updatedAt: a.updatedAt })
    .from(a)
    .where(and(sql`${a.status} = 'queued'`, lt(a.updatedAt, now - SWEEP_AFTER_MS)))
    .orderBy(a.updatedAt)
    .limit(SWEEP_BATCH);
}

/**
 * The sweep's other half: every lost send handed to SEND_QUEUE again. Safe to repeat: the
 * consumer's claim (queued → sending) is conditional, so a job that was not lost after all
 * sends nothing the second time. Answers how many were handed over.
 */
export async function requeueLostSends(env: Bindings, now = Date.now()) {
  const lost = (await findInShards(env, (db) => lostSendsQuery(db, now).all())).sort((x, y) => x.updatedAt - y.updatedAt).slice(0, SWEEP_BATCH);
  let requeued = 0;
  for (const m of lost) {
    try {
      await enqueueSend(env, { orgId: m.orgId, messageId: m.id });
      requeued++;
    } catch (e) {
      log("error", "send_requeue_failed", { message_id: m.id, error: String(e) });
    }
  }
  if (lost.length) log("warn", "send_sweep_requeued_lost", { found: lost.length, requeued });
  return requeued;
}

/** Postmark's message details → the change the events webhook would make for the same news. */
function postmarkDetailsChange(found: { status: string; events: { Type?: string; Details?: Record<string, unknown> }[] }): PostmarkChange | null {
  const bounced = found.events.find((e) => e.Type === "Bounced");
  if (bounced) {
    return postmarkRecordChange({ RecordType: "Bounce", Type: bounced.Details?.Type, Description: bounced.Details?.Summary ?? bounced.Details?.Description });
  }
  if (found.events.some((e) => e.Type === "Delivered")) return postmarkRecordChange({ RecordType: "Delivery" });
  // Sent (or Processed): Postmark has handed it on; Queued: not yet.
  return /^(sent|processed)$/i.test(found.status) ? { status: "sent" } : null;
}

/** What the provider says, with why it could not be asked (for the log). */
type Asked = StuckFinding & { reason?: string };

async function askTwilio(env: Bindings, m: Stuck): Promise<Asked> {
  // No sid: the consumer never stored Twilio's answer, and no callback adopted one.
  if (!m.providerMessageId) return { kind: "absent" };
  const answer = await lookupTwilioMessage(env, m.providerMessageId);
  if (answer.kind !== "found") return answer;
  const { status, errorCode, errorMessage } = answer.found;
  if (!isTwilioMessageStatus(status)) return { kind: "unchanged" }; // accepted, scheduled, …: Twilio still has it
  return { kind: "twilio", sid: m.providerMessageId, status, errorCode, errorMessage };
}

async function askPostmark(env: Bindings, m: Stuck): Promise<Asked> {
  let adopt: string | null = null;
  let pmid = m.providerMessageId;
  if (!pmid) {
    // Our id rides in Metadata: an email Postmark took before the consumer died is found (its id adopted), not sent again.
    const search: Lookup<{ messageId: string }> = await findPostmarkMessage(env, m.id);
    if (search.kind !== "found") return search;
    pmid = adopt = search.found.messageId;
  }
  const answer = await lookupPostmarkMessage(env, pmid);
  const details = answer.kind === "found" ? { kind: "found" as const, change: postmarkDetailsChange(answer.found) } : { kind: answer.kind };
  return { kind: "postmark", adopt, details, reason: answer.kind === "unreachable" ? answer.reason : undefined };
}

async function ask(env: Bindings, m: Stuck): Promise<Asked> {
  if (m.provider === "twilio") return askTwilio(env, m);
  if (m.provider === "postmark") return askPostmark(env, m);
  // The log adapter (or no channel): nothing left this Worker, so sending again is safe.
  return { kind: "absent" };
}

/** The provider is asked here, outside OrgInbox's chain; OrgInbox applies and announces what it said. */
async function sweepOne(env: Bindings, m: Stuck, now: number): Promise<SweepOutcome> {
  const { reason, ...finding } = await ask(env, m);
  const outcome = await inbox(env, m.orgId).settleStuckSend({ id: m.id, sweepRequeues: m.sweepRequeues }, finding, now);
  if (outcome === "unreachable") log("warn", "send_sweep_unreachable", { message_id: m.id, provider: m.provider, reason });
  return outcome;
}

/** One run of the sweep (the Cron Trigger's job). Logs and returns its counts. */
export async function sweepStuckSends(env: Bindings, now = Date.now()): Promise<SweepCounts> {
  // Every shard's oldest (asked at once, of orgs that live where they were found), then the
  // oldest SWEEP_BATCH of them all.
  const stuck = (await findInShards(env, (db) => stuckSendsQuery(db, now).all())).sort((x, y) => x.updatedAt - y.updatedAt).slice(0, SWEEP_BATCH);
  const counts: SweepCounts = { checked: stuck.length, updated: 0, requeued: 0, failed: 0, unchanged: 0, unreachable: 0 };
  for (const m of stuck) {
    try {
      counts[await sweepOne(env, m, now)]++;
    } catch (e) {
      // One message's trouble (D1, the provider's odd answer) never stops the others.
      log("error", "send_sweep_failed", { message_id: m.id, error: String(e) });
      counts.unreachable++;
    }
  }
  log("info", "send_sweep", counts);
  return counts;
}
