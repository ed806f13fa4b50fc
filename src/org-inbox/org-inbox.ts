import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { db } from "../db/client";
import { activities } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError, type ErrorCode, type FieldError } from "../lib/errors";
import { log } from "../lib/log";
import { ingest, type IngestInput } from "./ingest";
import type { SlaSettings } from "../sla/due";
import { replaceSla } from "../sla/recompute";
import { removeMember } from "./members";
import { createOutbound, type OutboundInput } from "./outbound";
import { applyState, openConversation, setCallSummary, type StateChange } from "./state";
import { createSuggestion, dismissSuggestion, pendingSuggestion, type SuggestionInput } from "./suggestions";
import { enqueueAiJobs } from "../setter/jobs";

type Refusal = { error: { code: ErrorCode; detail: string; errors?: FieldError[] } };
export type InboxAnswer<T> = { ok: T } | Refusal;

/**
 * One per org (idFromName(org_id)): the only writer of conversation state.
 * D1 awaits do not hold the input gate, so operations are chained explicitly:
 * each starts when the previous one has finished, and each writes one D1 batch.
 */
export class OrgInbox extends DurableObject<Bindings> {
  private tail: Promise<unknown> = Promise.resolve();

  private serialize<T>(op: () => Promise<T>): Promise<InboxAnswer<T>> {
    const run = this.tail.then(async () => {
      try {
        return { ok: await op() };
      } catch (e) {
        // Refusals cross the RPC boundary as data; ApiError's class would not survive it.
        if (e instanceof ApiError) return { error: { code: e.code, detail: e.detail, errors: e.errors } };
        throw e;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One touchpoint; the AI work it calls for (draft, call summary) is queued after the write. */
  ingest(orgId: string, input: IngestInput) {
    return this.serialize(async () => {
      const result = await ingest(db(this.env), orgId, input);
      await enqueueAiJobs(this.env, result.followUps);
      return result;
    });
  }

  createSuggestion(orgId: string, input: SuggestionInput) {
    return this.serialize(() => createSuggestion(db(this.env), orgId, input));
  }

  dismissSuggestion(orgId: string, conversationId: string, suggestionId: string, userId: string) {
    return this.serialize(() => dismissSuggestion(db(this.env), orgId, conversationId, suggestionId, userId));
  }

  /** One-click send: the pending check and the send happen in one turn of the chain, so a racing dismiss loses or wins whole. */
  sendSuggestion(orgId: string, conversationId: string, suggestionId: string, userId: string) {
    return this.serialize(async () => {
      const draft = await pendingSuggestion(db(this.env), orgId, conversationId, suggestionId);
      return this.send(orgId, {
        conversationId,
        type: draft.suggestionChannel ?? "sms",
        body: draft.body ?? "",
        subject: draft.subject,
        mediaIds: [],
        authorId: userId,
        fromSuggestion: draft,
      });
    });
  }

  /** A transcribed call's summary (null: none could be made). A provider's summary is never overwritten. */
  setCallSummary(orgId: string, activityId: string, summary: string | null) {
    return this.serialize(() => setCallSummary(db(this.env), orgId, activityId, summary));
  }

  changeState(orgId: string, conversationId: string, change: StateChange) {
    return this.serialize(() => applyState(db(this.env), orgId, conversationId, change));
  }

  /** A member's message: stored inside the chain, then handed to the send queue. */
  sendMessage(orgId: string, input: OutboundInput) {
    return this.serialize(() => this.send(orgId, input));
  }

  private async send(orgId: string, input: OutboundInput) {
    const d = db(this.env);
    const created = await createOutbound(d, orgId, input);
    if (created.activity.status !== "queued") return created;
    try {
      await this.env.SEND_QUEUE.send({ orgId, messageId: created.activity.id });
    } catch (e) {
      // Stored but not handed over: say so on the message rather than fail the request
      // (a retried request would send twice).
      log("error", "enqueue_failed", { message_id: created.activity.id, error: String(e) });
      const error = { errorCode: "enqueue_failed", errorMessage: "The message could not be queued for sending." };
      await d.update(activities).set({ status: "failed", ...error }).where(eq(activities.id, created.activity.id));
      return { ...created, activity: { ...created.activity, status: "failed", ...error } };
    }
    return created;
  }

  /** The SLA and every waiting conversation's due time move together, between other writes. */
  replaceSla(orgId: string, sla: SlaSettings) {
    return this.serialize(() => replaceSla(db(this.env), orgId, sla));
  }

  removeMember(orgId: string, userId: string) {
    return this.serialize(() => removeMember(db(this.env), orgId, userId));
  }

  openConversation(orgId: string, contactId: string) {
    return this.serialize(() => openConversation(db(this.env), orgId, contactId));
  }
}

/** The org's OrgInbox stub; refusals come back as ApiError again. */
export function orgInbox(env: Pick<Bindings, "ORG_INBOX">, orgId: string) {
  return env.ORG_INBOX.get(env.ORG_INBOX.idFromName(orgId));
}

export function unwrap<T>(answer: InboxAnswer<T>): T {
  if ("error" in answer) throw new ApiError(answer.error.code, answer.error.detail, answer.error.errors);
  return answer.ok;
}
