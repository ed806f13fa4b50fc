import { z } from "@hono/zod-openapi";
import { MessageSchema } from "../conversations/schemas";
import { CALL_STATUSES, DIRECTIONS, INGEST_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { ProblemSchema, pickErrors } from "../lib/errors";
import { Cursor, DisplayUrl, jsonBody, jsonContent, Limit, listOf, Uuid } from "../lib/schemas";

const Name = z.string().trim().min(1).max(200).nullable().optional();

export const CallStatus = z.enum(CALL_STATUSES);

export const IngestBody = z
  .strictObject({
    contact: z.union([
      z.strictObject({ id: Uuid }),
      z.strictObject({ phone: z.string().trim().min(1).max(40), name: Name }),
      z.strictObject({ email: z.string().trim().email().max(320), name: Name }),
    ]),
    type: z.enum(INGEST_TYPES),
    direction: z.enum(DIRECTIONS).nullable().optional(),
    body: z.string().max(100_000).nullable().optional(),
    subject: z.string().max(998).nullable().optional(),
    html: z.string().max(500_000).nullable().optional(),
    from: z.string().max(320).nullable().optional(),
    to: z.string().max(320).nullable().optional(),
    provider: z.string().trim().min(1).max(64),
    provider_message_id: z.string().trim().min(1).max(255).nullable().optional(),
    occurred_at: z.iso.datetime({ offset: true }).optional(),
    call: z
      .strictObject({
        duration_seconds: z.number().int().min(0).max(86_400),
        status: CallStatus,
        recording_url: DisplayUrl.nullable().optional(),
        transcript: z.string().max(200_000).nullable().optional(),
        summary: z.string().max(10_000).nullable().optional(),
      })
      .optional(),
    media_ids: z.array(Uuid).max(10).optional().openapi({ description: "At most 10" }),
  })
  .superRefine((b, ctx) => {
    if (b.type === "note" && b.direction) ctx.addIssue({ code: "custom", path: ["direction"], message: "a note has no direction" });
    if (b.type !== "note" && !b.direction) ctx.addIssue({ code: "custom", path: ["direction"], message: "inbound or outbound is required" });
    if (b.type === "call" && !b.call) ctx.addIssue({ code: "custom", path: ["call"], message: "a call needs call.status" });
    if (b.type !== "call" && b.call) ctx.addIssue({ code: "custom", path: ["call"], message: "only a call has a call object" });
  })
  .openapi("IngestActivity");

const IngestResult = z.object({ message: MessageSchema, duplicate: z.boolean() }).openapi("IngestResult");

/** POST /activities/batch: at most this many items (SPEC 15). */
export const BATCH_MAX = 500;

const BatchItemResult = z
  .object({
    index: z.number().int().openapi({ description: "The item's position in `activities`" }),
    status: z.union([z.literal(201), z.literal(200), z.literal(400), z.literal(422), z.literal(500)]).openapi({
      description:
        "201 stored; 200 already stored (`duplicate: true`); 400 the item is not valid (`error.errors`); 422 it cannot be applied (`unknown_contact`, `unknown_media`); 500 this item alone could not be stored (the others were; retry it)",
    }),
    message: MessageSchema.optional(),
    duplicate: z.boolean().optional(),
    error: ProblemSchema.optional(),
  })
  .openapi("IngestBatchItemResult");

export const ingestBatch = apiRoute(
  "admin",
  {
    method: "post",
    path: "/activities/batch",
    operationId: "ingestActivities",
    tags: ["Ingestion"],
    summary: "Record up to 500 touchpoints at once (history imports)",
    description:
      "Each item is the body of `POST /activities`, validated and applied on its own, in order: a bad item is refused in its result and the others are stored. The same dedup as one by one: an item already stored, or repeated inside the batch, answers 200 `duplicate: true`. Body at most 5 MiB.",
    request: {
      body: jsonBody(
        z.strictObject({
          activities: z
            .array(z.unknown())
            .min(1)
            .max(BATCH_MAX)
            .openapi({
              type: "array",
              minItems: 1,
              maxItems: BATCH_MAX,
              items: { $ref: "#/components/schemas/IngestActivity" },
              description: `1 to ${BATCH_MAX} items, each the body of POST /activities`,
            }),
        }),
      ),
    },
    responses: {
      200: jsonContent(z.object({ results: z.array(BatchItemResult) }).openapi("IngestBatchResult"), "One result per item, in order"),
      ...pickErrors(422),
    },
  },
  { idempotent: true },
);

export const ingestActivity = apiRoute(
  "admin",
  {
    method: "post",
    path: "/activities",
    operationId: "ingestActivity",
    tags: ["Ingestion"],
    summary: "Record a touchpoint from an integration (deduped by provider + provider_message_id)",
    request: { body: jsonBody(IngestBody) },
    responses: {
      200: jsonContent(IngestResult, "Already stored: the existing row, duplicate true"),
      201: jsonContent(IngestResult, "Stored"),
      ...pickErrors(422),
    },
  },
  { idempotent: true },
);

/** The polling rule of GET /activities (the route's description and the README say it). */
const SYNC_RULE =
  "Every message of the org whose row changed at or after `updated_since` (created, or any change a Message shows: a status from a provider, " +
  "a send's outcome, call details, a summary), oldest change first, in (`updated_at`, `id`) order; setter drafts are not messages and never appear. " +
  "For incremental sync into another system: walk the pages with `next_cursor` (non-null while a page is full, null at the end of the walk); " +
  "the next poll passes `updated_since` = the newest `updated_at` it saw. That time is inclusive, so rows changed in that same millisecond come back: " +
  "dedupe by (`id`, `updated_at`). A message changed again during a walk moves to its new place in the order: it comes back later in the same walk, " +
  "or on the next poll, with its new state. `updated_since` is required on the first page; with `cursor` it may be repeated or left out (the cursor says where the page starts).";

export const listChanges = apiRoute("admin", {
  method: "get",
  path: "/activities",
  operationId: "listMessageChanges",
  tags: ["Ingestion"],
  summary: "Messages changed since a time, oldest change first (incremental sync)",
  description: SYNC_RULE,
  request: {
    query: z.object({
      updated_since: z.iso.datetime({ offset: true }).optional().openapi({
        description: "ISO-8601 time, inclusive (millisecond precision). Required unless `cursor` is given",
        example: "2026-11-24T10:00:00.000Z",
      }),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: { 200: jsonContent(listOf(MessageSchema, "MessageChangeList"), "A page of changed messages, oldest change first") },
});
