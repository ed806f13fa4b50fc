import { z } from "@hono/zod-openapi";
import { ContactParam } from "../contacts/contacts.routes";
import { pickErrors } from "../lib/errors";
import { apiRoute } from "../lib/route";
import { Cursor, IdParam, Limit, QueryBool, Uuid, jsonBody, jsonContent, listOf } from "../lib/schemas";
import { ConversationDetailSchema, ConversationSchema, MessageSchema, SuggestionSchema } from "./schemas";

const tags = ["Conversations"];
export const ConversationParam = IdParam("conversation_id");
const Conversation200 = { 200: jsonContent(ConversationSchema, "The conversation, as it is now") };

export const ConversationFilters = z.object({
  scope: z.enum(["mine", "team"]).optional().openapi({ description: "mine = assigned to the caller; default team" }),
  archived: QueryBool.optional().openapi({ type: "string", enum: ["true", "false"], description: "default false" }),
  overdue: QueryBool.optional().openapi({ type: "string", enum: ["true", "false"], description: "absent: both" }),
  starred: QueryBool.optional().openapi({ type: "string", enum: ["true", "false"] }),
  unread: QueryBool.optional().openapi({ type: "string", enum: ["true", "false"] }),
  assigned_to: z.union([Uuid, z.literal("unassigned")]).optional().openapi({ description: "a member's user id, or `unassigned`" }),
  contact_id: Uuid.optional(),
  view: Uuid.optional().openapi({ description: "one of the caller's views: its filters are the whole filter set; explicit params override" }),
});

export const listConversations = apiRoute("member", {
  method: "get",
  path: "/conversations",
  tags,
  summary: "List conversations, newest activity first",
  request: { query: ConversationFilters.extend({ limit: Limit, cursor: Cursor }) },
  responses: { 200: jsonContent(listOf(ConversationSchema, "ConversationList"), "A page of conversations") },
});

export const getConversation = apiRoute("member", {
  method: "get",
  path: "/conversations/{conversation_id}",
  tags,
  summary: "Get a thread, with its pending setter draft",
  request: { params: ConversationParam },
  responses: { 200: jsonContent(ConversationDetailSchema, "The conversation") },
});

export const listMessages = apiRoute("member", {
  method: "get",
  path: "/conversations/{conversation_id}/messages",
  tags,
  summary: "List a thread's messages (calls inline with their summary)",
  request: {
    params: ConversationParam,
    query: z.object({
      order: z.enum(["desc", "asc"]).optional().openapi({ description: "by occurred_at; default desc" }),
      include: z.enum(["suggestions"]).optional().openapi({ description: "also list setter drafts (type suggestion)" }),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ data: z.array(z.union([MessageSchema, SuggestionSchema])), next_cursor: z.string().nullable() }).openapi("MessageList"),
      "A page of the timeline",
    ),
  },
});

export const openConversation = apiRoute("member", {
  method: "post",
  path: "/contacts/{contact_id}/conversations",
  tags,
  summary: "Open the contact's conversation (201 created, 200 existing)",
  request: { params: ContactParam },
  responses: {
    200: jsonContent(ConversationSchema, "The existing conversation"),
    201: jsonContent(ConversationSchema, "A new conversation"),
  },
});

const stateRoute = (method: "post" | "delete", suffix: string, summary: string) =>
  apiRoute("member", {
    method,
    path: `/conversations/{conversation_id}/${suffix}`,
    tags: ["Inbox state"],
    summary,
    request: { params: ConversationParam },
    responses: Conversation200,
  });

export const star = stateRoute("post", "star", "Star a conversation");
export const unstar = stateRoute("delete", "star", "Unstar a conversation");
export const markRead = stateRoute("post", "read", "Mark read: unread_count 0, last_read_at now");
export const markUnread = stateRoute("post", "unread", "Mark unread: unread_count at least 1");
export const archive = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/archive",
  tags: ["Inbox state"],
  summary: "Archive or unarchive; a new inbound activity unarchives",
  request: { params: ConversationParam, body: jsonBody(z.strictObject({ archived: z.boolean() })) },
  responses: Conversation200,
});
export const assign = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/assign",
  tags: ["Inbox state"],
  summary: "Assign to a member, or unassign with null",
  request: { params: ConversationParam, body: jsonBody(z.strictObject({ assigned_to: Uuid.nullable() })) },
  responses: { 200: jsonContent(ConversationSchema, "The conversation, as it is now"), ...pickErrors(422) },
});
