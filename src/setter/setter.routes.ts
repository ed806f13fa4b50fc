import { z } from "@hono/zod-openapi";
import { ConversationParam } from "../conversations/conversations.routes";
import { MessageSchema, SuggestionSchema } from "../conversations/schemas";
import { CHANNEL_KINDS, GENERATORS, PAIR_LABELS, SETTER_MODES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { Cursor, jsonBody, jsonContent, Limit, listOf, readOnly, Timestamp, Uuid } from "../lib/schemas";

export const SetterConfigSchema = z
  .object({
    mode: z.enum(SETTER_MODES),
    instructions: z.string().nullable(),
    generator: z.enum(GENERATORS).openapi({ description: "The LLM drafts and call summaries use (from the deployment's configuration)" }),
    updated_at: Timestamp.nullable(),
  })
  .openapi("SetterConfig");

export const getSetterConfig = apiRoute("admin", {
  method: "get",
  path: "/setter/config",
  operationId: "getSetterConfig",
  tags: ["Setter"],
  summary: "The AI setter's mode and instructions, and the generator in use",
  responses: { 200: jsonContent(SetterConfigSchema, "Setter config (mode off until set)") },
});

export const putSetterConfig = apiRoute("admin", {
  method: "put",
  path: "/setter/config",
  operationId: "updateSetterConfig",
  tags: ["Setter"],
  summary: "Set the setter's mode and instructions",
  description: "In `suggestive` mode every new inbound sms/email gets a draft reply, written off the request path by the configured LLM.",
  request: {
    body: jsonBody(
      z.strictObject({
        mode: z.enum(SETTER_MODES),
        instructions: z.string().max(8_000).nullable().optional().openapi({ description: "Given to the LLM with every draft; omitted or null clears" }),
        generator: readOnly(z.enum(GENERATORS)),
        updated_at: readOnly(Timestamp.nullable()),
      }),
    ),
  },
  responses: { 200: jsonContent(SetterConfigSchema, "The config now in force") },
});

const PairLabel = z.enum(PAIR_LABELS);

export const TrainingPairSchema = z
  .object({
    id: Uuid,
    conversation_id: Uuid,
    suggestion_id: Uuid,
    sent_message_id: Uuid,
    draft: z.string(),
    sent: z.string(),
    label: PairLabel,
    similarity: z.number(),
    context: z.array(z.object({ role: z.enum(["contact", "agent"]), body: z.string(), occurred_at: Timestamp })),
    sent_by: Uuid.nullable(),
    created_at: Timestamp,
  })
  .openapi("TrainingPair");

export const listTrainingPairs = apiRoute("admin", {
  method: "get",
  path: "/setter/training-pairs",
  operationId: "listTrainingPairs",
  tags: ["Setter"],
  summary: "Labelled draft/sent pairs, newest first; `format=jsonl` streams them all as chat fine-tuning records",
  description:
    "JSONL: one `{ messages, label, draft }` a line, `messages` = a system turn with the org's instructions (when set), the context as user/assistant turns, then the sent text as the assistant's answer. `limit` and `cursor` apply to JSON only.",
  request: {
    query: z.object({
      label: PairLabel.optional(),
      since: z.iso.datetime({ offset: true }).optional().openapi({ description: "ISO-8601; pairs created at or after it" }),
      format: z.enum(["json", "jsonl"]).optional(),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: {
    200: {
      content: {
        "application/json": { schema: listOf(TrainingPairSchema, "TrainingPairList") },
        "application/x-ndjson": { schema: z.string().openapi({ description: "One chat fine-tuning record a line" }) },
      },
      description: "Pairs",
    },
  },
});

const SuggestionParams = ConversationParam.extend({ activity_id: Uuid.openapi({ param: { name: "activity_id", in: "path" } }) });

export const createSuggestion = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/suggestions",
  operationId: "createSuggestion",
  tags: ["Setter"],
  summary: "Post a draft reply (external setters); it supersedes the pending one",
  description: "`channel` defaults to the thread's last sms/email kind, else sms when the contact has a phone, else email.",
  request: {
    params: ConversationParam,
    body: jsonBody(
      z
        .strictObject({
          body: z.string().min(1).max(100_000),
          channel: z.enum(CHANNEL_KINDS).optional(),
          subject: z.string().trim().min(1).max(998).optional(),
        })
        .openapi("NewSuggestion"),
    ),
  },
  responses: { 201: jsonContent(SuggestionSchema, "The pending draft"), ...pickErrors(422) },
});

export const sendSuggestion = apiRoute(
  "member",
  {
    method: "post",
    path: "/conversations/{conversation_id}/suggestions/{activity_id}/send",
    operationId: "sendSuggestion",
    tags: ["Setter"],
    summary: "Send a pending draft as is, on its channel (one click); keeps a training pair",
    request: { params: SuggestionParams },
    responses: {
      202: jsonContent(z.object({ suggestion: SuggestionSchema, message: MessageSchema }).openapi("SentSuggestion"), "Queued, like a member's message"),
      ...pickErrors(409, 422),
    },
  },
  { idempotent: true },
);

export const dismissSuggestion = apiRoute("member", {
  method: "post",
  path: "/conversations/{conversation_id}/suggestions/{activity_id}/dismiss",
  operationId: "dismissSuggestion",
  tags: ["Setter"],
  summary: "Dismiss a pending draft",
  request: { params: SuggestionParams },
  responses: { 200: jsonContent(SuggestionSchema, "The dismissed draft"), ...pickErrors(409) },
});
