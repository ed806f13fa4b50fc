import type { PostmarkChange } from "../org-inbox/status-rules";

/**
 * SPEC 9, 13: Delivery → delivered; Bounce → undelivered with { TypeCode, Description };
 * SpamComplaint → error only. Null for a record type we do not apply. The events webhook
 * passes Postmark's payload; the send sweep builds the same record from the Messages API.
 */
// biome-ignore lint/suspicious/noExplicitAny: Postmark's payload, read field by field behind typeof checks
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
