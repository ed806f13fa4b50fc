import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { selectConversation } from "../conversations/queries";
import type { Db } from "../db/client";
import { conversationLabels as cl, conversations, labels } from "../db/schema";
import { MAX_CONVERSATION_LABELS, ownLabels } from "../labels/queries";
import { ApiError, invalid, notFound } from "../lib/errors";
import { ID_CHUNK } from "../lib/schemas";
import type { Outbox } from "./outbox";

// A conversation's labels (SPEC 17), written by OrgInbox only: a set and its
// conversation.updated event in one batch; a label's delete unlinks it from every
// conversation, a chunk per batch, each with its conversations' events.

/** The links of one conversation, by the primary key (unary + keeps the planner off the org's index). */
const linksOf = (orgId: string, conversationId: string) => and(eq(cl.conversationId, conversationId), sql`+${cl.orgId} = ${orgId}`);

/** 422 unknown_label naming each id of `labelIds` that is not one of the org's labels; null when all are. */
export async function labelRefusal(db: Db, orgId: string, labelIds: string[]): Promise<ApiError | null> {
  const own = await ownLabels(db, orgId, [...new Set(labelIds.map((id) => id.toLowerCase()))]);
  return refusalOf(labelIds, new Set(own.map((l) => l.id)));
}

function refusalOf(labelIds: string[], known: Set<string>): ApiError | null {
  const unknown = labelIds.flatMap((id, i) => (known.has(id.toLowerCase()) ? [] : [{ path: `label_ids.${i}`, message: "not a label of this org" }]));
  if (!unknown.length) return null;
  return new ApiError("unknown_label", `${unknown.length === 1 ? "A label id is" : "Label ids are"} not labels of this org; nothing was changed.`, unknown);
}

type Before = NonNullable<Awaited<ReturnType<ReturnType<typeof selectConversation>["get"]>>>;

/** The conversation's labels from `had` to `wanted`, its updated_at and its event in one batch; nothing when they are the same set. */
async function writeLabels(db: Db, orgId: string, before: Before, had: Set<string>, wanted: string[], out: Outbox, now: number) {
  const conversationId = before.conversation.id;
  const adds = wanted.filter((id) => !had.has(id));
  const keep = wanted.filter((id) => had.has(id));
  if (!adds.length && keep.length === had.size) return before;
  const conversation = { ...before.conversation, updatedAt: now };
  const ofConversation = linksOf(orgId, conversationId);
  await db.batch([
    db.delete(cl).where(keep.length ? and(ofConversation, notInArray(cl.labelId, keep)) : ofConversation),
    ...(adds.length
      ? [
          db
            .insert(cl)
            .values(adds.map((labelId) => ({ orgId, conversationId, labelId, createdAt: now })))
            .onConflictDoNothing(),
        ]
      : []),
    db
      .update(conversations)
      .set({ updatedAt: now })
      .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId))),
    ...out.add({ type: "conversation.updated", conversationId, objectId: conversationId, known: { conversation, contact: before.contact } }),
  ]);
  return { conversation, contact: before.contact };
}

/**
 * PUT /conversations/{id}/labels: the conversation's labels become `labelIds` (lowercased,
 * unique). A conversation not in the org → 404; an id that is not one of the org's labels
 * → 422 unknown_label, nothing written; the set it already has → nothing written.
 */
export async function setLabels(db: Db, orgId: string, conversationId: string, labelIds: string[], out: Outbox, now = Date.now()) {
  const wanted = [...new Set(labelIds.map((id) => id.toLowerCase()))];
  const [before, own, current] = await Promise.all([
    selectConversation(db, orgId, conversationId).get(),
    ownLabels(db, orgId, wanted),
    db.select({ labelId: cl.labelId }).from(cl).where(linksOf(orgId, conversationId)).all(),
  ]);
  if (!before) throw notFound("Conversation");
  const refusal = refusalOf(labelIds, new Set(own.map((l) => l.id)));
  if (refusal) throw refusal;
  return writeLabels(db, orgId, before, new Set(current.map((r) => r.labelId)), wanted, out, now);
}

/**
 * Bulk add_labels / remove_labels (SPEC 17) on one conversation: `labelIds` (checked once
 * for the request by labelRefusal, whose refusal is `refusal`) joined to or taken from its
 * labels. Refuses as PUT …/labels does: 404 first, then unknown_label; an add past
 * MAX_CONVERSATION_LABELS → 400. No change → nothing written, no event.
 */
export async function editLabels(
  db: Db,
  orgId: string,
  conversationId: string,
  edit: { op: "add" | "remove"; labelIds: string[] },
  refusal: ApiError | null,
  out: Outbox,
  now = Date.now(),
) {
  const [before, current] = await Promise.all([
    selectConversation(db, orgId, conversationId).get(),
    db.select({ labelId: cl.labelId }).from(cl).where(linksOf(orgId, conversationId)).all(),
  ]);
  if (!before) throw notFound("Conversation");
  if (refusal) throw refusal;
  const had = new Set(current.map((r) => r.labelId));
  const given = new Set(edit.labelIds.map((id) => id.toLowerCase()));
  const wanted = edit.op === "add" ? [...new Set([...had, ...given])] : [...had].filter((id) => !given.has(id));
  if (wanted.length > MAX_CONVERSATION_LABELS) {
    throw invalid("label_ids", `A conversation has at most ${MAX_CONVERSATION_LABELS} labels; this one would have ${wanted.length}.`);
  }
  return writeLabels(db, orgId, before, had, wanted, out, now);
}

/** Conversations a label's delete unlinks in one OrgInbox turn; the Worker calls again until it is gone. */
export const UNLINK_PER_TURN = 900;

/**
 * DELETE /labels/{id}, one turn: up to UNLINK_PER_TURN of its conversations lose it (a
 * batch of ID_CHUNK at a time: the links, the conversations' updated_at, their events);
 * once none has it, the label row goes in the same batch as the last links. "gone": the
 * label is deleted; "more": call again; a label not in the org → 404.
 */
export async function removeLabel(db: Db, orgId: string, labelId: string, out: Outbox, now = Date.now()): Promise<"gone" | "more"> {
  const label = await db
    .select({ id: labels.id })
    .from(labels)
    .where(and(eq(labels.orgId, orgId), eq(labels.id, labelId)))
    .get();
  if (!label) throw notFound("Label");
  for (let done = 0; done < UNLINK_PER_TURN; done += ID_CHUNK) {
    const ids = (
      await db
        .select({ id: cl.conversationId })
        .from(cl)
        .where(and(eq(cl.orgId, orgId), eq(cl.labelId, labelId)))
        .limit(ID_CHUNK)
        .all()
    ).map((r) => r.id);
    const last = ids.length < ID_CHUNK;
    const statements: BatchItem<"sqlite">[] = [];
    if (ids.length) {
      statements.push(
        db.delete(cl).where(and(eq(cl.orgId, orgId), eq(cl.labelId, labelId), inArray(cl.conversationId, ids))),
        db
          .update(conversations)
          .set({ updatedAt: now })
          .where(and(eq(conversations.orgId, orgId), inArray(conversations.id, ids))),
        ...out.add(...ids.map((id) => ({ type: "conversation.updated" as const, conversationId: id, objectId: id }))),
      );
    }
    if (last) statements.push(db.delete(labels).where(and(eq(labels.orgId, orgId), eq(labels.id, labelId))));
    await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    if (last) return "gone";
  }
  return "more";
}
