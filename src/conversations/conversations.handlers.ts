import type { AppEnv, AppRouteHandler } from "../env";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { inbox } from "../org-inbox/client";
import type { StateChange } from "../org-inbox/state";
import { findMemberView } from "../views/queries";
import type * as R from "./conversations.routes";
import { toConversation, toMessage, toSuggestion } from "./present";
import {
  type ConversationFilter,
  type ConversationWithContact,
  conversationWhere,
  findActivity,
  listConversations as listRows,
  listThread,
  mediaFor,
  selectConversation,
} from "./queries";

const render = (row: ConversationWithContact) => toConversation(row.conversation, row.contact);

export const listConversations: AppRouteHandler<typeof R.listConversations> = async (c) => {
  const { limit = 25, cursor, view, ...explicit } = c.req.valid("query");
  const now = Date.now();
  const d = c.var.db;
  const given = Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined));
  let filters: ConversationFilter;
  if (view) {
    // The view's filters are the whole set (no archived=false default); explicit params win.
    const saved = await findMemberView(d, c.get("orgId"), c.get("userId"), view.toLowerCase());
    if (!saved) throw notFound("View");
    filters = { ...(saved.filters as ConversationFilter), ...given };
  } else {
    filters = { archived: false, ...given };
  }
  const where = conversationWhere(c.get("orgId"), c.get("userId"), filters, now);
  const rows = await listRows(d, where, decodeCursor(cursor, timeIdCursor), limit);
  const { data, next_cursor } = page(rows, limit, (last) => [last.conversation.sortAt, last.conversation.id]);
  return c.json({ data: data.map((r) => toConversation(r.conversation, r.contact, now)), next_cursor }, 200);
};

export const getConversation: AppRouteHandler<typeof R.getConversation> = async (c) => {
  const d = c.var.db;
  const orgId = c.get("orgId");
  const row = await selectConversation(d, orgId, c.req.valid("param").conversation_id.toLowerCase()).get();
  if (!row) throw notFound("Conversation");
  const pendingId = row.conversation.pendingSuggestionId;
  const pending = pendingId ? await findActivity(d, orgId, pendingId) : undefined;
  return c.json({ ...render(row), pending_suggestion: pending?.status === "pending" ? toSuggestion(pending) : null }, 200);
};

export const listMessages: AppRouteHandler<typeof R.listMessages> = async (c) => {
  const d = c.var.db;
  const orgId = c.get("orgId");
  const conversationId = c.req.valid("param").conversation_id.toLowerCase();
  const { order = "desc", include, limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, timeIdCursor);
  const [exists, rows] = await Promise.all([
    selectConversation(d, orgId, conversationId).get(),
    listThread(d, orgId, conversationId, { order, includeSuggestions: include === "suggestions", after, limit }),
  ]);
  if (!exists) throw notFound("Conversation");
  const { data, next_cursor } = page(rows, limit, (last) => [last.occurredAt, last.id]);
  const media = await mediaFor(
    d,
    orgId,
    data.flatMap((a) => (a.callRecordingMediaId ? [...a.mediaIds, a.callRecordingMediaId] : a.mediaIds)),
  );
  const out = await Promise.all(data.map((a) => (a.type === "suggestion" ? toSuggestion(a) : toMessage(c.env, a, media))));
  return c.json({ data: out, next_cursor }, 200);
};

export const openConversation: AppRouteHandler<typeof R.openConversation> = async (c) => {
  const orgId = c.get("orgId");
  const contactId = c.req.valid("param").contact_id.toLowerCase();
  const opened = await inbox(c.env, orgId).openConversation(contactId);
  return c.json(render(opened), opened.created ? 201 : 200);
};

async function changeState(env: AppEnv["Bindings"], orgId: string, conversationId: string, change: StateChange) {
  return render(await inbox(env, orgId).changeState(conversationId.toLowerCase(), change));
}

export const star: AppRouteHandler<typeof R.star> = async (c) =>
  c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "star", starred: true }), 200);
export const unstar: AppRouteHandler<typeof R.unstar> = async (c) =>
  c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "star", starred: false }), 200);
export const markRead: AppRouteHandler<typeof R.markRead> = async (c) =>
  c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "read" }), 200);
export const markUnread: AppRouteHandler<typeof R.markUnread> = async (c) =>
  c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "unread" }), 200);
export const archive: AppRouteHandler<typeof R.archive> = async (c) =>
  c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "archive", archived: c.req.valid("json").archived }), 200);
export const assign: AppRouteHandler<typeof R.assign> = async (c) => {
  const assignedTo = c.req.valid("json").assigned_to?.toLowerCase() ?? null;
  return c.json(await changeState(c.env, c.get("orgId"), c.req.valid("param").conversation_id, { kind: "assign", assignedTo }), 200);
};
