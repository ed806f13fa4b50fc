import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { db, type Db } from "../db/client";
import { activities, type Activity } from "../db/schema";
import type { Bindings } from "../env";
import { enqueueSend } from "../jobs";
import { log } from "../lib/log";
import { notifyMessageChanged } from "../org-inbox/org-inbox";
import { findPostmarkMessage, lookupPostmarkMessage } from "../providers/postmark";
import { lookupTwilioMessage } from "../providers/twilio";
import type { Lookup } from "../providers/types";
import { adoptProviderId } from "../webhooks/adopt";
import { applyPostmarkChange, postmarkRecordChange, type PostmarkChange } from "../webhooks/postmark-status";
import { applyTwilioStatus, isTwilioMessageStatus } from "../webhooks/twilio-status";

// A send whose provider never calls back would stay `sending` forever. Every 5 minutes
// (wrangler.toml [triggers]) the sweep asks the provider about messages `sending` for
// over 10 minutes: a status it knows is applied with the webhooks' own rules; a message
// it never received goes back to `queued` once, and is `failed` (`delivery_unknown`) the
// second time.

export const SWEEP_AFTER_MS = 10 * 60_000;
export const SWEEP_BATCH = 100;

type Stuck = Pick<Activity, "id" | "orgId" | "provider" | "providerMessageId" | "sweepRequeues">;
type Outcome = "updated" | "requeued" | "failed" | "unchanged" | "unreachable";
export type SweepCounts = { checked: number } & Record<Outcome, number>;

/**
 * Oldest first, at most SWEEP_BATCH, on the partial index of `sending` rows (the literal
 * `'sending'` is what lets SQLite use it). A message the sweep looked at and left alone
 * waits another SWEEP_AFTER_MS, so a few that never resolve cannot starve the rest.
 */
