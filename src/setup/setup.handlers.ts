import { and, eq } from "drizzle-orm";
import { settings } from "../config/settings";
import { members, orgs } from "../db/schema";
import { controlDb, rememberShard, shardOfNewOrg } from "../db/shards";
import type { AppRouteHandler } from "../env";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { normalizeEmail, requireE164 } from "../lib/phone";
import { forgetMembership } from "../middleware/org";
import { inbox } from "../org-inbox/client";
import { addChannel, removeChannel } from "./channels";
import { anotherOwnerRemains, findMember, listChannelsOf, listMembersOf, toChannel, toMember, toOrg } from "./queries";
import type * as routes from "./setup.routes";

export const createOrg: AppRouteHandler<typeof routes.createOrg> = async (c) => {
  const { name } = c.req.valid("json");
  const now = Date.now();
  // Control only: the org with its shard and its owner, in one batch. Nothing of a new
  // org is in its shard yet (its first row there is its first channel, contact or view).
  const org = { id: uuidv7(now), name, createdAt: now, shard: await shardOfNewOrg(c.env) };
  const claims = c.get("claims");
  const db = controlDb(c.env);
  await db.batch([
    db.insert(orgs).values(org),
    db.insert(members).values({
      orgId: org.id,
      userId: c.get("userId"),
      role: "owner",
      name: claims.name ?? null,
      email: claims.email ? normalizeEmail(claims.email) : null,
      createdAt: now,
      updatedAt: now,
    }),
  ]);
  rememberShard(org.id, org.shard, now);
  return c.json(toOrg(org), 201);
};

export const listMembers: AppRouteHandler<typeof routes.listMembers> = async (c) => {
  const rows = await listMembersOf(controlDb(c.env), c.get("orgId"));
  return c.json({ data: rows.map(toMember) }, 200);
};

const lastOwner = () => new ApiError("last_owner", "The org's last owner cannot be removed or demoted.");

export const putMember: AppRouteHandler<typeof routes.putMember> = async (c) => {
  const { user_id: rawUserId } = c.req.valid("param");
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const userId = rawUserId.toLowerCase();
  const db = controlDb(c.env);
  const existing = await findMember(db, orgId, userId);
  if (c.get("role") !== "owner" && (body.role === "owner" || existing?.role === "owner")) {
    throw new ApiError("forbidden", "Only an owner may grant, change or remove the owner role.");
  }
  const now = Date.now();
  const email = body.email == null ? body.email : normalizeEmail(body.email);
  forgetMembership(orgId, userId);
  if (!existing) {
    const inserted = await db
      .insert(members)
      .values({ orgId, userId, role: body.role, name: body.name ?? null, email: email ?? null, createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning();
    if (inserted.length) return c.json(toMember(inserted[0]), 201);
  }
  const updated = await db
    .update(members)
    .set({
      role: body.role,
      updatedAt: now,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(email !== undefined ? { email } : {}),
    })
    .where(and(eq(members.orgId, orgId), eq(members.userId, userId), body.role === "owner" ? undefined : anotherOwnerRemains(orgId)))
    .returning();
  if (!updated.length) throw lastOwner();
  return c.json(toMember(updated[0]), 200);
};

export const deleteMember: AppRouteHandler<typeof routes.deleteMember> = async (c) => {
  const orgId = c.get("orgId");
  const userId = c.req.valid("param").user_id.toLowerCase();
  const existing = await findMember(controlDb(c.env), orgId, userId);
  if (existing?.role === "owner" && c.get("role") !== "owner") {
    throw new ApiError("forbidden", "Only an owner may remove an owner.");
  }
  // Through OrgInbox: unassigning their threads is a conversation-state write,
  // and it must not interleave with an assign to the same member. With no member
  // row it still looks for what a failed earlier removal left in the shard.
  const outcome = await inbox(c.env, orgId).removeMember(userId);
  forgetMembership(orgId, userId);
  if (outcome === "last_owner") throw lastOwner();
  if (outcome === "absent") throw notFound("Member");
  return c.body(null, 204);
};

export const listChannels: AppRouteHandler<typeof routes.listChannels> = async (c) => {
  const rows = await listChannelsOf(c.var.db, c.get("orgId"));
  return c.json({ data: rows.map(toChannel) }, 200);
};

const providersByKind = { sms: ["twilio", "log"], email: ["postmark", "log"] } as const;

export const createChannel: AppRouteHandler<typeof routes.createChannel> = async (c) => {
  const body = c.req.valid("json");
  if (!(providersByKind[body.kind] as readonly string[]).includes(body.provider)) {
    throw invalid("provider", `A ${body.kind} channel takes provider ${providersByKind[body.kind].join(" or ")}.`);
  }
  const address = body.kind === "sms" ? requireE164(body.address, "address", settings(c.env).defaultPhoneRegion) : normalizeEmail(body.address);
  if (body.kind === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
    throw invalid("address", "address must be an email address.");
  }
  const now = Date.now();
  const row = { id: uuidv7(now), orgId: c.get("orgId"), kind: body.kind, address, provider: body.provider, createdAt: now };
  const added = await addChannel(c.env, c.var.db, row);
  if (!added) throw new ApiError("conflict", `The ${body.kind} address ${address} is already a channel.`);
  return c.json(toChannel(added), 201);
};

export const deleteChannel: AppRouteHandler<typeof routes.deleteChannel> = async (c) => {
  if (!(await removeChannel(c.env, c.var.db, c.get("orgId"), c.req.valid("param").channel_id.toLowerCase()))) throw notFound("Channel");
  return c.body(null, 204);
};
