import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { activities } from "../db/schema";

/**
 * A consumer that died after the provider accepted leaves its message `sending` with no
 * provider id; the provider's callback names our id (Twilio: the callback URL, Postmark:
 * Metadata), so the id it carries is adopted. Only for a message still waiting for one.
 */
export async function adoptProviderId(d: Db, orgId: string, messageId: string, provider: "twilio" | "postmark", providerMessageId: string) {
  const [adopted] = await d
    .update(activities)
    .set({ providerMessageId, updatedAt: Date.now() })
    .where(
      and(
        eq(activities.id, messageId),
        eq(activities.orgId, orgId),
        eq(activities.provider, provider),
        eq(activities.direction, "outbound"),
        eq(activities.status, "sending"),
        isNull(activities.providerMessageId),
      ),
    )
    .returning({ id: activities.id });
  return Boolean(adopted);
}
