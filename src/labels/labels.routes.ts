import { z } from "@hono/zod-openapi";
import { ConversationSchema } from "../conversations/schemas";
import { apiRoute } from "../http/route";
import { NameCursorParam } from "../lib/cursor";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, Limit, listOf, readOnly, Timestamp, Uuid } from "../lib/schemas";

// SPEC 17: the org's labels. Any member reads them and sets a conversation's; owners and
// admins create, rename and delete them (docs/decisions.md, "Labels").

/** Labels an org may have. */
export const MAX_LABELS = 200;
export const MAX_NAME = 40;

import { MAX_CONVERSATION_LABELS } from "./queries";

export { MAX_CONVERSATION_LABELS };

const Name = z
  .string()
  .trim()
  .min(1)
  .max(MAX_NAME)
  .openapi({ description: `1–${MAX_NAME} characters, unique in the org case-insensitively (409 conflict)` });
const Color = z
  .string()
  .regex(/^#[0-9a-fA-F]{6}$/, "must be #rrggbb")
  .transform((c) => c.toLowerCase())
  .nullable()
  .openapi({ type: "string", pattern: "^#[0-9a-fA-F]{6}$", description: '"#rrggbb" (stored lowercase), or null for none' });

export const LabelSchema = z
  .object({
    id: Uuid,
    name: z.string(),
    color: z.string().nullable().openapi({ description: '"#rrggbb" or null' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Label");

const LabelParam = IdParam("label_id");
const tags = ["Labels"];

export const listLabels = apiRoute("member", {
  method: "get",
  path: "/labels",
  operationId: "listLabels",
  tags,
  summary: "The org's labels, in name order (case-insensitive)",
  request: { query: z.object({ limit: Limit, cursor: NameCursorParam }) },
  responses: { 200: jsonContent(listOf(LabelSchema, "LabelList"), `A page of labels (an org has at most ${MAX_LABELS})`) },
});

export const createLabel = apiRoute(
  "admin",
  {
    method: "post",
    path: "/labels",
    operationId: "createLabel",
    tags,
    summary: "Create a label (owner/admin)",
    description: `409 conflict when the name is taken (case-insensitively) or the org has ${MAX_LABELS} labels.`,
    request: { body: jsonBody(z.strictObject({ name: Name, color: Color.optional() })) },
    responses: { 201: jsonContent(LabelSchema, "The label"), ...pickErrors(409) },
  },
  { idempotent: true },
);

export const getLabel = apiRoute("member", {
  method: "get",
  path: "/labels/{label_id}",
  operationId: "getLabel",
  tags,
  summary: "A label",
  request: { params: LabelParam },
  responses: { 200: jsonContent(LabelSchema, "The label") },
});

export const updateLabel = apiRoute("admin", {
  method: "patch",
  path: "/labels/{label_id}",
  operationId: "updateLabel",
  tags,
  summary: "Rename or recolor a label (owner/admin)",
  description: "Conversations show the new name and color at once (they are read with the label); no conversation.updated event is sent for them.",
  request: {
    params: LabelParam,
    body: jsonBody(
      z.strictObject({
        name: Name.optional(),
        color: Color.optional(),
        id: readOnly(Uuid),
        created_at: readOnly(Timestamp),
        updated_at: readOnly(Timestamp),
      }),
    ),
  },
  responses: { 200: jsonContent(LabelSchema, "The label, as it is now"), ...pickErrors(409) },
});

export const deleteLabel = apiRoute("admin", {
  method: "delete",
  path: "/labels/{label_id}",
  operationId: "deleteLabel",
  tags,
  summary: "Delete a label and remove it from every conversation (owner/admin)",
  description:
    "Each conversation that had it loses it with a `conversation.updated` event. A label on very many conversations is removed in steps; " +
    "should the request fail midway, the label is still there (on the conversations not yet done) and a repeated DELETE finishes it.",
  request: { params: LabelParam },
  responses: { 204: { description: "Deleted" } },
});

export const setConversationLabels = apiRoute("member", {
  method: "put",
  path: "/conversations/{conversation_id}/labels",
  operationId: "setConversationLabels",
  tags,
  summary: "Set a conversation's labels",
  description:
    `The conversation's labels become exactly \`label_ids\` (at most ${MAX_CONVERSATION_LABELS}; repeats count once; [] removes them all), ` +
    "with one `conversation.updated` event. An id that is not a label of the org → 422 unknown_label, and nothing changes. The set it already has changes nothing (no event).",
  request: {
    params: IdParam("conversation_id"),
    body: jsonBody(z.strictObject({ label_ids: z.array(Uuid).max(MAX_CONVERSATION_LABELS) })),
  },
  responses: { 200: jsonContent(ConversationSchema, "The conversation, as it is now"), ...pickErrors(422) },
});
