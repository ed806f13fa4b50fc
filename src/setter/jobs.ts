import { and, asc, desc, eq, isNull, or } from "drizzle-orm";
import { SMS_MAX, threadLines } from "../conversations/queries";
import type { Db } from "../db/client";
import { activities, contacts, conversations, media, orgs, setterConfigs, templates } from "../db/schema";
import { controlDb, shardDb } from "../db/shards";
import type { Bindings } from "../env";
import type { AiJob } from "../jobs";
import { log } from "../lib/log";
import { inbox } from "../org-inbox/client";
import { firstName, renderTemplate } from "../templates/render";
import { copyInboundMedia } from "../webhooks/inbound-media";
import { generatorFor } from "./generator";
import { draftPrompt, type ReplyExample, summaryPrompt, type ThreadLine } from "./prompt";
import { extractiveSummary, SUMMARY_MAX_CHARS } from "./summarize";

const THREAD_LINES = 20;

/** The thread up to and including the trigger, oldest first, as the model reads it. */
async function threadUpTo(db: Db, conversationId: string, until: number): Promise<ThreadLine[]> {
  const rows = await threadLines(db, conversationId, until, { inclusive: true, limit: THREAD_LINES });
  return rows
    .map((r) => ({
      role: r.direction === "inbound" ? ("contact" as const) : ("agent" as const),
      type: r.type as ThreadLine["type"],
      text:
        (r.type === "call"
          ? (r.summary ?? r.transcript)
          : [r.subject && r.type === "email" ? `Subject: ${r.subject}` : "", r.body ?? ""].filter(Boolean).join("\n")) ?? "",
    }))
    .filter((l) => l.text.trim());
}

/** Saved replies shown to the setter as examples (issue 20): the org's newest few for the draft's channel. */
export const SETTER_EXAMPLES = 5;

/**
 * The org's templates for `channel` (or for any channel), newest first, at most
 * SETTER_EXAMPLES, rendered for this contact and org as a send would render them (no
 * member: the setter is none, so `member.name` takes its fallback). Bounded by the org's
 * template cap (500), read from the org's rows only.
 */
async function replyExamples(
  db: Db,
  orgId: string,
  channel: "sms" | "email",
  who: { name: string | null; phone: string | null; email: string | null; org: string | null },
): Promise<ReplyExample[]> {
  const rows = await db
    .select({ name: templates.name, body: templates.body })
    .from(templates)
    .where(and(eq(templates.orgId, orgId), or(isNull(templates.channel), eq(templates.channel, channel))))
    .orderBy(desc(templates.updatedAt), asc(templates.id))
    .limit(SETTER_EXAMPLES)
    .all();
  const values = {
    "contact.name": who.name,
    "contact.first_name": firstName(who.name),
    "contact.phone": who.phone,
    "contact.email": who.email,
    "member.name": null,
    "org.name": who.org,
  };
  return rows.map((t) => ({ name: t.name, text: renderTemplate(t.body, values) }));
}

