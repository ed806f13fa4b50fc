import { z } from "@hono/zod-openapi";
import { MessageSchema } from "../conversations/schemas";
import { CALL_STATUSES, DIRECTIONS, INGEST_TYPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { DisplayUrl, jsonBody, jsonContent, Uuid } from "../lib/schemas";

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
