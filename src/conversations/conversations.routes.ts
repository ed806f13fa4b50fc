import { z } from "@hono/zod-openapi";
import { ContactParam } from "../contacts/contacts.routes";
import { SCOPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { MAX_CONVERSATION_LABELS } from "../labels/queries";
import { ProblemSchema, pickErrors } from "../lib/errors";
import { Cursor, IdParam, jsonBody, jsonContent, Limit, listOf, QueryBool, Uuid } from "../lib/schemas";
import { SearchQuery } from "../search/query";
import { EXPORT_CONVERSATION_PAGE, EXPORT_MESSAGE_PAGE } from "./export";
import { ConversationDetailSchema, ConversationListItemSchema, ConversationSchema, MessageSchema, TimelineItemSchema } from "./schemas";

const tags = ["Conversations"];
/** Labels one list or view may filter on (all must match). */
export const MAX_LABEL_FILTERS = 10;
/**
 * `/conversations/{conversation_id}/…` shares its first segments with static routes:
 * static segments win, so `media`, `views`, `sla` and `overdue` are never read as a
 * conversation id (ids are UUIDs; anything else is 404); nor is `export`, registered first in this router.
 */
export const PATH_PRECEDENCE =
  "Static segments win: `/conversations/media/…`, `/conversations/views…`, `/conversations/sla`, `/conversations/overdue/…` and `/conversations/export` are their own routes; `media`, `views`, `sla`, `overdue` and `export` are never a conversation id (ids are UUIDs).";
export const ConversationParam = IdParam("conversation_id", `The conversation's id (a UUID). ${PATH_PRECEDENCE}`);
const Conversation200 = { 200: jsonContent(ConversationSchema, "The conversation, as it is now") };

export const ConversationFilters = z.object({
  scope: z.enum(SCOPES).optional().openapi({ description: "mine = assigned to the caller; default team" }),
  archived: QueryBool.optional().openapi({ description: "default false" }),
  overdue: QueryBool.optional().openapi({ description: "absent: both" }),
  starred: QueryBool.optional(),
  unread: QueryBool.optional(),
  snoozed: QueryBool.optional().openapi({ description: "true = snoozed (always archived, so pair it with archived=true or a view); absent: both" }),
  assigned_to: z
    .union([Uuid, z.literal("unassigned")])
    .optional()
    .openapi({ description: "a member's user id, or `unassigned`" }),
  contact_id: Uuid.optional(),
  label: z
    .union([Uuid, z.array(Uuid).max(MAX_LABEL_FILTERS)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional()
    .openapi({
      type: "array",
      items: { type: "string", format: "uuid" },
      maxItems: MAX_LABEL_FILTERS,
      description: `a label's id; repeat it (up to ${MAX_LABEL_FILTERS}) for conversations with all of them. An id that is no label of the org matches nothing`,
    }),
  view: Uuid.optional().openapi({ description: "one of the caller's views: its filters are the whole filter set; explicit params override" }),
});

export const listConversations = apiRoute("member", {
  method: "get",
  path: "/conversations",
  operationId: "listConversations",
  tags,
  summary: "List conversations, newest activity first; search them with q",
  description:
    "With `q`: the conversations with a message (body, subject, call transcript or summary; not a setter draft) or a contact (name, email, phone digits) matching it, with every other filter and `view`, in the same order and with the same cursors; each item gains `match`. A `q` with no letter or digit lists nothing.",
  request: { query: ConversationFilters.extend({ q: SearchQuery.optional(), limit: Limit, cursor: Cursor }) },
  responses: { 200: jsonContent(listOf(ConversationListItemSchema, "ConversationList"), "A page of conversations") },
});

/** One line of GET /conversations/export: a Conversation with its messages. */
export const ConversationExportSchema = ConversationSchema.extend({
  messages: z.array(MessageSchema).openapi({ description: "every message of the thread (no setter drafts), oldest first (occurred_at, then id)" }),
}).openapi("ConversationExport");

export const exportConversations = apiRoute("admin", {
  method: "get",
  path: "/conversations/export",
  operationId: "exportConversations",
  tags,
  summary: "Export the org's conversations with their messages as NDJSON (owner, admin)",
  description:
    "A stream of `application/x-ndjson`: one line per conversation of the org, each a `ConversationExport` (the Conversation as `GET /conversations/{conversation_id}` shows it, labels included, plus `messages`: every message, no setter drafts, oldest first), the last line ending in a newline. " +
    `Lines come in contact id order, a key that no inbox change moves, so a conversation is exported once even while the inbox is worked; the server reads ${EXPORT_CONVERSATION_PAGE} conversations and at most ${EXPORT_MESSAGE_PAGE} messages at a time (a long thread in chunks), only as fast as the client reads, so any org exports in bounded memory. ` +
    "Resume a cut export with `after` = the `contact.id` of the last complete line: the lines after it follow. A conversation opened meanwhile for a contact whose id sorts before where the export is comes in the next export, not this one. " +
    "A failure before the first line is an error answer (problem+json). A failure in mid-stream aborts the response (the chunked body ends without its terminating chunk: `curl` exits 18, `fetch` throws): a client keeps only newline-terminated lines and resumes after the last of them. " +
    "A line is not a snapshot: a message that moves forward in its thread while a long thread is read (a scheduled send released) may appear twice in it; deduplicate by message id.",
  request: {
    query: z.object({
      after: Uuid.optional().openapi({ description: "resume: only conversations whose contact id sorts after this one (a line's `contact.id`)" }),
    }),
  },
  responses: {
    200: {
      description: "The org's conversations, one JSON object (ConversationExport) a line",
      content: { "application/x-ndjson": { schema: ConversationExportSchema } },
    },
  },
});

export const getConversation = apiRoute("member", {
  method: "get",
  path: "/conversations/{conversation_id}",
  operationId: "getConversation",
  tags,
  summary: "Get a thread, with its pending setter draft",
  description: PATH_PRECEDENCE,
  request: { params: ConversationParam },
  responses: { 200: jsonContent(ConversationDetailSchema, "The conversation") },
});

export const listMessages = apiRoute("member", {
  method: "get",
  path: "/conversations/{conversation_id}/messages",
  operationId: "listMessages",
  tags,
  summary: "List a thread's messages (calls inline with their summary)",
  description:
    "With `q`: only the messages matching it (body, subject, call transcript or summary; setter drafts never match), in the same order and with the same cursors.",
  request: {
    params: ConversationParam,
    query: z.object({
      order: z.enum(["desc", "asc"]).optional().openapi({ description: "by occurred_at; default desc" }),
      include: z.enum(["suggestions"]).optional().openapi({ description: "also list setter drafts (type suggestion)" }),
      q: SearchQuery.optional(),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: {
    200: jsonContent(z.object({ data: z.array(TimelineItemSchema), next_cursor: z.string().nullable() }).openapi("MessageList"), "A page of the timeline"),
  },
});

export const openConversation = apiRoute("member", {
  method: "post",
  path: "/contacts/{contact_id}/conversations",
  operationId: "openConversation",
  tags,
  summary: "Open the contact's conversation (201 created, 200 existing)",
  request: { params: ContactParam },
  responses: {
    200: jsonContent(ConversationSchema, "The existing conversation"),
    201: jsonContent(ConversationSchema, "A new conversation"),
  },
});

const stateRoute = (operationId: string, method: "post" | "delete", suffix: string, summary: string) =>
  apiRoute("member", {
    method,
    path: `/conversations/{conversation_id}/${suffix}`,
    operationId,
    tags: ["Inbox state"],
    summary,
    request: { params: ConversationParam },
    responses: Conversation200,
  });

export const star = stateRoute("starConversation", "post", "star", "Star a conversation");
export const unstar = stateRoute("unstarConversation", "delete", "star", "Unstar a conversation");
export const markRead = stateRoute("markConversationRead", "post", "read", "Mark read: unread_count 0, last_read_at now");
export const markUnread = stateRoute("markConversationUnread", "post", "unread", "Mark unread: unread_count at least 1");
export const archive = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/archive",
  operationId: "archiveConversation",
  tags: ["Inbox state"],
  summary: "Archive or unarchive; a new inbound activity unarchives",
  request: { params: ConversationParam, body: jsonBody(z.strictObject({ archived: z.boolean() })) },
  responses: Conversation200,
});
export const assign = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/assign",
  operationId: "assignConversation",
  tags: ["Inbox state"],
  summary: "Assign to a member, or unassign with null",
  request: { params: ConversationParam, body: jsonBody(z.strictObject({ assigned_to: Uuid.nullable() })) },
  responses: { 200: jsonContent(ConversationSchema, "The conversation, as it is now"), ...pickErrors(422) },
});
export const snooze = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/snooze",
  operationId: "snoozeConversation",
  tags: ["Inbox state"],
  summary: "Snooze until a time: archived until then, then unarchived and unread",
  description:
    "`until` must be in the future and at most 365 days ahead (else 400). Snoozing a snoozed conversation moves its time. It wakes (unarchived, `unread_count` at least 1, `snoozed_until` null, a `conversation.updated` event) at `until`, on a new inbound message, or on `DELETE`, whichever comes first.",
  request: {
    params: ConversationParam,
    body: jsonBody(z.strictObject({ until: z.iso.datetime({ offset: true }).openapi({ description: "when it wakes; future, at most 365 days ahead" }) })),
  },
  responses: Conversation200,
});
export const unsnooze = apiRoute("member", {
  method: "delete",
  path: "/conversations/{conversation_id}/snooze",
  operationId: "unsnoozeConversation",
  tags: ["Inbox state"],
  summary: "Wake a snoozed conversation now: unarchived, unread, snoozed_until null",
  description: "A conversation that is not snoozed is answered as it is, unchanged (idempotent, like the other state routes).",
  request: { params: ConversationParam },
  responses: Conversation200,
});

