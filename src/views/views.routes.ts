import { z } from "@hono/zod-openapi";
import { MAX_LABEL_FILTERS } from "../conversations/conversations.routes";
import { SCOPES, VIEW_KEYS } from "../db/enums";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { jsonBody, jsonContent, readOnly, Uuid } from "../lib/schemas";

export const ViewFiltersSchema = z
  .strictObject({
    scope: z.enum(SCOPES).optional(),
    archived: z.boolean().optional(),
    overdue: z.boolean().optional(),
    starred: z.boolean().optional(),
    unread: z.boolean().optional(),
    snoozed: z.boolean().optional(),
    assigned_to: z.union([Uuid, z.literal("unassigned")]).optional(),
    active_within_days: z.number().int().min(1).max(3650).optional(),
    label_ids: z
      .array(Uuid)
      .min(1)
      .max(MAX_LABEL_FILTERS)
      .optional()
      .openapi({ description: `labels the conversation must all have (SPEC 17), up to ${MAX_LABEL_FILTERS}; a deleted label's id matches nothing` }),
  })
  .openapi("ViewFilters", { description: "An absent filter constrains nothing" });

export const ViewSchema = z
  .object({
    id: Uuid,
    key: z.enum(VIEW_KEYS).nullable(),
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
    "Each system view must be present (by id or key) with its name and filters unchanged. Custom views without id are created; omitted ones are deleted. At most 50 views, names unique (case-insensitive). A list read with GET can be sent back as it is: `system` and `position` are read-only and ignored, `key: null` marks a custom view. Saves of one member are serialized (OrgInbox), so concurrent saves end as some serial order of them.",
  request: {
    body: jsonBody(
      z.strictObject({
        views: z
          .array(
            z.strictObject({
              id: Uuid.optional(),
              key: z.enum(VIEW_KEYS).nullable().optional().openapi({ description: "A system view's key, or null for a custom view (as GET answers)" }),
              name: z.string().trim().min(1).max(64),
              system: readOnly(z.boolean()),
              position: readOnly(z.number().int()),
              filters: ViewFiltersSchema,
            }),
          )
          .max(1000)
          .openapi({ description: "At most 50 views are kept (422 invalid_views beyond); the array may hold 1000 so that the 422 can name each offender" }),
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
        .object({ data: z.array(z.object({ view_id: Uuid, key: z.enum(VIEW_KEYS).nullable(), unread: z.number().int(), total: z.number().int() })) })
        .openapi("ViewCounts"),
      "Counts, in view order",
    ),
  },
});
