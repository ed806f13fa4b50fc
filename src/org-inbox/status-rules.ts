import { sql } from "drizzle-orm";
import { activities } from "../db/schema";

// Delivery status only moves forward (SPEC 9, 13): queued < sending < sent < delivered < read;
// failed and undelivered are final. Every writer of a provider's status uses these rules:
// the Twilio and Postmark status webhooks and the send sweep (all through OrgInbox).
export const STATUS_RANK: Record<string, number> = { queued: 0, sending: 1, sent: 2, delivered: 3, read: 4 };
export const FINAL_STATUSES = ["failed", "undelivered"];

// Twilio's MessageStatus values we apply are our own statuses.
export const isTwilioMessageStatus = (s: string) => s in STATUS_RANK || FINAL_STATUSES.includes(s);

/** What a Postmark event does to our outbound email: a status (forward-only) and/or an error. */
export type PostmarkChange = { status?: "sent" | "delivered" | "undelivered"; errorCode?: string; errorMessage?: string };

/** SQL: the row may move to `status` (it is not final, and `status` is final or further along). */
export function movesForwardTo(status: string) {
  const notFinal = sql`${activities.status} NOT IN ('failed', 'undelivered')`;
  if (FINAL_STATUSES.includes(status)) return notFinal;
  const rankOf = sql`CASE ${activities.status} WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 99 END`;
  return sql`${notFinal} AND ${rankOf} < ${STATUS_RANK[status]}`;
}
