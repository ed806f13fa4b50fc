import { and, eq, ne } from "drizzle-orm";
import { mediaFor } from "../conversations/queries";
import type { Db } from "../db/client";
import { type Activity, activities } from "../db/schema";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import type { Outbox } from "./outbox";

type Essentials = Pick<Activity, "orgId" | "conversationId" | "contactId" | "type" | "direction" | "status" | "occurredAt">;

/** A new timeline row: the essentials given, every optional column empty unless set. */
export function newActivity(fields: Essentials & Partial<Activity>, now: number): Activity {
  return {
    id: uuidv7(now),
    body: null,
    subject: null,
    html: null,
    fromAddr: null,
    toAddr: null,
    channelId: null,
    mediaIds: [],
    authorId: null,
    provider: null,
    providerMessageId: null,
    errorCode: null,
    errorMessage: null,
    sendAttempts: 0,
    sweepRequeues: 0,
    sweepCheckedAt: null,
    callDurationSeconds: null,
    callRecordingUrl: null,
    callRecordingMediaId: null,
    callTranscript: null,
    callSummary: null,
    callSummaryStatus: null,
    suggestionChannel: null,
    sentMessageId: null,
    resolvedBy: null,
    resolvedAt: null,
    sendAt: null,
    createdAt: now,
    updatedAt: now,
    ...fields,
  };
}

/** The org's media rows for `ids` (any order; unknown ids are absent). */
export const loadMedia = async (db: Db, orgId: string, ids: string[]) => [...(await mediaFor(db, orgId, ids)).values()];

/** The org's media rows for `ids`; any unknown or foreign id → 422 unknown_media. */
export async function requireMedia(db: Db, orgId: string, ids: string[]) {
  const rows = await loadMedia(db, orgId, ids);
  if (rows.length !== new Set(ids).size) {
    throw new ApiError("unknown_media", "A media id is unknown in this org.", [{ path: "media_ids", message: "unknown media" }]);
  }
  return rows;
}

/** A message changed by something outside its row (its media): updated_at moves, message.updated is announced. Null: no such message. */
export async function touchMessage(db: Db, orgId: string, id: string, out: Outbox, now = Date.now()) {
  const [touched] = await out.changed(
    db
      .update(activities)
      .set({ updatedAt: now })
      .where(and(eq(activities.orgId, orgId), eq(activities.id, id), ne(activities.type, "suggestion")))
      .returning({ id: activities.id }),
    { type: "message.updated", conversationId: null, objectId: id },
  );
  return touched?.id ?? null;
}
