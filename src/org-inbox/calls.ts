import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { type Activity, activities, conversations } from "../db/schema";
import type { AiJob } from "../jobs";
import { activityPreview } from "./ingest";
import type { Outbox } from "./outbox";
import { changedRow } from "./outbox";

/** What a later Twilio callback (status, recording, transcription) adds to a stored call. */
export type CallDetails = {
  /** The call's own length (CallDuration); it always wins. */
  callDurationSeconds?: number | null;
  /** The recording's length (RecordingDuration): the call's duration only when the call has none. */
  recordingDurationSeconds?: number | null;
  recordingUrl?: string | null;
  recordingMediaId?: string | null;
  transcript?: string | null;
};

export type CallUpdate = { call: Activity; previewChanged: boolean; followUps: AiJob[] };

/**
 * Applies late call details in one batch: the activity, and the thread's preview
 * when the call is the conversation's last activity. Answers null when the call is
 * not the org's, or nothing changed (a redelivered callback writes nothing).
 */
export async function applyCallDetails(
  db: Db,
  orgId: string,
  activityId: string,
  details: CallDetails,
  out: Outbox,
  now = Date.now(),
): Promise<CallUpdate | null> {
  const call = await db
    .select()
    .from(activities)
    .where(and(eq(activities.orgId, orgId), eq(activities.id, activityId), eq(activities.type, "call")))
    .get();
  if (!call) return null;
  const set: Partial<Activity> = {};
  const hasDuration = call.callDurationSeconds != null && call.callDurationSeconds > 0;
  if (details.callDurationSeconds && details.callDurationSeconds > 0 && details.callDurationSeconds !== call.callDurationSeconds) {
    set.callDurationSeconds = details.callDurationSeconds;
  } else if (!hasDuration && details.recordingDurationSeconds && details.recordingDurationSeconds > 0) {
    set.callDurationSeconds = details.recordingDurationSeconds;
  }
  if (details.recordingUrl && details.recordingUrl !== call.callRecordingUrl) set.callRecordingUrl = details.recordingUrl;
  if (details.recordingMediaId && details.recordingMediaId !== call.callRecordingMediaId) set.callRecordingMediaId = details.recordingMediaId;
  const followUps: AiJob[] = [];
  if (details.transcript && details.transcript !== call.callTranscript) {
    set.callTranscript = details.transcript;
    // A transcript with no summary yet goes to the summarizer.
    if (!call.callSummary) {
      set.callSummaryStatus = "pending";
      followUps.push({ kind: "summary", orgId, activityId });
    }
  }
  if (!Object.keys(set).length) return null;
  const updated: Activity = { ...call, ...set, updatedAt: now };
  const preview = activityPreview(updated);
  const previewChanged = preview !== activityPreview(call);
  const thread = { type: "conversation.updated" as const, conversationId: call.conversationId, objectId: call.conversationId };
  const message = out.add({ type: "message.updated", conversationId: call.conversationId, objectId: activityId, known: { activity: updated, media: [] } });
  // (Its recording's media row, when it has one, is read by the event builder.)
  const results = await db.batch([
    db
      .update(activities)
      .set({ ...set, updatedAt: now })
      .where(and(eq(activities.orgId, orgId), eq(activities.id, activityId))),
    ...message,
    db
      .update(conversations)
      .set({ lastActivityPreview: preview, updatedAt: now })
      .where(and(eq(conversations.id, call.conversationId), eq(conversations.lastActivityId, call.id), sql`${previewChanged ? 1 : 0} = 1`))
      .returning({ id: conversations.id }),
    ...out.addIf(changedRow, thread),
  ] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  const refreshed = results[1 + message.length];
  out.settle((refreshed as unknown[]).length > 0, thread);
  return { call: updated, previewChanged: (refreshed as unknown[]).length > 0, followUps };
}
