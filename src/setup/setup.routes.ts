import { z } from "@hono/zod-openapi";
import { CHANNEL_KINDS, PROVIDERS, ROLES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, readOnly, Timestamp, Uuid } from "../lib/schemas";

export const Role = z.enum(ROLES);

export const OrgSchema = z.object({ id: Uuid, name: z.string(), created_at: Timestamp }).openapi("Org");
export const MemberSchema = z
  .object({ user_id: Uuid, role: Role, name: z.string().nullable(), email: z.string().nullable(), created_at: Timestamp })
  .openapi("Member");
export const ChannelSchema = z
  .object({
    id: Uuid,
    kind: z.enum(CHANNEL_KINDS),
    address: z.string(),
    provider: z.enum(PROVIDERS),
    created_at: Timestamp,
  })
  .openapi("Channel");

const Name = z.string().trim().min(1).max(200);

export const createOrg = apiRoute("user", {
  method: "post",
  path: "/orgs",
  operationId: "createOrg",
  tags: ["Setup"],
  summary: "Create an org; the caller becomes its owner",
  request: { body: jsonBody(z.strictObject({ name: Name })) },
  responses: { 201: jsonContent(OrgSchema, "The new org") },
});

export const listMembers = apiRoute("member", {
  method: "get",
  path: "/members",
  operationId: "listMembers",
  tags: ["Setup"],
  summary: "List the org's members",
  responses: { 200: jsonContent(z.object({ data: z.array(MemberSchema) }), "Members, oldest first") },
});

const UserParam = IdParam("user_id");

export const putMember = apiRoute("admin", {
  method: "put",
  path: "/members/{user_id}",
  operationId: "upsertMember",
  tags: ["Setup"],
  summary: "Add or update a member (owner/admin; only an owner grants or changes `owner`)",
  request: {
    params: UserParam,
    body: jsonBody(
      z.strictObject({
        role: Role,
        name: Name.nullable().optional(),
        email: z.string().trim().email().max(320).nullable().optional(),
        user_id: readOnly(Uuid),
        created_at: readOnly(Timestamp),
      }),
    ),
  },
  responses: {
    200: jsonContent(MemberSchema, "Updated"),
    201: jsonContent(MemberSchema, "Created"),
    ...pickErrors(422),
  },
});

export const deleteMember = apiRoute("admin", {
  method: "delete",
  path: "/members/{user_id}",
  operationId: "deleteMember",
  tags: ["Setup"],
  summary: "Remove a member; their conversations become unassigned",
  request: { params: UserParam },
  responses: { 204: { description: "Removed" }, ...pickErrors(422) },
});

export const listChannels = apiRoute("member", {
  method: "get",
  path: "/channels",
  operationId: "listChannels",
  tags: ["Setup"],
  summary: "List the org's sending channels",
  responses: { 200: jsonContent(z.object({ data: z.array(ChannelSchema) }), "Channels, oldest first") },
});

export const createChannel = apiRoute("admin", {
  method: "post",
  path: "/channels",
  operationId: "createChannel",
  tags: ["Setup"],
  summary: "Add a channel (an sms number or an email address) with its provider",
  request: {
    body: jsonBody(
      z.strictObject({
        kind: z.enum(CHANNEL_KINDS),
        address: z.string().trim().min(1).max(320),
        provider: z.enum(PROVIDERS),
      }),
    ),
  },
  responses: { 201: jsonContent(ChannelSchema, "The new channel"), ...pickErrors(409) },
});

export const deleteChannel = apiRoute("admin", {
  method: "delete",
  path: "/channels/{channel_id}",
  operationId: "deleteChannel",
  tags: ["Setup"],
  summary: "Remove a channel",
  request: { params: IdParam("channel_id") },
  responses: { 204: { description: "Removed" } },
});
