import type { z } from "@hono/zod-openapi";
import type { Db } from "../db/client";
import type { AppEnv, AppRouteHandler } from "../env";
import { presentMany, presentOne } from "../labels/present";
import type { LabelRef } from "../labels/queries";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { ApiError, invalid, notFound, problemBody } from "../lib/errors";
import type { BulkAction } from "../org-inbox/bulk";
import { inbox } from "../org-inbox/client";
import type { StateChange } from "../org-inbox/state";
import { type MessageHit, searchConversations, threadMatch } from "../search/queries";
import { parseQuery } from "../search/query";
import { contactSnippet, messageSnippet } from "../search/snippet";
import { findMemberView } from "../views/queries";
import type * as routes from "./conversations.routes";
import type { BulkBody } from "./conversations.routes";
import { exportStream } from "./export";
import { type ConversationOut, toConversation, toMessage, toSuggestion } from "./present";
import { type ConversationFilter, type ConversationWithContact, conversationPage, findActivity, listThread, mediaFor, selectConversation } from "./queries";

/** The longest snooze (SPEC 17: at most a year ahead). */
const SNOOZE_MAX_MS = 365 * 86_400_000;

/** A conversation as a write left it, with its labels (one read). */
const render = (c: { var: { db: Db }; get: (key: "orgId") => string }, row: ConversationWithContact) => presentOne(c.var.db, c.get("orgId"), row);

export const listConversations: AppRouteHandler<typeof routes.listConversations> = async (c) => {
  const { limit = 25, cursor, view, q, label, ...rest } = c.req.valid("query");
  // label= (repeatable) is the filter's label_ids; given, it replaces a view's, as every explicit param does.
  const explicit = { ...rest, label_ids: label ? [...new Set(label.map((id) => id.toLowerCase()))] : undefined };
  const now = Date.now();
  const db = c.var.db;
  const given = Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined));
  let filters: ConversationFilter;
  if (view) {
    // The view's filters are the whole set (no archived=false default); explicit params win.
    const saved = await findMemberView(db, c.get("orgId"), c.get("userId"), view.toLowerCase());
    if (!saved) throw notFound("View");
    filters = { ...(saved.filters as ConversationFilter), ...given };
  } else {
    // Every snoozed conversation is archived: snoozed=true drops the archived=false default.
    filters = { ...(given.snoozed === true ? {} : { archived: false }), ...given };
  }
  const orgId = c.get("orgId");
  const userId = c.get("userId");
  const after = decodeCursor(cursor, timeIdCursor);
  if (q === undefined) {
    const rows = await conversationPage(db, orgId, userId, filters, now, after, limit).all();
    const { data, next_cursor } = page(rows, limit, (last) => [last.conversation.sortAt, last.conversation.id]);
    return c.json({ data: data.map((r) => toConversation(r.conversation, r.contact, now, JSON.parse(r.labels) as LabelRef[])), next_cursor }, 200);
  }
  // Search (SPEC 16): the same list, narrowed to conversations whose messages or contact match.
  const terms = parseQuery(q);
  if (!terms.length) return c.json({ data: [], next_cursor: null }, 200);
  // One statement (two when a remembered plan's does not answer): the page, each row's
  // newest matching message and its labels (src/search/queries.ts).
  const rows = await searchConversations(db, orgId, userId, filters, now, terms, after, limit);
  const { data, next_cursor } = page(rows, limit, (last) => [last.conversation.sortAt, last.conversation.id]);
  const items = data.map((r) => {
    const hit = r.hit === null ? null : (JSON.parse(r.hit) as MessageHit);
    const match = hit
      ? { message_id: hit.id, snippet: messageSnippet([hit.body, hit.subject, hit.transcript, hit.summary], terms) }
      : { message_id: null, snippet: contactSnippet(r.contact, terms) };
    return { ...toConversation(r.conversation, r.contact, now, JSON.parse(r.labels) as LabelRef[]), match };
  });
  return c.json({ data: items, next_cursor }, 200);
};

