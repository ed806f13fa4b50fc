import { z } from "@hono/zod-openapi";
import { SCOPES } from "../db/enums";
import { apiRoute } from "../http/route";
import { jsonBody, jsonContent, orNull, readOnly, Timestamp } from "../lib/schemas";
import { isTimeZone, WEEKDAYS } from "./business-time";

const HHMM = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, "HH:MM from 00:00 to 24:00");
const Period = z.strictObject({ start: HHMM, end: HHMM }).refine((p) => p.start < p.end, { message: "start must be before end" });
const Days = z.strictObject(
  Object.fromEntries(WEEKDAYS.map((db) => [db, z.array(Period).max(12).optional()])) as Record<
    (typeof WEEKDAYS)[number],
    z.ZodOptional<z.ZodArray<typeof Period>>
  >,
);

// Unregistered, for validating PUT bodies (`.nullable()` of the registered schema below
// would make the BusinessHours component itself nullable in the document).
const BusinessHours = z
  .strictObject({
    timezone: z.string().refine(isTimeZone, { message: "not an IANA time zone" }).openapi({ example: "America/New_York" }),
    days: Days,
  })
  .superRefine((bh, ctx) => {
    let open = 0;
    for (const [day, periods] of Object.entries(bh.days)) {
      const list = periods ?? [];
      open += list.length;
      for (let i = 1; i < list.length; i++) {
        // Sorted and not overlapping; touching periods (12:00–12:00) are fine.
        if (list[i].start < list[i - 1].end) ctx.addIssue({ code: "custom", path: ["days", day, i], message: "periods must be sorted and must not overlap" });
      }
    }
    if (!open) ctx.addIssue({ code: "custom", path: ["days"], message: "business hours need at least one open period (or send business_hours: null)" });
  });
export const BusinessHoursSchema = BusinessHours.openapi("BusinessHours");

export const SlaSchema = z
  .object({
    enabled: z.boolean(),
    first_response_minutes: z.number().int(),
    business_hours: orNull(BusinessHoursSchema),
    updated_at: Timestamp.nullable(),
  })
  .openapi("Sla");

export const getSla = apiRoute("member", {
  method: "get",
  path: "/conversations/sla",
  operationId: "getSla",
  tags: ["SLA"],
  summary: "The org's first-response SLA",
  responses: { 200: jsonContent(SlaSchema, "The SLA (defaults until first set)") },
});

export const putSla = apiRoute("admin", {
  method: "put",
  path: "/conversations/sla",
  operationId: "updateSla",
  tags: ["SLA"],
  summary: "Replace the SLA; every waiting conversation's sla_due_at is recomputed",
  request: {
    body: jsonBody(
      z.strictObject({
        enabled: z.boolean(),
        first_response_minutes: z.number().int().min(1).max(10080),
        business_hours: BusinessHours.nullable(),
        updated_at: readOnly(Timestamp.nullable()),
      }),
    ),
  },
  responses: { 200: jsonContent(SlaSchema, "The SLA now in force") },
});

export const overdueCount = apiRoute("member", {
  method: "get",
  path: "/conversations/overdue/count",
  operationId: "getOverdueCount",
  tags: ["SLA"],
  summary: "How many conversations are past their SLA",
  request: { query: z.object({ scope: z.enum(SCOPES).optional().openapi({ description: "default team" }) }) },
  responses: { 200: jsonContent(z.object({ count: z.number().int() }).openapi("OverdueCount"), "The count") },
});
