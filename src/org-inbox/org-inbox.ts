import { DurableObject } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { settings } from "../config/settings";
import { findActivity } from "../conversations/queries";
import type { Db } from "../db/client";
import { orgs } from "../db/control";
import { WEBHOOK_EVENT_TYPES } from "../db/enums";
import { type Activity, contacts, conversations, webhookEndpoints } from "../db/schema";
import { controlDb, isFenced, mirroredShard, orgMoving, rememberShard, SHARD_TTL_MS, shardByName, shardNameOf } from "../db/shards";
import type { Bindings } from "../env";
import { enqueueAiJobs, enqueueSend, enqueueWebhookJobs } from "../jobs";
import { ApiError, type ErrorCode, type FieldError, notFound } from "../lib/errors";
import { log } from "../lib/log";
import { updateMove } from "../operator/moves";
import { type BuiltEvent, buildEvents, SOCKET_TYPES } from "../outbox/build";
import type { SlaSettings } from "../sla/due";
import { replaceViews, type WantedView } from "../views/queries";
import { touchMessage } from "./activity";
import { ApiWindow } from "./api-window";
import { benchCeiling } from "./bench-ceiling";
import { type BulkAction, bulk } from "./bulk";
import { applyCallDetails, type CallDetails } from "./calls";
import { type ConsentChannel, setConsent, TWILIO_OPTED_OUT } from "./consent";
import { type ContactInput, createContact, updateContact } from "./contacts";
import {
  claimSend,
  ENQUEUE_FAILED,
  markEnqueueFailed,
  postmarkEvent,
  type SendResult,
  type Stuck,
  type StuckFinding,
  settleSend,
  settleStuckSend,
  type TwilioStatus,
  twilioStatus,
} from "./delivery";
import { EventHub, type InboxEvent } from "./events";
import { type IngestInput, type IngestResult, ingest } from "./ingest";
import { GROUP_MAX, type GroupOutcome, GroupOutcomeUnknown, ingestGroup } from "./ingest-group";
import { removeLabel, setLabels } from "./labels";
import { removeMember } from "./members";
import { copyAndVerify, deleteOrgRows, dropFence, MoveFailure, setFence } from "./move";
import { createOutbound, type OutboundInput } from "./outbound";
import { Outbox, type Subscriptions } from "./outbox";
import { cancelScheduled, nextScheduledQuery, releaseDue } from "./scheduled";
import { replaceSla } from "./sla";
import { nextWake, snooze, unsnooze, wakeDue } from "./snooze";
import { applyState, openConversation, type StateChange, setCallSummary } from "./state";
import type { PostmarkChange } from "./status-rules";
import { createSuggestion, dismissSuggestion, pendingSuggestion, type SuggestionInput } from "./suggestions";

type Refusal = { error: { code: ErrorCode; detail: string; errors?: FieldError[]; headers?: Record<string, string> } };
export type InboxAnswer<T> = { ok: T } | Refusal;

// Refusals cross the RPC boundary as data; ApiError's class would not survive it.
const refusal = (e: ApiError): Refusal => ({ error: { code: e.code, detail: e.detail, errors: e.errors, headers: e.headers } });

type PendingIngest = { input: IngestInput; resolve: (answer: InboxAnswer<IngestResult>) => void };
/** `calls`: how many ingest calls (a single ingest, or one batch request) joined the group. */
type Group = { orgId: string; items: PendingIngest[]; calls: number };

/** Where OrgInbox reads and writes the org's rows. */
type Home = { name: string; db: Db };

/** A move of the org (SPEC 14), in the object's storage until it is over: copy → grace → cleanup, or copy → rollback. */
type MoveRecord = {
  id: string;
  orgId: string;
  from: string;
  to: string;
  phase: "copy" | "grace" | "cleanup" | "rollback";
  since: number;
  cleanupAt?: number;
  error?: string;
};
const MOVE_KEY = "move";
/** When the move's next step is due (the alarm is shared with snooze wake-ups). */
const MOVE_AT_KEY = "move_at";
/**
 * The org's earliest timed work, a snooze wake-up or a scheduled send (SPEC 17, 20), and the
 * org (the alarm has no other way to learn it). Kept under its first name, "snooze".
 */
type SnoozeRecord = { orgId: string; at: number };
const SNOOZE_KEY = "snooze";
/** The time the alarm was last set for: what is due by then runs when it fires (even early, as a test's runDurableObjectAlarm does). */
const ALARM_AT_KEY = "alarm_at";
const WAKE_RETRY_MS = 10_000;
/** How long the shard an org left keeps its rows (mirrored): every isolate's cache of the org's shard has expired by then. */
export const MOVE_GRACE_MS = SHARD_TTL_MS + 30_000;
const MOVE_RETRY_MS = 10_000;
/** How long the org's webhook subscriptions are trusted without a read (an endpoint's own writes drop them at once). */
const SUBSCRIPTIONS_TTL_MS = 60_000;
/** At most one immediate dispatch job a second per org; the writes in between share a delayed one. */
const DISPATCH_EVERY_MS = 1000;
/** A lone ingest waits this long for company (commitGroup), when recent groups averaged over LINGER_ABOVE callers. */
export const LINGER_MS = 1;
export const LINGER_ABOVE = 1.5;