export function stuckSendsQuery(d: Db, now: number) {
  const cutoff = now - SWEEP_AFTER_MS;
  const a = activities;
  return d
    .select({ id: a.id, orgId: a.orgId, provider: a.provider, providerMessageId: a.providerMessageId, sweepRequeues: a.sweepRequeues })
    .from(a)
    .where(and(sql`${a.status} = 'sending'`, lt(a.updatedAt, cutoff), or(isNull(a.sweepCheckedAt), lt(a.sweepCheckedAt, cutoff))))
    .orderBy(a.updatedAt)
    .limit(SWEEP_BATCH);
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

type Verdict = { kind: "changed" } | { kind: "unchanged" } | { kind: "absent" } | { kind: "unreachable"; reason: string };

async function askTwilio(env: Bindings, d: Db, m: Stuck): Promise<Verdict> {
  // No sid: the consumer never stored Twilio's answer, and no callback adopted one.
  if (!m.providerMessageId) return { kind: "absent" };
  const answer = await lookupTwilioMessage(env, m.providerMessageId);
  if (answer.kind !== "found") return answer;
  const { status, errorCode, errorMessage } = answer.found;
  if (!isTwilioMessageStatus(status)) return { kind: "unchanged" }; // accepted, scheduled, …: Twilio still has it
  const applied = await applyTwilioStatus(d, m.orgId, m.providerMessageId, status, errorCode, errorMessage);
  return { kind: applied.outcome === "applied" ? "changed" : "unchanged" };
}

async function askPostmark(env: Bindings, d: Db, m: Stuck): Promise<Verdict> {
  let adopted = false;
  let pmid = m.providerMessageId;
  if (!pmid) {
    // Our id rides in Metadata: an email Postmark took before the consumer died is found, not sent again.
    const search: Lookup<{ messageId: string }> = await findPostmarkMessage(env, m.id);
    if (search.kind !== "found") return search;
    pmid = search.found.messageId;
    adopted = await adoptProviderId(d, m.orgId, m.id, "postmark", pmid);
  }
  const answer = await lookupPostmarkMessage(env, pmid);
  if (answer.kind === "absent") return adopted ? { kind: "changed" } : answer;
  if (answer.kind === "unreachable") return adopted ? { kind: "changed" } : answer;
  const change = postmarkDetailsChange(answer.found);
  const changed = change ? await applyPostmarkChange(d, m.id, change) : false;
  return { kind: changed || adopted ? "changed" : "unchanged" };
}

async function ask(env: Bindings, d: Db, m: Stuck): Promise<Verdict> {
  if (m.provider === "twilio") return askTwilio(env, d, m);
  if (m.provider === "postmark") return askPostmark(env, d, m);
  // The log adapter (or no channel): nothing left this Worker, so sending again is safe.
  return { kind: "absent" };
}

const stillSending = (id: string) => and(eq(activities.id, id), sql`${activities.status} = 'sending'`);

/** No provider has it: back to `queued` once (it was never sent), `failed` the second time. */
async function settleAbsent(env: Bindings, d: Db, m: Stuck, now: number): Promise<Outcome> {
  if (m.sweepRequeues >= 1) {
    const [failed] = await d
      .update(activities)
      .set({ status: "failed", errorCode: "delivery_unknown", errorMessage: "The provider never received this message, also after it was queued again; it was not sent.", updatedAt: now })
      .where(stillSending(m.id))
      .returning({ id: activities.id });
    return failed ? "failed" : "unchanged";
  }
  const [requeued] = await d
    .update(activities)
    .set({ status: "queued", sweepRequeues: sql`${activities.sweepRequeues} + 1`, updatedAt: now })
    .where(and(stillSending(m.id), eq(activities.sweepRequeues, 0)))
    .returning({ id: activities.id });
  if (!requeued) return "unchanged";
  try {
    await enqueueSend(env, { orgId: m.orgId, messageId: m.id });
  } catch (e) {
    // Queued with no job would wait forever: say so on the message, as OrgInbox does.
    log("error", "enqueue_failed", { message_id: m.id, source: "send_sweep", error: String(e) });
    await d
      .update(activities)
      .set({ status: "failed", errorCode: "enqueue_failed", errorMessage: "The message could not be queued for sending.", updatedAt: Date.now() })
      .where(and(eq(activities.id, m.id), eq(activities.status, "queued")));
    return "failed";
  }
  return "requeued";
}

async function sweepOne(env: Bindings, d: Db, m: Stuck, now: number): Promise<Outcome> {
  const verdict = await ask(env, d, m);
  let outcome: Outcome;
  if (verdict.kind === "changed") outcome = "updated";
  else if (verdict.kind === "absent") outcome = await settleAbsent(env, d, m, now);
  else {
    if (verdict.kind === "unreachable") log("warn", "send_sweep_unreachable", { message_id: m.id, provider: m.provider, reason: verdict.reason });
    outcome = verdict.kind;
  }
  if (outcome === "unchanged" || outcome === "unreachable") {
    // Not updated_at: nothing about the message changed. Only when to look again.
    await d.update(activities).set({ sweepCheckedAt: now }).where(stillSending(m.id));
  } else {
    await notifyMessageChanged(env, m.orgId, m.id);
  }
  return outcome;
}

/** One run of the sweep (the Cron Trigger's job). Logs and returns its counts. */
export async function sweepStuckSends(env: Bindings, now = Date.now()): Promise<SweepCounts> {
  const d = db(env);
  const stuck = await stuckSendsQuery(d, now).all();
  const counts: SweepCounts = { checked: stuck.length, updated: 0, requeued: 0, failed: 0, unchanged: 0, unreachable: 0 };
  for (const m of stuck) {
    try {
      counts[await sweepOne(env, d, m, now)]++;
    } catch (e) {
      // One message's trouble (D1, the provider's odd answer) never stops the others.
      log("error", "send_sweep_failed", { message_id: m.id, error: String(e) });
      counts.unreachable++;
    }
  }
  log("info", "send_sweep", counts);
  return counts;
}
