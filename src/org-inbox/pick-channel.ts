import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Channel, type Conversation, channels } from "../db/schema";
import { ApiError } from "../lib/errors";

/** The channel the contact last wrote to on this kind, else the org's oldest of that kind (SPEC 13). */
export async function pickChannel(db: Db, orgId: string, kind: "sms" | "email", conversation: Conversation): Promise<Channel> {
  const preferred = kind === "sms" ? conversation.lastSmsChannelId : conversation.lastEmailChannelId;
  const rows = await db
    .select()
    .from(channels)
    .where(and(eq(channels.orgId, orgId), eq(channels.kind, kind)))
    .orderBy(asc(channels.createdAt), asc(channels.id))
    .all();
  const channel = rows.find((ch) => ch.id === preferred) ?? rows[0];
  if (!channel) throw new ApiError("no_channel", `The org has no ${kind} channel to send from.`);
  return channel;
}
