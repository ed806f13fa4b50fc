import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { activities, webhookEvents } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import type { EventRef, WebhookEventType } from "../outbox/build";

// The transactional outbox of outgoing webhooks (SPEC 18, issue 17). Each turn of
// OrgInbox's chain that changes something gets an Outbox: the writer records the events
// of its change here and puts the rows this answers into the same D1 batch as the change,
// so a crash can delay an event (the sweep finds it) but never lose it. Rows are written
// only for types some enabled endpoint of the org subscribes to; every event is recorded
// for the sockets of GET /events either way. A change that may not happen (a conditional
// update, an insert a duplicate skips) writes its rows under the same condition, inside
// the batch, and its events are kept only when it happened.

/** The event types some enabled endpoint of the org takes. */
export type Subscriptions = ReadonlySet<WebhookEventType>;

const COLUMNS = Object.values(getTableColumns(webhookEvents)).map((c) => c.name);

/** Inside the batch: the activity `id` is stored (an insert a duplicate skipped leaves none). */
export const activityStored = (id: string) => sql`EXISTS (SELECT 1 FROM ${activities} WHERE ${activities.id} = ${id})`;
/** Inside the batch: the statement just before changed a row. */
export const changedRow = sql`changes() > 0`;

export class Outbox {
  /** The turn's events whose change happened, in order. */
  readonly kept: EventRef[] = [];
  /** Outbox rows put into batches this turn. */
  rows = 0;

  constructor(
    private readonly db: Db,
    private readonly orgId: string,
    private readonly subscribed: Subscriptions,
    /** Takes `n` numbers of the org's webhook sequence; answers the first. */
    private readonly takeSeq: (n: number) => number,
    private readonly now = Date.now(),
  ) {}

  /** One INSERT … SELECT … FROM json_each of the subscribed ones among `refs`, under `when`; none when no endpoint takes them. */
  private insert(refs: EventRef[], when?: SQL) {
    const wanted = refs.filter((r) => this.subscribed.has(r.type));
    if (!wanted.length) return null;
    const first = this.takeSeq(wanted.length);
    this.rows += wanted.length;
    const rows = wanted.map((r, i) => ({
      id: uuidv7(this.now),
      org_id: this.orgId,
      seq: first + i,
      type: r.type,
      conversation_id: r.conversationId,
      object_id: r.objectId,
      detail: r.detail ? JSON.stringify(r.detail) : null,
      body: null,
      dispatched_at: null,
      created_at: this.now,
    }));
    const fields = sql.raw(COLUMNS.map((c) => `json_extract(value, '$.${c}')`).join(", "));
    return this.db.insert(webhookEvents).select(sql`SELECT ${fields} FROM json_each(${JSON.stringify(rows)}) WHERE ${when ?? sql`true`}`);
  }

  /** Whether events of `type` get outbox rows (some enabled endpoint takes the type). */
  writes(type: WebhookEventType) {
    return this.subscribed.has(type);
  }

  /** Events that happen with the batch: kept now; their rows go into it. */
  add(...refs: EventRef[]): BatchItem<"sqlite">[] {
    this.kept.push(...refs);
    const q = this.insert(refs);
    return q ? [q] : [];
  }

  /** The same, as D1 statements, for a batch of prepared statements (the group commit). */
  addRaw(d1: D1Database, refs: EventRef[]): D1PreparedStatement[] {
    this.kept.push(...refs);
    const q = this.insert(refs);
    if (!q) return [];
    const { sql: text, params } = q.toSQL();
    return [d1.prepare(text).bind(...params)];
  }

  /** Events that happen only if `when` holds inside the batch; the caller says afterwards whether they did (settle). */
  addIf(when: SQL, ...refs: EventRef[]): BatchItem<"sqlite">[] {
    const q = this.insert(refs, when);
    return q ? [q] : [];
  }

  /** After the batch: the events of addIf (or of a change with no rows to write) that happened are kept, an object once a turn. */
  settle(happened: boolean, ...refs: EventRef[]) {
    if (happened) this.kept.push(...refs.filter((r) => !this.kept.some((k) => k.type === r.type && k.objectId === r.objectId)));
  }

  /**
   * A conditional update with its events, in one batch: the events are kept (and their
   * rows stay) only if it changed a row. Answers the update's RETURNING rows.
   */
  async changed<T>(update: BatchItem<"sqlite"> & PromiseLike<T[]>, ...refs: EventRef[]): Promise<T[]> {
    // An object announced earlier in the turn is not announced twice: its event is built
    // after the turn, from the row as the turn left it.
    const fresh = refs.filter((r) => !this.kept.some((k) => k.type === r.type && k.objectId === r.objectId));
    if (fresh.length < refs.length) return this.changed(update, ...fresh);
    const rows = this.addIf(changedRow, ...refs);
    const [result] = rows.length ? ((await this.db.batch([update, ...rows] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])) as [T[]]) : [await update];
    this.settle(result.length > 0, ...refs);
    return result;
  }
}

/** An Outbox that writes no rows and whose events nobody reads: for a writer called outside OrgInbox's turns (tests). */
export const silentOutbox = (db: Db, orgId: string) => new Outbox(db, orgId, new Set(), () => 0);
