import { and, eq } from "drizzle-orm";
import { db } from "../db/client";
import { channels, members, orgs } from "../db/schema";
import { settings } from "../config/settings";
import type { AppRouteHandler } from "../env";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { normalizeEmail, requireE164 } from "../lib/phone";
import { forgetMembership } from "../middleware/org";
import { inbox } from "../org-inbox/client";
import { anotherOwnerRemains, findMember, listChannelsOf, listMembersOf, toChannel, toMember, toOrg } from "./queries";
import type * as R from "./setup.routes";

export const createOrg: AppRouteHandler<typeof R.createOrg> = async (c) => {
  const { name } = c.req.valid("json");
  const now = Date.now();
  const org = { id: uuidv7(now), name, createdAt: now };
  const claims = c.get("claims");
  const d = db(c.env);
  await d.batch([
    d.insert(orgs).values(org),
    d.insert(members).values({
      orgId: org.id,
      userId: c.get("userId"),
      role: "owner",
      name: claims.name ?? null,
      email: claims.email ? normalizeEmail(claims.email) : null,
      createdAt: now,
      updatedAt: now,
    }),
  ]);
  return c.json(toOrg(org), 201);
};

export const listMembers: AppRouteHandler<typeof R.listMembers> = async (c) => {
  const rows = await listMembersOf(db(c.env), c.get("orgId"));
  return c.json({ data: rows.map(toMember) }, 200);
};


const lastOwner = () => new ApiError("last_owner", "The org's last owner cannot be removed or demoted.");

export const putMember: AppRouteHandler<typeof R.putMember> = async (c) => {
  const { user_id: rawUserId } = c.req.valid("param");
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const userId = rawUserId.toLowerCase();
  const d = db(c.env);
  const existing = await findMember(d, orgId, userId);
  if (c.get("role") !== "owner" && (body.role === "owner" || existing?.role === "owner")) {
    throw new ApiError("forbidden", "Only an owner may grant, change or remove the owner role.");
  }
  const now = Date.now();
  const email = body.email == null ? body.email : normalizeEmail(body.email);
  forgetMembership(orgId, userId);
  if (!existing) {
    const inserted = await d
      .insert(members)
      .values({ orgId, userId, role: body.role, name: body.name ?? null, email: email ?? null, createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning();
    if (inserted.length) return c.json(toMember(inserted[0]), 201);
  }
  const updated = await d
    .update(members)
    .set({
      role: body.role,
      updatedAt: now,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(email !== undefined ? { email } : {}),
    })
    .where(
      and(
        eq(members.orgId, orgId),
        eq(members.userId, userId),
        body.role === "owner" ? undefined : anotherOwnerRemains(orgId),
      ),
    )
    .returning();
  if (!updated.length) throw lastOwner();
  return c.json(toMember(updated[0]), 200);
};

export const deleteMember: AppRouteHandler<typeof R.deleteMember> = async (c) => {
  const orgId = c.get("orgId");
  const userId = c.req.valid("param").user_id.toLowerCase();
  const d = db(c.env);
  const existing = await findMember(d, orgId, userId);
  if (!existing) throw notFound("Member");
  if (existing.role === "owner" && c.get("role") !== "owner") {
    throw new ApiError("forbidden", "Only an owner may remove an owner.");
  }
  // Through OrgInbox: unassigning their threads is a conversation-state write,
  // and it must not interleave with an assign to the same member.
  const deleted = await inbox(c.env, orgId).removeMember(userId);
  forgetMembership(orgId, userId);
  if (!deleted) throw lastOwner();
  return c.body(null, 204);
};

export const listChannels: AppRouteHandler<typeof R.listChannels> = async (c) => {
  const rows = await listChannelsOf(db(c.env), c.get("orgId"));
  return c.json({ data: rows.map(toChannel) }, 200);
};

const providersByKind = { sms: ["twilio", "log"], email: ["postmark", "log"] } as const;

export const createChannel: AppRouteHandler<typeof R.createChannel> = async (c) => {
  const body = c.req.valid("json");
  if (!(providersByKind[body.kind] as readonly string[]).includes(body.provider)) {
    throw invalid("provider", `A ${body.kind} channel takes provider ${providersByKind[body.kind].join(" or ")}.`);
  }
  const address =
    body.kind === "sms" ? requireE164(body.address, "address", settings(c.env).defaultPhoneRegion) : normalizeEmail(body.address);
  if (body.kind === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
    throw invalid("address", "address must be an email address.");
  }
  const now = Date.now();
  const row = { id: uuidv7(now), orgId: c.get("orgId"), kind: body.kind, address, provider: body.provider, createdAt: now };
  const inserted = await db(c.env).insert(channels).values(row).onConflictDoNothing().returning();
  if (!inserted.length) throw new ApiError("conflict", `The ${body.kind} address ${address} is already a channel.`);
  return c.json(toChannel(inserted[0]), 201);
};

export const deleteChannel: AppRouteHandler<typeof R.deleteChannel> = async (c) => {
  const deleted = await db(c.env)
    .delete(channels)
    .where(and(eq(channels.id, c.req.valid("param").channel_id.toLowerCase()), eq(channels.orgId, c.get("orgId"))))
    .returning({ id: channels.id });
  if (!deleted.length) throw notFound("Channel");
  return c.body(null, 204);
};