/** GET /conversations/export (SPEC 20): NDJSON, read a page at a time as the client reads (src/conversations/export.ts). */
export const exportConversations: AppRouteHandler<typeof routes.exportConversations> = async (c) => {
  const after = c.req.valid("query").after?.toLowerCase() ?? null;
  const stream = await exportStream(c.env, c.var.db, c.get("orgId"), after);
  const headers = { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" };
  // The route's typed responses take a *json media type as one JSON body (c.json); NDJSON is a stream of them.
  return c.body(stream, 200, headers) as never;
};

export const getConversation: AppRouteHandler<typeof routes.getConversation> = async (c) => {
  const db = c.var.db;
  const orgId = c.get("orgId");
  const row = await selectConversation(db, orgId, c.req.valid("param").conversation_id.toLowerCase()).get();
  if (!row) throw notFound("Conversation");
  const pendingId = row.conversation.pendingSuggestionId;
  const pending = pendingId ? await findActivity(db, orgId, pendingId) : undefined;
  return c.json({ ...(await presentOne(db, orgId, row)), pending_suggestion: pending?.status === "pending" ? toSuggestion(pending) : null }, 200);
};

export const listMessages: AppRouteHandler<typeof routes.listMessages> = async (c) => {
  const db = c.var.db;
  const orgId = c.get("orgId");
  const conversationId = c.req.valid("param").conversation_id.toLowerCase();
  const { order = "desc", include, q, limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, timeIdCursor);
  const terms = q === undefined ? undefined : parseQuery(q);
  const [exists, rows] = await Promise.all([
    selectConversation(db, orgId, conversationId).get(),
    // A q with no letter or digit matches nothing: no query.
    terms?.length === 0
      ? Promise.resolve([])
      : listThread(db, orgId, conversationId, {
          order,
          includeSuggestions: include === "suggestions",
          after,
          limit,
          match: terms && threadMatch(orgId, conversationId, terms),
        }),
  ]);
  if (!exists) throw notFound("Conversation");
  const { data, next_cursor } = page(rows, limit, (last) => [last.occurredAt, last.id]);
  const media = await mediaFor(
    db,
    orgId,
    data.flatMap((a) => (a.callRecordingMediaId ? [...a.mediaIds, a.callRecordingMediaId] : a.mediaIds)),
  );
  const out = await Promise.all(data.map((a) => (a.type === "suggestion" ? toSuggestion(a) : toMessage(c.env, a, media))));
  return c.json({ data: out, next_cursor }, 200);
};

export const openConversation: AppRouteHandler<typeof routes.openConversation> = async (c) => {
  const orgId = c.get("orgId");
  const contactId = c.req.valid("param").contact_id.toLowerCase();
  const opened = await inbox(c.env, orgId).openConversation(contactId);
  return c.json(await render(c, opened), opened.created ? 201 : 200);
};

type Ctx = { env: AppEnv["Bindings"]; var: { db: Db }; get: (key: "orgId") => string };
async function changeState(c: Ctx, conversationId: string, change: StateChange) {
  return render(c, await inbox(c.env, c.get("orgId")).changeState(conversationId.toLowerCase(), change));
}

export const star: AppRouteHandler<typeof routes.star> = async (c) =>
  c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "star", starred: true }), 200);
export const unstar: AppRouteHandler<typeof routes.unstar> = async (c) =>
  c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "star", starred: false }), 200);
export const markRead: AppRouteHandler<typeof routes.markRead> = async (c) =>
  c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "read" }), 200);
export const markUnread: AppRouteHandler<typeof routes.markUnread> = async (c) =>
  c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "unread" }), 200);
export const archive: AppRouteHandler<typeof routes.archive> = async (c) =>
  c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "archive", archived: c.req.valid("json").archived }), 200);
export const assign: AppRouteHandler<typeof routes.assign> = async (c) => {
  const assignedTo = c.req.valid("json").assigned_to?.toLowerCase() ?? null;
  return c.json(await changeState(c, c.req.valid("param").conversation_id, { kind: "assign", assignedTo }), 200);
};