async function draft(env: Bindings, job: Extract<AiJob, { kind: "draft" }>) {
  const db = await shardDb(env, job.orgId);
  // The org's name is in the control database, the rest in its shard: read at once.
  const [[config, trigger, [pending], [consent]], org] = await Promise.all([
    db.batch([
      db.select().from(setterConfigs).where(eq(setterConfigs.orgId, job.orgId)).limit(1),
      db
        .select()
        .from(activities)
        .where(and(eq(activities.id, job.triggerId), eq(activities.orgId, job.orgId)))
        .limit(1),
      // A redelivered job: the setter may already have drafted an answer to this message.
      db
        .select({ authorId: activities.authorId, createdAt: activities.createdAt })
        .from(conversations)
        .innerJoin(activities, eq(activities.id, conversations.pendingSuggestionId))
        .where(and(eq(conversations.id, job.conversationId), eq(conversations.orgId, job.orgId), eq(activities.status, "pending")))
        .limit(1),
      // The contact's consent: the setter never drafts for a channel they opted out of (SPEC 19).
      db
        .select({ smsOptOut: contacts.smsOptOut, emailOptOut: contacts.emailOptOut, name: contacts.name, phone: contacts.phone, email: contacts.email })
        .from(contacts)
        .innerJoin(conversations, eq(conversations.contactId, contacts.id))
        .where(and(eq(conversations.id, job.conversationId), eq(conversations.orgId, job.orgId)))
        .limit(1),
    ]),
    controlDb(env).select({ name: orgs.name }).from(orgs).where(eq(orgs.id, job.orgId)).limit(1),
  ]);
  if (config[0]?.mode !== "suggestive" || !trigger[0]) return;
  if (pending && pending.authorId === null && pending.createdAt >= trigger[0].createdAt) {
    log("info", "setter_draft_exists", { org_id: job.orgId, conversation_id: job.conversationId });
    return;
  }
  const generator = generatorFor(env);
  if (!generator) {
    log("info", "setter_no_generator", { org_id: job.orgId, conversation_id: job.conversationId });
    return;
  }
  const channel = trigger[0].type === "email" ? "email" : "sms";
  if (!consent || (channel === "sms" ? consent.smsOptOut : consent.emailOptOut)) {
    log("info", "setter_opted_out", { org_id: job.orgId, conversation_id: job.conversationId, channel });
    return;
  }
  const [thread, examples] = await Promise.all([
    threadUpTo(db, job.conversationId, trigger[0].occurredAt),
    replyExamples(db, job.orgId, channel, { ...consent, org: org[0]?.name ?? null }),
  ]);
  const started = Date.now();
  let text: string;
  try {
    text = await generator.complete(draftPrompt({ orgName: org[0]?.name ?? "the business", instructions: config[0].instructions, channel, thread, examples }), {
      maxTokens: channel === "sms" ? 200 : 600,
    });
  } catch (e) {
    log("warn", "setter_draft_failed", {
      org_id: job.orgId,
      conversation_id: job.conversationId,
      generator: generator.name,
      ms: Date.now() - started,
      error: String(e),
    });
    return;
  }
  const body = channel === "sms" ? text.slice(0, SMS_MAX) : text;
  const answer = await inbox(env, job.orgId).answer.createSuggestion({
    conversationId: job.conversationId,
    body,
    channel,
    authorId: null,
    triggerId: job.triggerId,
  });
  if ("error" in answer) log("warn", "setter_draft_refused", { org_id: job.orgId, conversation_id: job.conversationId, code: answer.error.code });
  else if (!answer.ok) log("info", "setter_draft_stale", { org_id: job.orgId, conversation_id: job.conversationId });
}

/**
 * A transcribed call's summary: the LLM when one is configured, the built-in
 * extractive summary when there is none or it fails, `failed` when even that
 * finds no sentence to keep. A provider's summary is never replaced.
 */
async function summary(env: Bindings, job: Extract<AiJob, { kind: "summary" }>) {
  const db = await shardDb(env, job.orgId);
  const call = await db
    .select()
    .from(activities)
    .where(and(eq(activities.id, job.activityId), eq(activities.orgId, job.orgId)))
    .get();
  if (call?.type !== "call" || call.callSummaryStatus !== "pending" || call.callSummary || !call.callTranscript) return;
  let text: string | null = null;
  let source = "extractive";
  const generator = generatorFor(env);
  if (generator) {
    try {
      text = (await generator.complete(summaryPrompt(call.callTranscript), { maxTokens: 200 })).slice(0, SUMMARY_MAX_CHARS);
      source = generator.name;
    } catch (e) {
      log("warn", "call_summary_llm_failed", { org_id: job.orgId, activity_id: call.id, generator: generator.name, error: String(e) });
    }
  }
  text ??= extractiveSummary(call.callTranscript);
  await inbox(env, job.orgId).setCallSummary(call.id, text);
  log("info", "call_summary", { org_id: job.orgId, activity_id: call.id, source: text ? source : "none" });
}

export async function handleAiJob(env: Bindings, job: AiJob) {
  if (job.kind === "draft") return draft(env, job);
  if (job.kind === "media_copy") {
    // Already copied (a redelivery, or an earlier try that got through): nothing to do.
    const db = await shardDb(env, job.orgId);
    const row = await db
      .select({ status: media.status })
      .from(media)
      .where(and(eq(media.id, job.item.id), eq(media.orgId, job.orgId)))
      .get();
    if (!row || row.status === "ready") return;
    return copyInboundMedia(env, db, job.orgId, job.item, job.attempt);
  }
  return summary(env, job);
}

/** Queue consumer: LLM trouble is handled inside a job; anything else (D1, the DO) is retried by the queue. */
export async function handleAiBatch(batch: MessageBatch<AiJob>, env: Bindings) {
  for (const message of batch.messages) {
    try {
      await handleAiJob(env, message.body);
      message.ack();
    } catch (e) {
      log("error", "ai_job_failed", { job: message.body, attempts: message.attempts, error: String(e) });
      message.retry({ delaySeconds: 5 * message.attempts });
    }
  }
}
