import type { GENERATORS, SETTER_MODES } from "../db/enums";
import type { TrainingPair } from "../db/schema";
import { iso, isoOrNull } from "../lib/time";

export const toConfig = (
  row: { mode: (typeof SETTER_MODES)[number]; instructions: string | null; updatedAt: number | null } | undefined,
  generator: string,
) => ({
  mode: row?.mode ?? ("off" as const),
  instructions: row?.instructions ?? null,
  generator: generator as (typeof GENERATORS)[number],
  updated_at: isoOrNull(row?.updatedAt ?? null),
});

export const toPair = (p: TrainingPair) => ({
  id: p.id,
  conversation_id: p.conversationId,
  suggestion_id: p.suggestionId,
  sent_message_id: p.sentMessageId,
  draft: p.draft,
  sent: p.sent,
  label: p.label,
  similarity: p.similarity,
  context: p.context,
  sent_by: p.sentBy,
  created_at: iso(p.createdAt),
});

/** One chat fine-tuning record (SPEC 8): context as user/assistant turns, the sent text as the answer. */
export function toRecord(p: TrainingPair, instructions: string | null) {
  const messages = [
    ...(instructions ? [{ role: "system", content: instructions }] : []),
    ...p.context.map((m) => ({ role: m.role === "contact" ? "user" : "assistant", content: m.body })),
    { role: "assistant", content: p.sent },
  ];
  return { messages, label: p.label, draft: p.draft };
}
