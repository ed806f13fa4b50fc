import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { activities } from "../db/schema";
import { movesForwardTo } from "./status-rules";

/** What a Postmark event does to our outbound email: a status (forward-only) and/or an error. */
export type PostmarkChange = { status?: "sent" | "delivered" | "undelivered"; errorCode?: string; errorMessage?: string };

/**
 * SPEC 9, 13: Delivery → delivered; Bounce → undelivered with { TypeCode, Description };
 * SpamComplaint → error only. Null for a record type we do not apply. The events webhook
 * passes Postmark's payload; the send sweep builds the same record from the Messages API.
 */
export function postmarkRecordChange(p: Record<string, any>): PostmarkChange | null {
  switch (p.RecordType) {
    case "Delivery":
      return { status: "delivered" };
    case "Bounce":
      return { status: "undelivered", errorCode: String(p.TypeCode ?? p.Type ?? "bounce"), errorMessage: String(p.Description ?? p.Details ?? "Bounced") };
    case "SpamComplaint":
      return { errorCode: "spam_complaint", errorMessage: String(p.Description ?? "The recipient marked this email as spam.") };
    default:
      return null;
  }
}

/** Applies a change to one message; a status only moves forward. True when the row changed. */
export async function applyPostmarkChange(d: Db, activityId: string, change: PostmarkChange) {
  const at = eq(activities.id, activityId);
  const [changed] = await d
    .update(activities)
    .set({
      ...(change.status ? { status: change.status } : {}),
      ...(change.errorCode !== undefined ? { errorCode: change.errorCode, errorMessage: change.errorMessage ?? null } : {}),
      updatedAt: Date.now(),
    })
    .where(change.status ? and(at, movesForwardTo(change.status)) : at)
    .returning({ id: activities.id });
  return Boolean(changed);
}
