import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { type OrgMove, orgMoves } from "../db/control";
import { iso, isoOrNull } from "../lib/time";

// The control database's record of an org's moves (SPEC 14): the POST writes the row,
// the org's OrgInbox writes its progress and outcome, GET /operator/moves/{move_id} reads it.

export type MoveChange = Partial<Pick<OrgMove, "status" | "tables" | "error" | "switchedAt" | "finishedAt">>;

export const findMove = (control: Db, moveId: string) => control.select().from(orgMoves).where(eq(orgMoves.id, moveId)).get();

export const updateMove = (control: Db, moveId: string, change: MoveChange, now = Date.now()) =>
  control
    .update(orgMoves)
    .set({ ...change, updatedAt: now })
    .where(eq(orgMoves.id, moveId));

export const toMove = (m: OrgMove) => ({
  move_id: m.id,
  org_id: m.orgId,
  from: m.fromShard,
  to: m.toShard,
  status: m.status,
  tables: m.tables,
  error: m.error,
  created_at: iso(m.createdAt),
  updated_at: iso(m.updatedAt),
  switched_at: isoOrNull(m.switchedAt),
  old_rows_deleted_at: m.status === "done" && m.finishedAt !== null ? iso(m.finishedAt) : null,
});
