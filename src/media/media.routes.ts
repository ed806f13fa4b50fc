import { z } from "@hono/zod-openapi";
import { apiRoute, publicRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonContent, Timestamp, Uuid } from "../lib/schemas";
import { ALLOWED_TYPES } from "./magic";

export const MediaSchema = z
  .object({
    id: Uuid,
    content_type: z.enum(ALLOWED_TYPES),
    size: z.number().int(),
    filename: z.string().nullable(),
    sha256: z.string().openapi({ description: "hex" }),
    url: z
      .string()
      .nullable()
      .openapi({ description: "signed link providers can fetch: /media/{id}?exp=&sig=; null when the server has no usable MEDIA_URL_SECRET" }),
    created_at: Timestamp,
  })
  .openapi("Media");

const MediaParam = IdParam("media_id");
const bytes = (description: string) => ({
  description,
  content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
});

export const uploadMedia = apiRoute(
  "member",
  {
    method: "post",
    path: "/conversations/media",
    operationId: "uploadMedia",
    tags: ["Media"],
    summary: "Upload media for an outbound message (multipart, one field `file`)",
    description: `At most MEDIA_MAX_BYTES (default 25 MiB). Types: ${ALLOWED_TYPES.join(", ")}; the declared type must match the file's leading bytes.`,
    request: {
      body: {
        required: true,
        content: { "multipart/form-data": { schema: z.object({ file: z.any().openapi({ type: "string", format: "binary" }) }) } },
      },
    },
    responses: { 201: jsonContent(MediaSchema, "Stored") },
  },
  { idempotent: true },
);

export const getMemberMedia = apiRoute("member", {
  method: "get",
  path: "/conversations/media/{media_id}",
  operationId: "downloadMedia",
  tags: ["Media"],
  summary: "Download an org's media (members)",
  description:
    "`media` is a static segment: this route wins over `/conversations/{conversation_id}/…` (a conversation id is a UUID, never `media`). Providers use the signed link `/media/{media_id}` instead.",
  request: { params: MediaParam },
  responses: { 200: bytes("The bytes, with their content type") },
});

export const getSignedMedia = publicRoute({
  method: "get",
  path: "/media/{media_id}",
  operationId: "downloadSignedMedia",
  tags: ["Media"],
  summary: "Download media through a signed link (no bearer token; for providers)",
  request: {
    params: MediaParam,
    query: z.object({ exp: z.string().optional(), sig: z.string().optional() }),
  },
  responses: { 200: bytes("The bytes"), ...pickErrors(403, 404, 500, 503) },
});
