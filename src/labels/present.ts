import { toConversation } from "../conversations/present";
import type { ConversationWithContact } from "../conversations/queries";
import type { Db } from "../db/client";
import { labelsOf } from "./queries";

/** Conversations in their REST shape with their labels: one query for the whole page. */
export async function presentMany(db: Db, orgId: string, rows: ConversationWithContact[], now = Date.now()) {
  const byConversation = await labelsOf(
    db,
    orgId,
    rows.map((r) => r.conversation.id),
  );
  return rows.map((r) => toConversation(r.conversation, r.contact, now, byConversation.get(r.conversation.id) ?? []));
}

export const presentOne = async (db: Db, orgId: string, row: ConversationWithContact, now = Date.now()) => (await presentMany(db, orgId, [row], now))[0];
