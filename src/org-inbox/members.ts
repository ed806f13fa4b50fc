import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { conversations, conversationTallies, members, views } from "../db/schema";
import { log } from "../lib/log";
import { anotherOwnerRemains } from "../setup/queries";

export type RemoveOutcome = "removed" | "last_owner" | "absent";

/**
 * Two databases, two steps (they cannot be one batch). First the control database: the
 * member goes unless they are the last owner (one conditional statement, so two owners
 * removing each other cannot leave the org ownerless). Then the org's shard: their
 * threads unassigned, their views dropped, their tallies folded into unassigned, one
 * batch. OrgInbox runs this on its chain, so no assign interleaves. The second step is
 * tried twice; if it still fails the member is gone but their leftovers stay, the
 * failure is logged (`member_release_failed`) and thrown, and a repeated DELETE (which
 * finds no member) releases them then.
 */
export async function removeMember(control: Db, db: Db, orgId: string, userId: string): Promise<RemoveOutcome> {
  const [deleted] = await control
    .delete(members)
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId), anotherOwnerRemains(orgId)))
    .returning({ userId: members.userId });
  if (!deleted) {
    const still = await control
      .select({ userId: members.userId })
      .from(members)
      .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
      .get();
    if (still) return "last_owner";
  }
  let released: boolean;
  try {
    released = await releaseMember(control, db, orgId, userId);
  } catch (first) {
    log("warn", "member_release_retry", { org_id: orgId, user_id: userId, error: String(first) });
    try {
      released = await releaseMember(control, db, orgId, userId);
    } catch (e) {
      log("error", "member_release_failed", {
        org_id: orgId,
        user_id: userId,
        error: String(e),
        effect: "the member is removed; their threads, views and tallies are left until DELETE /members/{user_id} is repeated",
      });
      throw e;
    }
  }
  return deleted || released ? "removed" : "absent";
}

/**
 * The shard's half of a removal: false when nothing of theirs is left. A member added
 * again meanwhile (PUT /members is not on the chain) keeps everything.
 */
async function releaseMember(control: Db, db: Db, orgId: string, userId: string, now = Date.now()) {
  const [theirs, assigned, viewRows] = await db.batch([
    db
      .select()
      .from(conversationTallies)
      .where(and(eq(conversationTallies.orgId, orgId), eq(conversationTallies.assignee, userId))),
    db
      .select({ id: conversations.id })
      .from(conversations)
      .where(and(eq(conversations.orgId, orgId), eq(conversations.assignedTo, userId)))
      .limit(1),
    db
      .select({ id: views.id })
      .from(views)
      .where(and(eq(views.orgId, orgId), eq(views.userId, userId)))
      .limit(1),
  ]);
  if (!theirs.length && !assigned.length && !viewRows.length) return false;
  const back = await control
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
    .get();
  if (back) return false;
  // Their buckets fold into the unassigned ones.
  const tallyMoves = theirs.flatMap((b) => {
    const key = and(
      eq(conversationTallies.orgId, orgId),
      eq(conversationTallies.archived, b.archived),
      eq(conversationTallies.starred, b.starred),
      eq(conversationTallies.unread, b.unread),
    );
    return [
      db
        .insert(conversationTallies)
        .values({ ...b, assignee: "", n: 0 })
        .onConflictDoNothing(),
      db
        .update(conversationTallies)
        .set({ n: sql`${conversationTallies.n} + ${b.n}` })
        .where(and(key, eq(conversationTallies.assignee, ""))),
      db.delete(conversationTallies).where(and(key, eq(conversationTallies.assignee, userId))),
    ];
  });
  await db.batch([
    db
      .update(conversations)
      .set({ assignedTo: null, updatedAt: now })
      .where(and(eq(conversations.orgId, orgId), eq(conversations.assignedTo, userId))),
    db.delete(views).where(and(eq(views.orgId, orgId), eq(views.userId, userId))),
    ...tallyMoves,
  ]);
  return true;
}
