import { z } from "@hono/zod-openapi";
import { pickErrors } from "../lib/errors";
import { apiRoute } from "../lib/route";
import { Uuid, jsonBody, jsonContent } from "../lib/schemas";

export const ViewFiltersSchema = z
  .strictObject({
    scope: z.enum(["mine", "team"]).optional(),
    archived: z.boolean().optional(),
    overdue: z.boolean().optional(),
    starred: z.boolean().optional(),
    unread: z.boolean().optional(),
    assigned_to: z.union([Uuid, z.literal("unassigned")]).optional(),
    active_within_days: z.number().int().min(1).max(3650).optional(),
  })
  .openapi("ViewFilters", { description: "An absent filter constrains nothing" });

export const ViewSchema = z
  .object({
    id: Uuid,
    key: z.enum(["unread", "recents", "starred", "all"]).nullable(),
    name: z.string(),
    system: z.boolean(),
    position: z.number().int(),
    filters: ViewFiltersSchema,
  })
  .openapi("View");

const ViewList = z.object({ data: z.array(ViewSchema) }).openapi("ViewList");

export const listViews = apiRoute("member", {
  method: "get",
  path: "/conversations/views",
  operationId: "listViews",
  tags: ["Views"],
  summary: "The caller's saved inbox views, by position (the four system views always first created)",
  responses: { 200: jsonContent(ViewList, "Views") },
});

export const putViews = apiRoute("member", {
  method: "put",
  path: "/conversations/views",
  operationId: "replaceViews",
  tags: ["Views"],
  summary: "Replace the caller's views in the given order",
  description:
    "Each system view must be present (by id or key) with its name and filters unchanged. Custom views without id are created; omitted ones are deleted. At most 50 views, names unique (case-insensitive).",
  request: {
    body: jsonBody(
      z.strictObject({
        views: z
          .array(
            z.strictObject({
              id: Uuid.optional(),
              key: z.enum(["unread", "recents", "starred", "all"]).optional(),
              name: z.string().trim().min(1).max(64),
              filters: ViewFiltersSchema,
            }),
          )
          .max(1000),
      }),
    ),
  },
  responses: { 200: jsonContent(ViewList, "The views now saved"), ...pickErrors(422) },
});

export const viewCounts = apiRoute("member", {
  method: "get",
  path: "/conversations/views/counts",
  operationId: "getViewCounts",
  tags: ["Views"],
  summary: "For each of the caller's views: conversations matching (total) and those unread",
  responses: {
    200: jsonContent(
      z
        .object({ data: z.array(z.object({ view_id: Uuid, key: z.enum(["unread", "recents", "starred", "all"]).nullable(), unread: z.number().int(), total: z.number().int() })) })
        .openapi("ViewCounts"),
      "Counts, in view order",
    ),
  },
});