const mirroredHome = (env: Bindings, move: MoveRecord): Home => ({
  name: move.to,
  db: mirroredShard(env, move.to, move.from, { orgId: move.orgId, moveId: move.id, since: move.since }),
});

/**
 * One per org (idFromName(org_id)): the only writer of conversation state.
 * D1 awaits do not hold the input gate, so operations are chained explicitly:
 * each starts when the previous one has finished, and each writes one D1 batch.
 */
export class OrgInbox extends DurableObject<Bindings> {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly events: EventHub;
  private shard: Promise<Home> | null = null;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.events = new EventHub(ctx);
  }

  /**
   * The org's shard, resolved once (src/db/shards.ts, past the cache) and kept for the
   * object's life: every write of the org passes here, and a move (runMove) changes it.
   * While the shard the org left waits out the caches, writes are mirrored there. A failed
   * resolution is not kept.
   */
  private home(orgId: string): Promise<Home> {
    if (!this.shard) {
      const resolving = this.resolveHome(orgId);
      this.shard = resolving;
      resolving.catch(() => {
        if (this.shard === resolving) this.shard = null;
      });
    }
    return this.shard;
  }

  private async resolveHome(orgId: string): Promise<Home> {
    const move = await this.ctx.storage.get<MoveRecord>(MOVE_KEY);
    if (move?.phase === "grace") return mirroredHome(this.env, move);
    const name = await shardNameOf(this.env, orgId, { fresh: true });
    if (!name) throw notFound("Org");
    return { name, db: shardByName(this.env, name) };
  }

  private async db(orgId: string): Promise<Db> {
    return (await this.home(orgId)).db;
  }

  /** The event types the org's enabled endpoints take, cached (forgetSubscriptions drops it when an endpoint changes). */
  private subscribed: { types: Subscriptions; at: number } | null = null;

  private async subscriptions(orgId: string, db: Db): Promise<Subscriptions> {
    if (this.subscribed && Date.now() - this.subscribed.at < SUBSCRIPTIONS_TTL_MS) return this.subscribed.types;
    const rows = await db
      .select({ events: webhookEndpoints.events })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.enabled, true)))
      .all();
    const types = new Set(rows.flatMap((r) => (r.events.includes("*") ? WEBHOOK_EVENT_TYPES : r.events.filter((t) => t !== "*"))));
    this.subscribed = { types, at: Date.now() };
    return types;
  }

  /** The shard and the Outbox of one turn that changes something. */
  private async turn(orgId: string): Promise<{ db: Db; out: Outbox }> {
    const db = await this.db(orgId);
    return { db, out: new Outbox(db, orgId, await this.subscriptions(orgId, db), (n) => this.events.takeHookSeq(n)) };
  }

  /**
   * After a committed write, its events: to the sockets (built only while someone listens
   * or may resume, since building can cost a read; otherwise their sequence numbers are
   * taken so a resuming client sees the gap), and, when outbox rows were written, a
   * dispatch job (should it be lost, the Cron sweep finds the rows). Never fails the write.
   */
  private async announce(orgId: string, out: Outbox) {
    const forSockets = out.kept.filter((r) => SOCKET_TYPES.has(r.type));
    try {
      if (!this.events.listening()) this.events.skip(forSockets.length);
      else {
        const built = await buildEvents(this.env, await this.db(orgId), orgId, forSockets);
        this.events.publish(built.filter((e): e is BuiltEvent => e !== null) as InboxEvent[]);
      }
    } catch (e) {
      log("error", "event_build_failed", { error: String(e) });
    }
    if (!out.rows) return;
    await this.dispatchSoon(orgId);
  }

  /** Writes before this time are covered by a dispatch job already queued to run after it. */
  private dispatchCoveredUntil = 0;
  private lastDispatchQueuedAt = 0;

  /**
   * A dispatch job for the org's new outbox rows (each run takes every row not yet
   * dispatched). Under load, one a second: the first write after a quiet second queues
   * one at once (an idle org's event goes out without waiting); the writes after it within
   * the second share one job delayed by a second, which runs after all of them.
   */
  private async dispatchSoon(orgId: string, now = Date.now()) {
    if (now < this.dispatchCoveredUntil) return;
    const delaySeconds = now - this.lastDispatchQueuedAt >= DISPATCH_EVERY_MS ? 0 : DISPATCH_EVERY_MS / 1000;
    try {
      await enqueueWebhookJobs(this.env, [{ kind: "dispatch", orgId }], delaySeconds);
      this.lastDispatchQueuedAt = now;
      this.dispatchCoveredUntil = now + delaySeconds * 1000;
    } catch (e) {
      // The rows are stored: the sweep dispatches them.
      log("error", "webhook_enqueue_failed", { org_id: orgId, error: String(e) });
    }
  }

  /** An endpoint was created, changed or deleted: the next turn reads the subscriptions again. */
  forgetSubscriptions(_orgId: string) {
    return this.serialize(async () => {
      this.subscribed = null;
      return true;
    });
  }

  /** GET /events, forwarded by the Worker after it checked the token and the membership. */
  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-inbox-user");
    const role = request.headers.get("x-inbox-role");
    if (!userId || !role || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response(null, { status: 400 });
    const since = request.headers.get("x-inbox-since");
    return this.events.accept({ userId, role }, since === null ? null : Number(since));
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    // The stream is one-way; "ping" is answered by the runtime's auto-response.
    if (message !== "ping") ws.send(JSON.stringify({ type: "error", detail: 'This socket only sends events; send "ping" to keep it alive.' }));
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string) {
    this.events.closed();
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }

  override webSocketError() {
    this.events.closed();
  }

  /** Ingests waiting for their turn together (SPEC 15); closed by any other write queued after it. */
  private openGroup: Group | null = null;
  /** What group commit did in this object's life (tests and logs read it). */
  readonly groups = { commits: 0, items: 0, largest: 0, retriedAlone: 0 };

  private serialize<T>(op: () => Promise<T>): Promise<InboxAnswer<T>> {
    this.openGroup = null;
    const run = this.tail.then(async () => {
      try {
        return { ok: await op() };
      } catch (e) {
        if (e instanceof ApiError) return refusal(e);
        throw e;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * One touchpoint. Ingests that arrive while an earlier write is in flight wait in one
   * group and are committed together (SPEC 15, ingestGroup); the AI work they call for
   * (a draft, a call summary) is queued after the write.
   */
  async ingest(orgId: string, input: IngestInput): Promise<InboxAnswer<IngestResult>> {
    const [answer] = await this.ingestMany(orgId, [input]);
    return answer;
  }

  /** POST /activities/batch: the items join the queued group in order; one answer per item. */
  ingestMany(orgId: string, inputs: IngestInput[]): Promise<InboxAnswer<IngestResult>[]> {
    if (!this.openGroup) {
      const group: Group = { orgId, items: [], calls: 0 };
      this.serialize(() => this.commitGroup(group)).catch(() => undefined);
      // serialize() closed any open group; this one stays open until its turn starts or
      // another kind of write queues behind it (arrival order is kept).
      this.openGroup = group;
    }
    const group = this.openGroup;
    group.calls++;
    return Promise.all(
      inputs.map(
        (input) =>
          new Promise<InboxAnswer<IngestResult>>((resolve) => {
            group.items.push({ input, resolve });
          }),
      ),
    );
  }

  /**
   * How many calls recent groups gathered (an exponential average; forgotten after a quiet
   * second since the last commit ended): above LINGER_ABOVE, ingests arrive concurrently.
   * Calls, not items: one batch request of 500 is one caller, not load.
   */
  private concurrency = 1;
  private lastCommitEnded = 0;

  /**
   * A group's turn. Under concurrent load (recent groups held several callers) a group of
   * one waits a millisecond for the ingests on their way, so they share its reads and its
   * write instead of each paying its own (issue 16: at 16 connections about half the
   * commits were of one item); alone, an ingest never waits. The wait is inside the turn:
   * a write queued meanwhile closes the group and runs after it, as without the wait.
   */
  private async commitGroup(group: Group) {
    if (Date.now() - this.lastCommitEnded > 1000) this.concurrency = 1;
    if (group.items.length === 1 && this.openGroup === group && this.concurrency > LINGER_ABOVE) await new Promise((r) => setTimeout(r, LINGER_MS));
    if (this.openGroup === group) this.openGroup = null;
    this.concurrency = this.concurrency * 0.8 + group.calls * 0.2;
    try {
      await this.commitSlices(group);
    } finally {
      this.lastCommitEnded = Date.now();
    }
  }

  /** A group's items in slices of GROUP_MAX, each slice one commit (one by one if the commit fails). */
  private async commitSlices(group: Group) {
    for (let i = 0; i < group.items.length; i += GROUP_MAX) {
      const slice = group.items.slice(i, i + GROUP_MAX);
      if (slice.length === 1) {
        await this.ingestOne(group.orgId, slice[0]);
        continue;
      }
      let outcomes: GroupOutcome[] | null = null;
      let out: Outbox | null = null;
      try {
        const turn = await this.turn(group.orgId);
        out = turn.out;
        outcomes = await ingestGroup(
          turn.db,
          group.orgId,
          slice.map((p) => p.input),
          out,
        );
      } catch (e) {
        if (e instanceof GroupOutcomeUnknown) {
          // Stored or not, nobody can tell: every item answers 500, none is replayed.
          log("error", "group_commit_unknown", { org_id: group.orgId, items: slice.length, error: e.message });
          for (const pending of slice) {
            pending.resolve(refusal(new ApiError("internal", "Whether this item was stored is unknown; retry it (its provider_message_id dedups).")));
          }
          continue;
        }
        // One poisoned item fails the batch (or the shard could not be resolved): each is
        // tried alone, so it fails alone, with its own answer.
        log("warn", "group_commit_failed", { org_id: group.orgId, items: slice.length, error: String(e) });
      }
      if (!outcomes || !out) {
        this.groups.retriedAlone += slice.length;
        for (const pending of slice) await this.ingestOne(group.orgId, pending);
        continue;
      }
      this.groups.commits++;
      this.groups.items += slice.length;
      this.groups.largest = Math.max(this.groups.largest, slice.length);
      await this.announce(group.orgId, out);
      for (const [k, outcome] of outcomes.entries()) {
        slice[k].resolve("refused" in outcome ? refusal(outcome.refused) : { ok: outcome.ok });
      }
      await enqueueAiJobs(
        this.env,
        outcomes.flatMap((o) => ("ok" in o ? (o.ok.followUps ?? []) : [])),
      );
    }
  }

  /** One item on its own: the one-by-one path, and the retry of a failed group. */
  private async ingestOne(orgId: string, pending: PendingIngest) {
    try {
      const { db, out } = await this.turn(orgId);
      const result = await ingest(db, orgId, pending.input, out);
      await this.announce(orgId, out);
      await enqueueAiJobs(this.env, result.followUps);
      pending.resolve({ ok: result });
    } catch (e) {
      if (e instanceof ApiError) return pending.resolve(refusal(e));
      // The org is between shards (an object restarted mid-move, a rollback to retry):
      // nothing was written, and a retry will find it settled.
      if (isFenced(e)) {
        return pending.resolve(refusal(orgMoving()));
      }
      // This item alone failed (the others of its group are stored): a 500 for it.
      log("error", "ingest_failed", { org_id: orgId, error: String(e), stack: e instanceof Error ? e.stack : undefined });
      pending.resolve(refusal(new ApiError("internal", "This item could not be stored; the request id identifies it in our logs.")));
    }
  }

  createSuggestion(orgId: string, input: SuggestionInput) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const draft = await createSuggestion(db, orgId, input, out);
      await this.announce(orgId, out);
      return draft;
    });
  }

  dismissSuggestion(orgId: string, conversationId: string, suggestionId: string, userId: string) {
    return this.serialize(async () => dismissSuggestion(await this.db(orgId), orgId, conversationId, suggestionId, userId));
  }

  /** One-click send: the pending check and the send happen in one turn of the chain, so a racing dismiss loses or wins whole. */
  sendSuggestion(orgId: string, conversationId: string, suggestionId: string, userId: string) {
    return this.serialize(async () => {
      const draft = await pendingSuggestion(await this.db(orgId), orgId, conversationId, suggestionId);
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
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const call = await setCallSummary(db, orgId, activityId, summary, out);
      await this.announce(orgId, out);
      return call;
    });
  }

  /** Late call details (status, recording, transcript): the row, the thread's preview, their events, the summary job. */
  applyCallDetails(orgId: string, activityId: string, details: CallDetails) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const update = await applyCallDetails(db, orgId, activityId, details, out);
      if (!update) return null;
      await this.announce(orgId, out);
      await enqueueAiJobs(this.env, update.followUps);
      return update.call.id;
    });
  }

  /**
   * A message whose presentation changed with something outside its row (an inbound media
   * copy ready or failed): its updated_at moves (GET /activities?updated_since) and
   * message.updated is announced.
   */
  touchMessage(orgId: string, activityId: string) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const touched = await touchMessage(db, orgId, activityId, out);
      await this.announce(orgId, out);
      return touched;
    });
  }

  /** The send consumer's claim (queued → sending, at most once); null when the message is not queued. Not announced. */
  claimSend(orgId: string, messageId: string) {
    return this.serialize(async () => claimSend(await this.db(orgId), orgId, messageId));
  }

  /** The send consumer's outcome, after the provider answered (outside the chain). */
  settleSend(orgId: string, messageId: string, result: SendResult) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      await settleSend(db, orgId, messageId, result, out);
      // Twilio refused it because the recipient opted out (21610): so have they, here (SPEC 19).
      if (result.status === "failed" && result.errorCode === TWILIO_OPTED_OUT) {
        const message = await findActivity(db, orgId, messageId);
        if (message) {
          await setConsent(db, orgId, eq(contacts.id, message.contactId), "sms", true, "provider", out, async () => message.conversationId);
        }
      }
      await this.announce(orgId, out);
      return true;
    });
  }

  /** A Twilio status callback: "applied", "stale" or "unknown" (no message of the org has this sid yet). */
  applyTwilioStatus(orgId: string, status: TwilioStatus) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const applied = await twilioStatus(db, orgId, status, out);
      await this.announce(orgId, out);
      return applied.outcome;
    });
  }

  /**
   * A provider's word on an address (SPEC 19): every contact of the org with it opts out of
   * (or back into) the channel, each change announced. Answers the contacts that changed.
   */
  setConsentByAddress(orgId: string, channel: ConsentChannel, address: string, optOut: boolean) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const where = channel === "sms" ? eq(contacts.phone, address) : eq(contacts.email, address);
      const changed = await setConsent(db, orgId, where, channel, optOut, "provider", out, (id) => this.conversationOfContact(db, orgId, id));
      await this.announce(orgId, out);
      return changed;
    });
  }

  private async conversationOfContact(db: Db, orgId: string, contactId: string) {
    const row = await db
      .select({ id: conversations.id })
      .from(conversations)
      .where(and(eq(conversations.orgId, orgId), eq(conversations.contactId, contactId)))
      .get();
    return row?.id ?? null;
  }

  /** A Postmark Delivery, Bounce or SpamComplaint for our email `messageId` (change null: a record type we do not apply). */
  applyPostmarkEvent(orgId: string, messageId: string, pmid: string, change: PostmarkChange | null) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const result = await postmarkEvent(db, orgId, messageId, pmid, change, out);
      await this.announce(orgId, out);
      return result;
    });
  }

  /** The send sweep's finding about a message stuck in `sending` (the provider was asked outside the chain). */
  settleStuckSend(orgId: string, stuck: Stuck, finding: StuckFinding, now: number) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      // The sweep's run began earlier (it asked the provider first): the write takes the time
      // of its turn, so updated_at never falls behind a change already committed (GET /activities).
      const outcome = await settleStuckSend(db, this.env, orgId, stuck, finding, Math.max(now, Date.now()), out);
      await this.announce(orgId, out);
      return outcome;
    });
  }

  changeState(orgId: string, conversationId: string, change: StateChange) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const row = await applyState(db, controlDb(this.env), orgId, conversationId, change, out);
      await this.announce(orgId, out);
      if (change.kind === "archive" && !change.archived && out.kept.length) await this.armWake(orgId, db);
      return row;
    });
  }

  /** PUT /conversations/{id}/labels (SPEC 17): the set and its event in one batch; the same set writes nothing. */
  setLabels(orgId: string, conversationId: string, labelIds: string[]) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const row = await setLabels(db, orgId, conversationId, labelIds, out);
      await this.announce(orgId, out);
      return row;
    });
  }

  /** DELETE /labels/{id}: one turn of its removal ("more": the Worker calls again; src/org-inbox/labels.ts). */
  removeLabel(orgId: string, labelId: string) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const outcome = await removeLabel(db, orgId, labelId, out);
      await this.announce(orgId, out);
      return outcome;
    });
  }

  /**
   * POST /conversations/bulk (SPEC 17): one action on many conversations in this one turn,
   * a result per distinct id (src/org-inbox/bulk.ts); the events announced together, the
   * alarm re-armed once when a snooze or an unarchive changed something.
   */
  bulk(orgId: string, ids: string[], action: BulkAction) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const results = await bulk(db, controlDb(this.env), orgId, ids, action, out);
      await this.announce(orgId, out);
      const wakes = action.kind === "snooze" || (action.kind === "state" && action.change.kind === "archive" && !action.change.archived);
      if (wakes && out.kept.length) await this.armWake(orgId, db);
      return results;
    });
  }

  /** POST /conversations/{id}/snooze (SPEC 17): archived until `until`; the alarm follows the org's earliest wake-up. */
  snooze(orgId: string, conversationId: string, until: number) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const row = await snooze(db, orgId, conversationId, until, out);
      await this.announce(orgId, out);
      if (out.kept.length) await this.armWake(orgId, db);
      return row;
    });
  }

  /** DELETE /conversations/{id}/snooze: woken now. */
  unsnooze(orgId: string, conversationId: string) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const row = await unsnooze(db, orgId, conversationId, out);
      await this.announce(orgId, out);
      if (out.kept.length) await this.armWake(orgId, db);
      return row;
    });
  }

  /**
   * The org's earliest wake-up, read from D1 (one index step), kept in storage with the org
   * (both survive eviction), and the alarm set for it or the move's next step, whichever is
   * first. An inbound message that wakes a conversation does not re-arm: the alarm may then
   * come early, find nothing due, and re-arm for the next one.
   */
  private async armWake(orgId: string, db: Db) {
    const [wake, scheduled] = await Promise.all([nextWake(db, orgId), nextScheduledQuery(db, orgId).get()]);
    const times = [wake, scheduled?.at ?? null].filter((t): t is number => t !== null);
    const at = times.length ? Math.min(...times) : null;
    if (at === null) await this.ctx.storage.delete(SNOOZE_KEY);
    else await this.ctx.storage.put(SNOOZE_KEY, { orgId, at } satisfies SnoozeRecord);
    await this.rearm();
  }

  /**
   * A scheduled send stored: the org's timed work is due by `at` at the latest. From the
   * object's storage alone (no D1 read), and never the request's failure: the message is
   * stored, and a retried request would store it twice. A failure is logged; an alarm that
   * comes early or late finds what is due and re-arms from D1.
   */
  private async armBy(orgId: string, at: number) {
    try {
      const wake = await this.ctx.storage.get<SnoozeRecord>(SNOOZE_KEY);
      if (wake && wake.at <= at) return;
      await this.ctx.storage.put(SNOOZE_KEY, { orgId, at } satisfies SnoozeRecord);
      await this.rearm();
    } catch (e) {
      log("error", "scheduled_arm_failed", { org_id: orgId, at, error: String(e) });
    }
  }

  /** One alarm for two kinds of work: the earliest of the move's next step and the next snooze wake-up; none when neither. */
  private async rearm() {
    const [move, moveAt, wake] = await Promise.all([
      this.ctx.storage.get<MoveRecord>(MOVE_KEY),
      this.ctx.storage.get<number>(MOVE_AT_KEY),
      this.ctx.storage.get<SnoozeRecord>(SNOOZE_KEY),
    ]);
    const times = [...(move ? [moveAt ?? Date.now()] : []), ...(wake ? [wake.at] : [])];
    if (!times.length) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.delete(ALARM_AT_KEY);
      return;
    }
    const at = Math.min(...times);
    // Set even when unchanged: inside alarm() the firing alarm is cleared when it returns.
    await this.ctx.storage.put(ALARM_AT_KEY, at);
    await this.ctx.storage.setAlarm(at);
  }

  /** A move step is due at `at` (the alarm is shared: see rearm). */
  private async armMove(at: number) {
    await this.ctx.storage.put(MOVE_AT_KEY, at);
    await this.rearm();
  }

  /**
   * The alarm's org part, in one turn of the chain: every due conversation woken and the due
   * scheduled messages released (src/org-inbox/scheduled.ts) and handed to the send queue;
   * more than a turn takes: the next run, at once.
   */
  private async wakeUp(wake: SnoozeRecord, due: number) {
    const answer = await this.serialize(async () => {
      const { db, out } = await this.turn(wake.orgId);
      const woken = await wakeDue(db, wake.orgId, out, due);
      await releaseDue(db, wake.orgId, out, (message) => this.handOver(wake.orgId, message), due);
      await this.announce(wake.orgId, out);
      await this.armWake(wake.orgId, db);
      return woken;
    });
    if (!("error" in answer)) return;
    // The org is gone: nothing of it will wake.
    if (answer.error.code === "not_found") await this.ctx.storage.delete(SNOOZE_KEY);
    else throw new Error(answer.error.detail);
  }

  /** The org's API calls this minute (SPEC 11: RATE_LIMIT_PER_MINUTE); memory only, outside the write chain. */
  private readonly apiWindow = new ApiWindow();
  spendApi(windowStart: number, spent: number, want: number, limit: number) {
    return this.apiWindow.spend(windowStart, spent, want, limit);
  }

  /** A member's message: stored inside the chain, then handed to the send queue. */
  sendMessage(orgId: string, input: OutboundInput) {
    return this.serialize(() => this.send(orgId, input));
  }

  /** Per-member sends a minute (SPEC 11: SEND_LIMIT_PER_MINUTE), exact: every send of the org passes here. */
  private readonly recentSends = new Map<string, number[]>();
  private checkSend(userId: string, now = Date.now()) {
    const limit = settings(this.env).sendLimitPerMinute;
    if (limit === 0) return;
    const recent = (this.recentSends.get(userId) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= limit) {
      const wait = Math.max(1, Math.ceil((recent[0] + 60_000 - now) / 1000));
      this.recentSends.set(userId, recent);
      throw new ApiError("rate_limited", `You sent ${limit} messages in the last minute; retry in ${wait} s.`, undefined, { "retry-after": String(wait) });
    }
    this.recentSends.set(userId, recent);
  }

  private async send(orgId: string, input: OutboundInput) {
    const { db, out } = await this.turn(orgId);
    if (input.type !== "note") this.checkSend(input.authorId);
    const created = await createOutbound(db, orgId, input, out);
    // Only stored sends count against the limit (a refused one sent nothing); a scheduled one counts when it is made.
    if (input.type !== "note") this.recentSends.get(input.authorId)?.push(Date.now()) ?? this.recentSends.set(input.authorId, [Date.now()]);
    await this.announce(orgId, out);
    if (created.activity.status === "scheduled") await this.armBy(orgId, created.activity.sendAt ?? Date.now());
    if (created.activity.status !== "queued") return created;
    return { ...created, activity: await this.handOver(orgId, created.activity) };
  }

  /**
   * A `queued` message handed to the send queue. Stored but not handed over: said on the
   * message (failed, enqueue_failed) rather than as the request's failure (a retried request
   * would send twice). Answers the message as it now is.
   */
  private async handOver(orgId: string, message: Activity): Promise<Activity> {
    try {
      await enqueueSend(this.env, { orgId, messageId: message.id });
      return message;
    } catch (e) {
      log("error", "enqueue_failed", { message_id: message.id, error: String(e) });
      const failed = await this.turn(orgId);
      const now = Date.now();
      await markEnqueueFailed(failed.db, orgId, message.id, now, failed.out);
      await this.announce(orgId, failed.out);
      return { ...message, status: "failed", ...ENQUEUE_FAILED, updatedAt: now };
    }
  }

  /** DELETE /conversations/{id}/messages/{message_id} (SPEC 20): a scheduled message canceled; the alarm may then come early and find nothing. */
  cancelMessage(orgId: string, conversationId: string, messageId: string) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const canceled = await cancelScheduled(db, orgId, conversationId, messageId, out);
      await this.announce(orgId, out);
      return canceled;
    });
  }

  /** The SLA and every waiting conversation's due time move together, between other writes. */
  replaceSla(orgId: string, sla: SlaSettings) {
    return this.serialize(async () => replaceSla(await this.db(orgId), orgId, sla));
  }

  /**
   * DELETE /members/{user_id}: the member row goes from the control database (unless they
   * are the last owner), then their threads, views and tallies are released in the shard.
   * "absent": no such member and nothing of theirs left; a repeated DELETE after a failed
   * second step finds their leftovers and finishes it ("removed").
   */
  removeMember(orgId: string, userId: string) {
    return this.serialize(async () => {
      const outcome = await removeMember(controlDb(this.env), await this.db(orgId), orgId, userId);
      if (outcome === "removed") this.events.disconnect(userId);
      return outcome;
    });
  }

  /** PUT /conversations/views: a member's saves one at a time, so each is a whole replace (SPEC 7). */
  replaceViews(orgId: string, userId: string, wanted: WantedView[]) {
    return this.serialize(async () => replaceViews(await this.db(orgId), orgId, userId, wanted));
  }

  /** POST /contacts: serialized with ingest, which creates contacts too. */
  createContact(orgId: string, input: ContactInput) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const contact = await createContact(db, orgId, input, out);
      await this.announce(orgId, out);
      return contact;
    });
  }

  /** PATCH /contacts/{id}; the contact's conversation shows the contact, so it is announced. */
  updateContact(orgId: string, contactId: string, input: ContactInput) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const result = await updateContact(db, orgId, contactId, input, out);
      await this.announce(orgId, out);
      return result.contact;
    });
  }

  openConversation(orgId: string, contactId: string) {
    return this.serialize(async () => {
      const { db, out } = await this.turn(orgId);
      const opened = await openConversation(db, orgId, contactId, out);
      await this.announce(orgId, out);
      return opened;
    });
  }

  /** POST /bench/ceiling (bench only): the raw write rate the group commit is measured against. */
  benchCeiling(orgId: string, conversationId: string, items: { body?: string | null }[]) {
    return this.serialize(async () => benchCeiling(await this.db(orgId), orgId, conversationId, items));
  }

  /** Where the org's rows are, once any move ahead in the chain is over: a writer fenced out of a shard asks this (inOrgShard). */
  shardName(orgId: string) {
    return this.serialize(async () => (await this.home(orgId)).name);
  }

  /**
   * POST /operator/orgs/{org_id}/move, after its control row: kept in storage and run by
   * the alarm, which runs again after a restart or a failed step, from where it stood.
   */
  startMove(orgId: string, move: { id: string; from: string; to: string }) {
    return this.serialize(async () => {
      if (await this.ctx.storage.get(MOVE_KEY)) throw new ApiError("move_in_progress", "This org is already moving.");
      await this.ctx.storage.put(MOVE_KEY, { ...move, orgId, phase: "copy", since: Date.now() } satisfies MoveRecord);
      await this.armMove(Date.now());
      return move.id;
    });
  }

  /**
   * The one alarm of the object runs what is due of two kinds of work: the org's move step
   * (SPEC 14) and its snooze wake-ups (SPEC 17); then it is set for the next of either.
   */
  override async alarm() {
    // What was due by the time the alarm was set for (later if it fires late).
    const now = Math.max(Date.now(), (await this.ctx.storage.get<number>(ALARM_AT_KEY)) ?? 0);
    const move = await this.ctx.storage.get<MoveRecord>(MOVE_KEY);
    const moveAt = await this.ctx.storage.get<number>(MOVE_AT_KEY);
    // A move stored without its time (before snooze shared the alarm) is due.
    if (move && (moveAt === undefined || moveAt <= now)) {
      try {
        if (move.phase === "copy") await this.serialize(() => this.runMove(move));
        else if (move.phase === "rollback") await this.serialize(() => this.rollBack(move, move.error ?? "the move was interrupted"));
        else await this.finishMove(move);
      } catch (e) {
        log("error", "move_step_failed", { org_id: move.orgId, move_id: move.id, phase: move.phase, error: String(e) });
        await this.ctx.storage.put(MOVE_AT_KEY, Date.now() + MOVE_RETRY_MS);
      }
    }
    const wake = await this.ctx.storage.get<SnoozeRecord>(SNOOZE_KEY);
    if (wake && wake.at <= now) {
      try {
        await this.wakeUp(wake, now);
      } catch (e) {
        log("error", "snooze_wake_failed", { org_id: wake.orgId, error: String(e) });
        await this.ctx.storage.put(SNOOZE_KEY, { ...wake, at: Date.now() + WAKE_RETRY_MS } satisfies SnoozeRecord);
      }
    }
    await this.rearm();
  }

  /**
   * One turn of the chain, so the org's writes wait (SPEC 14): fence the source, copy and
   * verify, flip orgs.shard, then answer from the target with writes mirrored to the
   * source until every cache has expired (finishMove). Any failure before the flip rolls
   * the copy back: the org stays where it was, whole.
   */
  private async runMove(move: MoveRecord) {
    const control = controlDb(this.env);
    if ((await shardNameOf(this.env, move.orgId, { fresh: true })) === move.to) return this.enterGrace(move);
    const from = shardByName(this.env, move.from);
    const to = shardByName(this.env, move.to);
    this.shard = Promise.resolve({ name: move.from, db: from });
    try {
      await setFence(from, move.orgId, move.id, "held", move.since);
      // The target may keep the fence of an earlier move away from it, and leftovers of an
      // attempt that was cut short.
      await dropFence(to, move.orgId);
      await deleteOrgRows(to, move.orgId);
      const tables = await copyAndVerify(from, to, move.orgId, (status, progress) =>
        updateMove(control, move.id, { status, tables: progress }).then(() => undefined),
      );
      const now = Date.now();
      const [flipped] = await control.batch([
        control
          .update(orgs)
          .set({ shard: move.to })
          .where(and(eq(orgs.id, move.orgId), eq(orgs.shard, move.from))),
        updateMove(control, move.id, { status: "done", tables, switchedAt: now }, now),
      ]);
      if (flipped.meta.changes !== 1) throw new MoveFailure(`the org no longer lives on ${move.from}`);
    } catch (e) {
      return this.rollBack(move, e instanceof MoveFailure ? e.message : `a database error: ${String(e)}`);
    }
    return this.enterGrace(move);
  }

  private async enterGrace(move: MoveRecord) {
    rememberShard(move.orgId, move.to);
    const grace: MoveRecord = { ...move, phase: "grace", cleanupAt: Date.now() + MOVE_GRACE_MS };
    await this.ctx.storage.put(MOVE_KEY, grace);
    await this.armMove(grace.cleanupAt!);
    this.shard = Promise.resolve(mirroredHome(this.env, grace));
    log("info", "org_moved", { org_id: move.orgId, move_id: move.id, from: move.from, to: move.to });
  }

  /** A move that failed before the flip: the partial copy goes, the fence goes, the org is where it was. */
  private async rollBack(move: MoveRecord, error: string) {
    if ((await shardNameOf(this.env, move.orgId, { fresh: true })) === move.to) return this.enterGrace(move);
    log("error", "move_failed", { org_id: move.orgId, move_id: move.id, error });
    await this.ctx.storage.put(MOVE_KEY, { ...move, phase: "rollback", error } satisfies MoveRecord);
    this.shard = null;
    await deleteOrgRows(shardByName(this.env, move.to), move.orgId);
    await dropFence(shardByName(this.env, move.from), move.orgId);
    await updateMove(controlDb(this.env), move.id, { status: "failed", error, finishedAt: Date.now() });
    await this.ctx.storage.delete([MOVE_KEY, MOVE_AT_KEY]);
  }

  /**
   * Every cache has expired: stop mirroring, delete the org's rows from the shard it left.
   * The fence stays (`moved`): a request that resolved the old shard before the flip and is
   * still running is refused there, and redone where the org is, however late it comes.
   */
  private async finishMove(move: MoveRecord) {
    await this.ctx.storage.put(MOVE_KEY, { ...move, phase: "cleanup" } satisfies MoveRecord);
    await this.serialize(async () => {
      this.shard = Promise.resolve({ name: move.to, db: shardByName(this.env, move.to) });
    });
    const from = shardByName(this.env, move.from);
    await setFence(from, move.orgId, move.id, "deleting", move.since);
    const deleted = await deleteOrgRows(from, move.orgId);
    await setFence(from, move.orgId, move.id, "moved", move.since);
    await updateMove(controlDb(this.env), move.id, { finishedAt: Date.now() });
    await this.ctx.storage.delete([MOVE_KEY, MOVE_AT_KEY]);
    log("info", "org_move_finished", { org_id: move.orgId, move_id: move.id, deleted });
  }
}
