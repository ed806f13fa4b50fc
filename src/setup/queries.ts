import { and, asc, eq, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Channel, channels, type Member, members, type Org } from "../db/schema";
import { iso } from "../lib/time";

export const toOrg = (o: Org) => ({ id: o.id, name: o.name, created_at: iso(o.createdAt) });
export const toMember = (m: Member) => ({
  user_id: m.userId,
  role: m.role,
  name: m.name,
  email: m.email,
  created_at: iso(m.createdAt),
});
export const toChannel = (ch: Channel) => ({
  id: ch.id,
  kind: ch.kind,
  address: ch.address,
  provider: ch.provider,
  created_at: iso(ch.createdAt),
});

export const findMember = (db: Db, orgId: string, userId: string) =>
  db
    .select()
    .from(members)
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId)))
    .get();

export const listMembersOf = (db: Db, orgId: string) =>
  db.select().from(members).where(eq(members.orgId, orgId)).orderBy(asc(members.createdAt), asc(members.userId)).all();

export const listChannelsOf = (db: Db, orgId: string) =>
  db.select().from(channels).where(eq(channels.orgId, orgId)).orderBy(asc(channels.createdAt), asc(channels.id)).all();

/**
 * Guards a change to an owner row: it applies only while another owner remains,
 * checked in the same statement so two owners cannot demote each other at once.
 */
export const anotherOwnerRemains = (orgId: string) =>
  or(ne(members.role, "owner"), sql`(SELECT COUNT(*) FROM members WHERE org_id = ${orgId} AND role = 'owner') > 1`);
