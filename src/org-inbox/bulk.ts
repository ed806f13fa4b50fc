import type { ConversationWithContact } from "../conversations/queries";
import type { Db } from "../db/client";
import { ApiError, type ErrorCode, type FieldError } from "../lib/errors";
import { editLabels, labelRefusal } from "./labels";
import type { Outbox } from "./outbox";
import { snooze } from "./snooze";
import { applyState, assertAssignable, type StateChange } from "./state";

// POST /conversations/bulk (SPEC 17): one action on up to 100 conversations in one OrgInbox
// turn. Each id runs the single route's writer (applyState, snooze, the labels' edit) with
// the turn's Outbox, so each changed conversation is its own batch with its one
// conversation.updated event; what is checked once for the request (the assignee's
// membership, the label ids) is refused for every id, as the single route would for each.

export type BulkAction =
  | { kind: "state"; change: StateChange }
  | { kind: "snooze"; until: number }
  | { kind: "labels"; op: "add" | "remove"; labelIds: string[] };

export type BulkItem =
  | { conversationId: string; ok: ConversationWithContact }
  | { conversationId: string; error: { code: ErrorCode; detail: string; errors?: FieldError[] } };

/**
 * Each distinct id (lowercased) once, in first-seen order: a repeated id is acted on once
 * and the caller answers each occurrence with its result. A refusal (not_found,
 * assignee_not_member, unknown_label, too many labels) is that id's result; any other
 * failure ends the request (the ids before it are done: each is its own batch).
 */
export async function bulk(db: Db, control: Db, orgId: string, ids: string[], action: BulkAction, out: Outbox, now = Date.now()): Promise<BulkItem[]> {
  const distinct = [...new Set(ids.map((id) => id.toLowerCase()))];
  // Checked once: a refusal here is every id's answer (after its 404, for labels, as PUT …/labels orders them).
  let assignRefusal: ApiError | null = null;
  if (action.kind === "state" && action.change.kind === "assign" && action.change.assignedTo) {
    assignRefusal = await assertAssignable(control, orgId, action.change.assignedTo).then(
      () => null,
      (e: unknown) => {
        if (e instanceof ApiError) return e;
        throw e;
      },
    );
  }
  const labelsRefusal = action.kind === "labels" ? await labelRefusal(db, orgId, action.labelIds) : null;
  const results: BulkItem[] = [];
  for (const conversationId of distinct) {
    try {
      if (assignRefusal) throw assignRefusal;
      const row =
        action.kind === "state"
          ? await applyState(db, null, orgId, conversationId, action.change, out, now)
          : action.kind === "snooze"
            ? await snooze(db, orgId, conversationId, action.until, out, now)
            : await editLabels(db, orgId, conversationId, { op: action.op, labelIds: action.labelIds }, labelsRefusal, out, now);
      results.push({ conversationId, ok: row });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      results.push({ conversationId, error: { code: e.code, detail: e.detail, errors: e.errors } });
    }
  }
  return results;
}
