import { and, asc, eq, gt, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Activity, activities, contacts, conversations } from "../db/schema";
import type { Bindings } from "../env";
import { labelsOf } from "../labels/queries";
import { log } from "../lib/log";
import { ID_CHUNK } from "../lib/schemas";
import { toConversation, toMessage } from "./present";
import { contactColumns, mediaFor } from "./queries";

// GET /conversations/export (SPEC 20): the org's conversations as NDJSON, one line per
// conversation (the Conversation shape plus `messages`, oldest first), read in pages so
// the Worker holds at most a page of conversations and EXPORT_MESSAGE_PAGE messages (two
// of those while a long thread is streamed) whatever the org's size.
//
// Conversations are paged by contact id (conversations_org_contact_uq): a key that never
// changes, unlike sort_at, so a conversation that moves while the export runs is read
// once; a line's `contact.id` is also where an interrupted export resumes (`?after=`).

/** Conversations a page read returns: ID_CHUNK (90), so a page's labels are one read. */
export const EXPORT_CONVERSATION_PAGE = ID_CHUNK;
/**
 * Message rows a message read returns at most (a page's messages, or a chunk of one long
 * thread). Rows, not bytes: an email's html may be 500 KB, so this stays small enough that
 * a read of large emails fits a Worker's memory (1,000 × the usual tens of KB).
 */
export const EXPORT_MESSAGE_PAGE = 1000;

/**
 * The next page's size from the last page's messages a conversation: enough conversations
 * that their messages fill about 80 % of one message read, so a page's threads come whole
 * from one read (a cut read costs a read per thread after the cut), at most
 * EXPORT_CONVERSATION_PAGE, at least 1.
 */
export const nextPageSize = (conversations: number, messages: number) =>
  Math.max(1, Math.min(EXPORT_CONVERSATION_PAGE, Math.floor((EXPORT_MESSAGE_PAGE * 0.8) / Math.max(1, messages / Math.max(1, conversations)))));

/** A page of the org's conversations with their contact, by contact id after `after` (3 bound parameters). */
export const exportConversationsQuery = (db: Db, orgId: string, after: string | null, limit: number) =>
  db
    .select({ conversation: conversations, contact: contactColumns })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.orgId, orgId), after ? gt(conversations.contactId, after) : undefined))
    .orderBy(asc(conversations.contactId))
    .limit(limit);

/**
 * The messages (no setter drafts) of a page's conversations, by conversation id then
 * thread order: the thread index walked once per id of the list (json_each: one bound
 * parameter for the whole list), no sort. Unary + keeps the planner off the org's indexes.
 */
export const exportMessagesQuery = (db: Db, orgId: string, conversationIds: string[], limit: number) =>
  db
    .select()
    .from(activities)
    .where(
      and(
        sql`${activities.conversationId} IN (SELECT value FROM json_each(${JSON.stringify(conversationIds)}))`,
        sql`+${activities.orgId} = ${orgId}`,
        ne(activities.type, "suggestion"),
      ),
    )
    .orderBy(asc(activities.conversationId), asc(activities.occurredAt), asc(activities.id))
    .limit(limit);

/** One thread's messages in thread order after (occurred_at, id): a range of the thread index. */
export const exportThreadQuery = (db: Db, orgId: string, conversationId: string, after: [number, string] | null, limit: number) => {
  const a = activities;
  return db
    .select()
    .from(a)
    .where(
      and(
        eq(a.conversationId, conversationId),
        sql`+${a.orgId} = ${orgId}`,
        ne(a.type, "suggestion"),
        after ? or(gt(a.occurredAt, after[0]), and(eq(a.occurredAt, after[0]), gt(a.id, after[1]))) : undefined,
      ),
    )
    .orderBy(asc(a.occurredAt), asc(a.id))
    .limit(limit);
};

/** What one export read: lines, messages, D1 reads and the most rows one read returned. */
export type ExportStats = { conversations: number; messages: number; reads: number; max_rows: number };

type Env = Pick<Bindings, "PUBLIC_BASE_URL" | "MEDIA_URL_SECRET">;

/**
 * The export as text pieces, each at most a page of conversations or a chunk of one long
 * thread: read lazily, so a consumer that does not ask for the next piece stops the reads.
 */