/** Conversation ids one bulk request may name (SPEC 17). */
export const BULK_MAX = 100;
export const BULK_ACTIONS = ["read", "unread", "star", "unstar", "archive", "unarchive", "assign", "snooze", "add_labels", "remove_labels"] as const;

const BulkItemResult = z
  .object({
    conversation_id: Uuid.openapi({ description: "The id as given (lowercased)" }),
    status: z.union([z.literal(200), z.literal(400), z.literal(404), z.literal(422)]).openapi({
      description:
        "What the single route would answer: 200 with `conversation` as it is now; 404 not in the org (`error`); 422 `assignee_not_member` or `unknown_label` (`error`); 400 add_labels would pass the per-conversation limit (`error`)",
    }),
    conversation: ConversationSchema.optional(),
    error: ProblemSchema.optional(),
  })
  .openapi("BulkItemResult");

export const BulkBody = z.strictObject({
  conversation_ids: z
    .array(Uuid)
    .min(1)
    .max(BULK_MAX)
    .openapi({ description: `1 to ${BULK_MAX} conversation ids` }),
  action: z.enum(BULK_ACTIONS),
  assigned_to: Uuid.nullable().optional().openapi({ description: "assign: a member's user id, or null to unassign" }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: "snooze: when they wake; future, at most 365 days ahead" }),
  label_ids: z.array(Uuid).min(1).max(MAX_CONVERSATION_LABELS).optional().openapi({ description: "add_labels, remove_labels: the org's label ids" }),
});

export const bulk = apiRoute(
  "member",
  {
    method: "post",
    path: "/conversations/bulk",
    operationId: "bulkConversations",
    tags: ["Inbox state"],
    summary: `One inbox action on up to ${BULK_MAX} conversations`,
    description:
      "Each id is answered as its single route would answer it (`POST …/read`, `…/star`, `…/archive`, `…/assign`, `…/snooze`; add_labels and remove_labels as `PUT …/labels` with the union or the difference), " +
      "in request order, with one `conversation.updated` event per conversation that changed; all of it in one turn of the org's writer. A repeated id is acted on once and answered at each place. " +
      "`assigned_to` (a member's id, or null to unassign) is required by and only allowed with `assign`; `until` with `snooze` (future, at most 365 days ahead); `label_ids` with add_labels and remove_labels. " +
      "A bad request as a whole (the action, the ids, a missing or stray field, a bad `until`) is 400 and changes nothing.",
    request: { body: jsonBody(BulkBody) },
    responses: {
      200: jsonContent(z.object({ results: z.array(BulkItemResult) }).openapi("BulkResult"), "One result per given id, in order"),
    },
  },
  { idempotent: true },
);
