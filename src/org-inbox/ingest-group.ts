import { and, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client";
import { driverRows, insertRows, jsonUpdates } from "../db/json-rows";
import { memo } from "../db/memo";
import { type Activity, activities, type Contact, type Conversation, channels, contacts, conversations, type Media, media } from "../db/schema";
import { ApiError } from "../lib/errors";
import { uuidv7Sequence } from "../lib/ids";
import { ID_CHUNK } from "../lib/schemas";
import { DEFAULT_SLA } from "../sla/due";
import { consentColumns } from "./consent";
import {
  activityOf,
  conversationChanges,
  followUpsOf,
  type IngestInput,
  type IngestResult,
  ingestEvents,
  keywordChange,
  newContact,
  newConversation,
  setterModeRead,
  slaConfigRead,
  unknownContact,
} from "./ingest";
import { silentOutbox } from "./outbox";
import { isReply, replyWaitWith, type StoredWait, startsWait, storedWaitsQuery } from "./reply-wait";
import { bucketOf, tallyMoves } from "./tallies";

// Group commit (SPEC 15): the ingests that queued in OrgInbox while its last write was in
// flight, stored together: two read round trips for all of them, one atomic write batch,
// and for each item exactly the result one-by-one processing (src/org-inbox/ingest.ts)
// would give, in arrival order: dedup (also between items of the group), contacts and
// conversations created once, the conversation's aggregates, reply wait and SLA, tallies.
// The conversation as each item left it is kept for that item's event.

/** A group write failed and whether it committed could not be learned: its items must not be replayed. */
export class GroupOutcomeUnknown extends Error {}

/** Items one group commit takes at most; more queued ones go in the next. */
export const GROUP_MAX = 500;
/** The columns of a thread an ingest changes (src/org-inbox/ingest.ts conversationChanges, and unread_count). */
const CHANGED_BY_INGEST = [
  "last_activity_id",
  "last_activity_type",
  "last_activity_direction",
  "last_activity_preview",
  "last_activity_at",
  "sort_at",
  "archived",
  "snoozed_until",
  "unread_count",
  "last_sms_channel_id",
  "last_email_channel_id",
  "awaiting_reply_since",
  "sla_due_at",
  "updated_at",
];
/** (provider, provider_message_id) pairs per dedup read: two bound parameters each, under D1's 100. */
const PAIRS = 45;

export type Thread = { conversation: Conversation; contact: Pick<Contact, "id" | "name" | "phone" | "email"> };
/** Per item: stored (with the thread as it left it), a duplicate, or a refusal. */
export type GroupOutcome = { ok: IngestResult; thread?: Thread; consent?: boolean | null } | { refused: ApiError };

const dedupKey = (provider: string | null, id: string | null | undefined) => (id ? `${provider ?? ""}\u0000${id}` : null);
const slices = <T>(items: T[], n: number) => Array.from({ length: Math.ceil(items.length / n) }, (_, i) => items.slice(i * n, i * n + n));
/** `(a, b) IN (VALUES (?, ?), …)` of `n` pairs: placeholders a0, b0, a1, b1, … (two bound parameters a pair). */
const pairIn = (a: SQLiteColumn, b: SQLiteColumn, n: number) =>
  sql`(${a}, ${b}) IN (VALUES ${sql.join(
    Array.from({ length: n }, (_, i) => sql`(${sql.placeholder(`a${i}`)}, ${sql.placeholder(`b${i}`)})`),
    sql`, `,
  )})`;
const distinct = (values: (string | null | undefined)[]) => [...new Set(values.filter((v): v is string => !!v))];

/** Reads to run in one batch, each with what to do with its rows. */
class Reads {
  private items: { query: BatchItem<"sqlite">; take: (rows: never[]) => void }[] = [];
  add<T>(query: BatchItem<"sqlite">, take: (rows: T[]) => void) {
    this.items.push({ query, take: take as (rows: never[]) => void });
  }
  async run(db: Db) {
    if (!this.items.length) return;
    const results = await db.batch(this.items.map((i) => i.query) as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    for (const [i, rows] of results.entries()) this.items[i].take(rows as never[]);
  }
}

type Touch = { type: string; direction: string | null; status: string; occurredAt: number };

/** A conversation the group touches: as read (null: new), as it is now, its contact, the group's touches so far. */
type Open = { initial: Conversation | null; current: Conversation; contact: Contact; touches: Touch[] };

export async function ingestGroup(db: Db, orgId: string, inputs: IngestInput[], out = silentOutbox(db, orgId), now = Date.now()): Promise<GroupOutcome[]> {
  // Ids in arrival order, as one-by-one processing makes them (a later ingest, a later
  // id): lists and timelines break ties of time by id.
  const nextId = uuidv7Sequence(now);
  // 1. What the group needs from D1, in one round trip.
  const dupRows = new Map<string, Activity>();
  const byId = new Map<string, Contact>();
  const byPhone = new Map<string, Contact>();
  const byEmail = new Map<string, Contact>();
  const conversationOf = new Map<string, Conversation>();
  const channelIds = new Map<string, string>();
  const mediaRows = new Map<string, Media>();
  let sla = DEFAULT_SLA as typeof DEFAULT_SLA;
  let setterMode: string | undefined;
  const reads = new Reads();
  // Each read's SQL is built once per shape (src/db/memo.ts): its lists' lengths are in its key.
  const p = sql.placeholder;
  const listOf = (name: string, n: number) => Array.from({ length: n }, (_, i) => p(`${name}${i}`));
  const valuesOf = (name: string, list: readonly unknown[]) => Object.fromEntries(list.map((v, i) => [`${name}${i}`, v]));
  /** The values of a pairIn read: the org, and each pair's a<i> and b<i>. */
  const pairValues = (chunk: readonly (readonly [string, string])[]) => ({
    org: orgId,
    ...valuesOf(
      "a",
      chunk.map(([a]) => a),
    ),
    ...valuesOf(
      "b",
      chunk.map(([, b]) => b),
    ),
  });
  const pairs = inputs.filter((i) => i.providerMessageId).map((i) => [i.provider ?? "", i.providerMessageId!] as const);
  for (const chunk of slices(pairs, PAIRS)) {
    reads.add<Activity>(
      memo(
        db,
        `group.duplicates.${chunk.length}`,
        () =>
          db
            .select()
            .from(activities)
            .where(and(eq(activities.orgId, p("org")), pairIn(activities.provider, activities.providerMessageId, chunk.length))),
        pairValues(chunk),
      ),
      (rows) => {
        for (const a of rows) dupRows.set(dedupKey(a.provider, a.providerMessageId)!, a);
      },
    );
  }
  const keep = (rows: Contact[]) => {
    for (const c of rows) {
      byId.set(c.id, c);
      if (c.phone) byPhone.set(c.phone, c);
      if (c.email) byEmail.set(c.email, c);
    }
  };
  const refs = inputs.map((i) => i.contact);
  for (const [by, values] of [
    ["id", distinct(refs.map((r) => ("id" in r ? r.id : null)))],
    ["phone", distinct(refs.map((r) => ("phone" in r ? r.phone : null)))],
    ["email", distinct(refs.map((r) => ("email" in r ? r.email : null)))],
  ] as const) {
    for (const chunk of slices(values, ID_CHUNK)) {
      const where = () => and(eq(contacts.orgId, p("org")), inArray(contacts[by], listOf("c", chunk.length)));
      const bound = { org: orgId, ...valuesOf("c", chunk) };
      reads.add<Contact>(
        memo(db, `group.contacts.${by}.${chunk.length}`, () => db.select().from(contacts).where(where()), bound),
        keep,
      );
      reads.add<Conversation>(
        memo(
          db,
          `group.conversations.${by}.${chunk.length}`,
          () =>
            db
              .select()
              .from(conversations)
              .where(and(eq(conversations.orgId, p("org")), inArray(conversations.contactId, db.select({ id: contacts.id }).from(contacts).where(where())))),
          bound,
        ),
        (rows) => {
          for (const cv of rows) conversationOf.set(cv.contactId, cv);
        },
      );
    }
  }
  const channelKey = (i: IngestInput) => (i.direction === "inbound" && (i.type === "sms" || i.type === "email") && i.to ? `${i.type}:${i.to}` : null);
  const wanted = distinct(inputs.map(channelKey)).map((k) => [k.slice(0, k.indexOf(":")), k.slice(k.indexOf(":") + 1)] as const);
  for (const chunk of slices(wanted, PAIRS)) {
    reads.add<{ id: string; kind: string; address: string }>(
      memo(
        db,
        `group.channels.${chunk.length}`,
        () =>
          db
            .select({ id: channels.id, kind: channels.kind, address: channels.address })
            .from(channels)
            .where(and(eq(channels.orgId, p("org")), pairIn(channels.kind, channels.address, chunk.length))),
        pairValues(chunk),
      ),
      (rows) => {
        for (const ch of rows) channelIds.set(`${ch.kind}:${ch.address}`, ch.id);
      },
    );
  }
  reads.add<typeof DEFAULT_SLA>(slaConfigRead(db, orgId), (rows) => {
    if (rows[0]) sla = rows[0];
  });
  reads.add<{ mode: string }>(setterModeRead(db, orgId), (rows) => {
    setterMode = rows[0]?.mode;
  });
  const readMedia = (into: Reads, ids: string[]) => {
    for (const chunk of slices(distinct(ids), ID_CHUNK)) {
      into.add<Media>(
        memo(
          db,
          `group.media.${chunk.length}`,
          () =>
            db
              .select()
              .from(media)
              .where(and(eq(media.orgId, p("org")), inArray(media.id, listOf("m", chunk.length)))),
          { org: orgId, ...valuesOf("m", chunk) },
        ),
        (rows) => {
          for (const m of rows) mediaRows.set(m.id, m);
        },
      );
    }
  };
  readMedia(
    reads,
    inputs.flatMap((i) => i.mediaIds),
  );
  await reads.run(db);

  // 2. In arrival order: which items are duplicates or refused, and whose contact and
  // conversation each of the others is (created once, by the first item that needs it).
  type Plan = { kind: "refused"; error: ApiError } | { kind: "duplicate"; of: Activity | number } | { kind: "store"; open: Open };
  const plans: Plan[] = [];
  const newContacts: Contact[] = [];
  const stored = new Map<string, number>();
  const opens = new Map<string, Open>();
  for (const [index, input] of inputs.entries()) {
    const key = dedupKey(input.provider, input.providerMessageId);
    const earlier = key === null ? undefined : stored.get(key);
    const existing = key === null ? undefined : dupRows.get(key);
    if (existing) {
      plans.push({ kind: "duplicate", of: existing });
      continue;
    }
    if (earlier !== undefined) {
      plans.push({ kind: "duplicate", of: earlier });
      continue;
    }
    if (input.mediaIds.some((id) => !mediaRows.has(id))) {
      plans.push({
        kind: "refused",
        error: new ApiError("unknown_media", "A media id is unknown in this org.", [{ path: "media_ids", message: "unknown media" }]),
      });
      continue;
    }
    const ref = input.contact;
    let contact = "id" in ref ? byId.get(ref.id) : "phone" in ref ? byPhone.get(ref.phone) : byEmail.get(ref.email);
    if (!contact) {
      if ("id" in ref) {
        plans.push({ kind: "refused", error: unknownContact() });
        continue;
      }
      contact = newContact(orgId, ref, now, nextId());
      keep([contact]);
      newContacts.push(contact);
    }
    let open = opens.get(contact.id);
    if (!open) {
      const initial = conversationOf.get(contact.id) ?? null;
      open = { initial, current: { ...(initial ?? newConversation(orgId, contact.id, now, nextId())) }, contact, touches: [] };
      opens.set(contact.id, open);
    }
    plans.push({ kind: "store", open });
    if (key !== null) stored.set(key, index);
  }

  // 3. The reply wait each storing item finds in D1 (SPEC 7): for an existing thread, the
  // stored reply and the first stored wait after the later of it and every reply the
  // group adds before the item (and the item's own, if it is one).
  const waits = new Map<number, StoredWait>();
  const second = new Reads();
  const repliesBefore = new Map<Open, number>();
  const asks: { index: number; conversation: string; replyAt: number }[] = [];
  for (const [index, plan] of plans.entries()) {
    if (plan.kind !== "store") continue;
    const touch = inputs[index];
    const before = repliesBefore.get(plan.open);
    if (isReply(touch)) repliesBefore.set(plan.open, Math.max(before ?? -Infinity, touch.occurredAt));
    if (!plan.open.initial || !(startsWait(touch) || isReply(touch))) continue;
    const after = Math.max(before ?? -Infinity, isReply(touch) ? touch.occurredAt : -Infinity);
    asks.push({ index, conversation: plan.open.initial.id, replyAt: Number.isFinite(after) ? after : -1 });
  }
  if (asks.length) {
    second.add<StoredWait & { i: number }>(
      storedWaitsQuery(
        db,
        asks.map(({ conversation, replyAt }) => ({ conversation, replyAt })),
      ),
      (rows) => {
        for (const row of rows) waits.set(asks[row.i].index, row);
      },
    );
  }
  readMedia(
    second,
    plans.flatMap((p) => (p.kind === "duplicate" && typeof p.of !== "number" ? p.of.mediaIds : [])),
  );
  await second.run(db);

  // 4. Each item in order, in memory; the conversation as it left it is kept for its event.
  const outcomes: GroupOutcome[] = [];
  const results: IngestResult[] = [];
  const consentChanged = new Set<Contact>();
  for (const [index, plan] of plans.entries()) {
    if (plan.kind === "refused") {
      outcomes.push({ refused: plan.error });
      continue;
    }
    if (plan.kind === "duplicate") {
      const first = typeof plan.of === "number" ? results[plan.of] : null;
      const activity = first ? first.activity : (plan.of as Activity);
      const result = {
        activity,
        media: first ? first.media : activity.mediaIds.map((id) => mediaRows.get(id)).filter((m): m is Media => !!m),
        duplicate: true,
      };
      results[index] = result;
      outcomes.push({ ok: result });
      continue;
    }
    const input = inputs[index];
    const { open } = plan;
    const key = channelKey(input);
    const channelId = key ? (channelIds.get(key) ?? null) : null;
    const activity = activityOf(orgId, input, open.current.id, open.contact.id, channelId, now, nextId());
    let since: number | null | undefined;
    if (startsWait(activity) || isReply(activity)) {
      const inD1 = waits.get(index);
      const lastReply = Math.max(inD1?.last_reply ?? -Infinity, ...open.touches.filter(isReply).map((t) => t.occurredAt));
      const threshold = Math.max(lastReply, isReply(activity) ? activity.occurredAt : -Infinity);
      const firstInGroup = open.touches.filter((t) => startsWait(t) && t.occurredAt > threshold).map((t) => t.occurredAt);
      const firstWaiting = Math.min(inD1?.first_waiting ?? Infinity, ...firstInGroup);
      since = replyWaitWith(
        { last_reply: Number.isFinite(lastReply) ? lastReply : null, first_waiting: Number.isFinite(firstWaiting) ? firstWaiting : null },
        activity,
      );
    }
    Object.assign(open.current, conversationChanges(open.current, activity, channelId, since, sla, now));
    // A consent keyword changes the contact as the group goes (SPEC 19); its final state is written.
    const consent = keywordChange(activity, open.contact);
    if (consent !== null) {
      Object.assign(open.contact, consentColumns("sms", consent, now));
      consentChanged.add(open.contact);
    }
    if (activity.direction === "inbound") open.current.unreadCount += 1;
    open.touches.push(activity);
    const result: IngestResult = {
      activity,
      media: input.mediaIds.map((id) => mediaRows.get(id)!),
      duplicate: false,
      followUps: followUpsOf(orgId, activity, setterMode),
    };
    results[index] = result;
    const { id, name, phone, email } = open.contact;
    outcomes.push({ ok: result, thread: { conversation: { ...open.current }, contact: { id, name, phone, email } }, consent });
  }

  // 5. One atomic batch: new contacts and threads (as the group left them) and the
  // activities, many rows to a statement; the changed threads; the tallies' net moves.
  const d1 = db.$client;
  const touched = [...opens.values()].filter((o) => o.touches.length);
  const writes: D1PreparedStatement[] = [
    ...insertRows(d1, contacts, newContacts),
    ...insertRows(
      d1,
      conversations,
      touched.filter((o) => !o.initial).map((o) => o.current),
    ),
    ...insertRows(
      d1,
      activities,
      results.filter((r) => r && !r.duplicate).map((r) => r.activity),
    ),
  ];
  writes.push(
    ...jsonUpdates(
      d1,
      "conversations",
      "id",
      CHANGED_BY_INGEST,
      driverRows(
        conversations,
        touched.filter((o) => o.initial).map((o) => o.current),
      ),
    ),
    ...tallyMoves(
      d1,
      orgId,
      touched.map((o) => ({ from: o.initial ? bucketOf(o.initial) : null, to: bucketOf(o.current) })),
    ),
    ...jsonUpdates(
      d1,
      "contacts",
      "id",
      ["sms_opt_out", "sms_opt_out_at", "updated_at"],
      driverRows(
        contacts,
        [...consentChanged].filter((c) => !newContacts.includes(c)),
      ),
    ),
  );
  if (!writes.length) return outcomes;
  // Each stored item's events, in order, with the thread as it left it (a new contact is
  // announced with the first item that names it).
  const fresh = new Set(newContacts.map((c) => c.id));
  writes.push(
    ...out.addRaw(
      d1,
      outcomes.flatMap((o) =>
        "ok" in o && !o.ok.duplicate && o.thread
          ? ingestEvents(o.ok.activity, fresh.delete(o.ok.activity.contactId), o.consent ?? null, { media: o.ok.media, thread: o.thread })
          : [],
      ),
    ),
  );
  try {
    await d1.batch(writes);
  } catch (e) {
    // A batch is atomic, but its answer can be lost after it committed (a reset, a
    // timeout): replaying the items one by one would then store some twice. So ask D1
    // whether one of its rows is there before anyone retries.
    const probe = results.find((r) => r && !r.duplicate)?.activity.id;
    if (!probe) throw e;
    let committed: boolean;
    try {
      committed = !!(await db.select({ id: activities.id }).from(activities).where(eq(activities.id, probe)).get());
    } catch {
      throw new GroupOutcomeUnknown(String(e));
    }
    if (committed) return outcomes;
    throw e;
  }
  return outcomes;
}