/** A snooze's `until` as a time: future, at most SNOOZE_MAX_MS ahead (else 400). */
function snoozeUntil(given: string, now = Date.now()) {
  const until = Date.parse(given);
  if (!Number.isFinite(until)) throw invalid("until", "until is not a valid time");
  if (until <= now) throw invalid("until", "until must be in the future");
  if (until > now + SNOOZE_MAX_MS) throw invalid("until", "until must be at most 365 days ahead");
  return until;
}

export const snooze: AppRouteHandler<typeof routes.snooze> = async (c) => {
  const until = snoozeUntil(c.req.valid("json").until);
  const row = await inbox(c.env, c.get("orgId")).snooze(c.req.valid("param").conversation_id.toLowerCase(), until);
  return c.json(await render(c, row), 200);
};
export const unsnooze: AppRouteHandler<typeof routes.unsnooze> = async (c) =>
  c.json(await render(c, await inbox(c.env, c.get("orgId")).unsnooze(c.req.valid("param").conversation_id.toLowerCase())), 200);

/** Which body field each bulk action needs (and no other action may carry). */
const BULK_FIELD = { assign: "assigned_to", snooze: "until", add_labels: "label_ids", remove_labels: "label_ids" } as const;

/** The bulk body's action as OrgInbox's; a missing or stray field, or a bad until → 400. */
function bulkAction(body: z.infer<typeof BulkBody>): BulkAction {
  const { action } = body;
  const needs: string | undefined = BULK_FIELD[action as keyof typeof BULK_FIELD];
  for (const field of ["assigned_to", "until", "label_ids"] as const) {
    if (field === needs && body[field] === undefined) throw invalid(field, `${field} is required by ${action}`);
    if (field !== needs && body[field] !== undefined) throw invalid(field, `${field} does not belong to ${action}`);
  }
  switch (action) {
    case "read":
    case "unread":
      return { kind: "state", change: { kind: action } };
    case "star":
    case "unstar":
      return { kind: "state", change: { kind: "star", starred: action === "star" } };
    case "archive":
    case "unarchive":
      return { kind: "state", change: { kind: "archive", archived: action === "archive" } };
    case "assign":
      return { kind: "state", change: { kind: "assign", assignedTo: body.assigned_to?.toLowerCase() ?? null } };
    case "snooze":
      return { kind: "snooze", until: snoozeUntil(body.until as string) };
    case "add_labels":
    case "remove_labels":
      return { kind: "labels", op: action === "add_labels" ? "add" : "remove", labelIds: body.label_ids as string[] };
  }
}

type BulkResult = { conversation_id: string; status: 200 | 400 | 404 | 422; conversation?: ConversationOut; error?: ReturnType<typeof problemBody> };

/** POST /conversations/bulk (SPEC 17): one OrgInbox turn; each given id answered in order, a repeated one with its first's result. */
export const bulk: AppRouteHandler<typeof routes.bulk> = async (c) => {
  const body = c.req.valid("json");
  const action = bulkAction(body);
  const ids = body.conversation_ids.map((id) => id.toLowerCase());
  const orgId = c.get("orgId");
  const items = await inbox(c.env, orgId).bulk(ids, action);
  const done = items.flatMap((i) => ("ok" in i ? [i.ok] : []));
  const shown = await presentMany(c.var.db, orgId, done);
  const byId = new Map<string, BulkResult>();
  let k = 0;
  for (const item of items) {
    if ("ok" in item) byId.set(item.conversationId, { conversation_id: item.conversationId, status: 200, conversation: shown[k++] });
    else {
      const e = new ApiError(item.error.code, item.error.detail, item.error.errors);
      byId.set(item.conversationId, { conversation_id: item.conversationId, status: e.status as BulkResult["status"], error: problemBody(e) });
    }
  }
  return c.json({ results: ids.map((id) => byId.get(id) as BulkResult) }, 200);
};