export async function* exportLines(
  env: Env,
  db: Db,
  orgId: string,
  opts: { after?: string | null; now?: number; stats?: ExportStats } = {},
): AsyncGenerator<string> {
  const now = opts.now ?? Date.now();
  const stats = opts.stats ?? { conversations: 0, messages: 0, reads: 0, max_rows: 0 };
  const counted = <T>(rows: T[]) => {
    stats.reads++;
    stats.max_rows = Math.max(stats.max_rows, rows.length);
    return rows;
  };
  const present = async (rows: Activity[]) => {
    const ids = rows.flatMap((a) => (a.callRecordingMediaId ? [...a.mediaIds, a.callRecordingMediaId] : a.mediaIds));
    if (ids.length) stats.reads += Math.ceil(new Set(ids).size / ID_CHUNK);
    const media = ids.length ? await mediaFor(db, orgId, ids) : undefined;
    stats.messages += rows.length;
    return (await Promise.all(rows.map((a) => toMessage(env, a, media)))).map((m) => JSON.stringify(m)).join(",");
  };
  let after = opts.after ?? null;
  let pageSize = EXPORT_CONVERSATION_PAGE;
  for (;;) {
    const page = counted(await exportConversationsQuery(db, orgId, after, pageSize).all());
    if (!page.length) return;
    const messagesBefore = stats.messages;
    after = page[page.length - 1].conversation.contactId;
    const labels = await labelsOf(
      db,
      orgId,
      page.map((r) => r.conversation.id),
    );
    stats.reads += Math.ceil(page.length / ID_CHUNK);
    // One read of the page's messages, in conversation id order. Cut by the limit, the
    // threads before the last one read are whole; the last one, and those after it, are
    // streamed thread by thread in chunks.
    const rows = counted(
      await exportMessagesQuery(
        db,
        orgId,
        page.map((r) => r.conversation.id),
        EXPORT_MESSAGE_PAGE,
      ).all(),
    );
    const cutAt = rows.length === EXPORT_MESSAGE_PAGE ? rows[rows.length - 1].conversationId : null;
    const held = new Map<string, Activity[]>();
    for (const a of rows) {
      const list = held.get(a.conversationId);
      if (list) list.push(a);
      else held.set(a.conversationId, [a]);
    }
    for (const r of page) {
      const id = r.conversation.id;
      const head = JSON.stringify(toConversation(r.conversation, r.contact, now, labels.get(id) ?? []));
      const open = `${head.slice(0, -1)},"messages":[`;
      stats.conversations++;
      const mine = held.get(id) ?? [];
      held.delete(id);
      // A whole thread: its line at once (each line handed on as soon as it is made).
      if (cutAt === null || id < cutAt) {
        yield `${open}${await present(mine)}]}\n`;
        continue;
      }
      // A thread that may go on past what was read: streamed in chunks of EXPORT_MESSAGE_PAGE.
      // Not a snapshot: a message that moves forward in the thread while it is read (a
      // scheduled send released: occurred_at becomes its send time) can come twice in the line.
      let chunk = id === cutAt ? mine : counted(await exportThreadQuery(db, orgId, id, null, EXPORT_MESSAGE_PAGE).all());
      let piece = open;
      let first = true;
      for (;;) {
        if (chunk.length) {
          piece += `${first ? "" : ","}${await present(chunk)}`;
          first = false;
        }
        yield piece;
        piece = "";
        const last = chunk[chunk.length - 1];
        // A read that returned less than a page was the thread's end; the IN read's partial
        // thread (cutAt) is always followed up, since it was cut.
        if (!last || (chunk.length < EXPORT_MESSAGE_PAGE && chunk !== mine)) break;
        chunk = counted(await exportThreadQuery(db, orgId, id, [last.occurredAt, last.id], EXPORT_MESSAGE_PAGE).all());
      }
      yield "]}\n";
    }
    pageSize = nextPageSize(page.length, stats.messages - messagesBefore);
  }
}

/**
 * The export as a byte stream that reads the next piece only when the consumer pulls
 * (backpressure: a slow client holds the reads, not the memory). Its end, or its failure,
 * is logged with the stats.
 */
export async function exportStream(env: Env, db: Db, orgId: string, after: string | null) {
  const stats: ExportStats = { conversations: 0, messages: 0, reads: 0, max_rows: 0 };
  const lines = exportLines(env, db, orgId, { after, stats });
  const encoder = new TextEncoder();
  const started = Date.now();
  // The first piece is read before the response starts: a failure there (D1, the org
  // moving) is the request's error answer (problem+json), not a 200 with an aborted body.
  let first: IteratorResult<string> | null = await lines.next();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = first ?? (await lines.next());
          first = null;
          if (done) {
            log("info", "conversations.export.done", { org_id: orgId, after, ...stats, ms: Date.now() - started });
            controller.close();
          } else controller.enqueue(encoder.encode(value));
        } catch (e) {
          log("error", "conversations.export.failed", { org_id: orgId, after, ...stats, error: String(e) });
          controller.error(e);
        }
      },
      async cancel() {
        log("info", "conversations.export.canceled", { org_id: orgId, after, ...stats });
        await lines.return(undefined);
      },
    },
    // Nothing is read ahead of the consumer.
    { highWaterMark: 0 },
  );
}
