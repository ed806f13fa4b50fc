import { z } from "@hono/zod-openapi";
import { CHANNEL_KINDS } from "../db/enums";
import { apiRoute } from "../http/route";
import { NameCursorParam } from "../lib/cursor";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, Limit, listOf, readOnly, Timestamp, Uuid } from "../lib/schemas";
import { TEMPLATE_VARIABLES } from "./render";

// SPEC 17: saved replies. Any member reads and uses them; owners and admins write them
// (they are the org's, shared by every member: docs/decisions.md).

/** Templates an org may have. */
export const MAX_TEMPLATES = 500;
export const MAX_NAME = 80;
/** An sms template's body: an sms body's limit (SPEC 5). */
export const MAX_SMS_BODY = 1600;
export const MAX_BODY = 50_000;
export const MAX_SUBJECT = 200;

const variables = TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(", ");
const BODY_DOC =
  `Plain text with variables: ${variables}. White space inside the braces is allowed ({{ contact.name }}); ` +
  "{{contact.first_name|there}} renders `there` when the value is empty. An unknown variable or a malformed {{ → 422 template_invalid. " +
  `1–${MAX_SMS_BODY} characters for an sms template, else 1–${MAX_BODY}.`;

const Name = z
  .string()
  .trim()
  .min(1)
  .max(MAX_NAME)
  .openapi({ description: `1–${MAX_NAME} characters, unique in the org case-insensitively (409 conflict)` });
const Channel = z.enum(CHANNEL_KINDS).nullable().openapi({ description: "What it sends as: sms, email, or null for any message type (a note too)" });
const Subject = z
  .string()
  .trim()
  .min(1)
  .max(MAX_SUBJECT)
  .nullable()
  .openapi({ description: `An email's subject (variables allowed), ≤ ${MAX_SUBJECT} characters; not for an sms template` });
const Body = z
  .string()
  .min(1)
  .max(MAX_BODY)
  .refine((s) => s.trim().length > 0, "must not be blank")
  .openapi({ description: BODY_DOC });

export const TemplateSchema = z
  .object({
    id: Uuid,
    name: z.string(),
    channel: z.enum(CHANNEL_KINDS).nullable(),
    subject: z.string().nullable(),
    body: z.string(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Template");

const TemplateParam = IdParam("template_id");
const tags = ["Templates"];

export const listTemplates = apiRoute("member", {
  method: "get",
  path: "/templates",
  operationId: "listTemplates",
  tags,
  summary: "The org's templates, in name order (case-insensitive)",
  request: { query: z.object({ limit: Limit, cursor: NameCursorParam }) },
  responses: { 200: jsonContent(listOf(TemplateSchema, "TemplateList"), `A page of templates (an org has at most ${MAX_TEMPLATES})`) },
});

export const createTemplate = apiRoute(
  "admin",
  {
    method: "post",
    path: "/templates",
    operationId: "createTemplate",
    tags,
    summary: "Save a template (owner/admin)",
    description: `409 conflict when the name is taken (case-insensitively) or the org has ${MAX_TEMPLATES} templates.`,
    request: {
      body: jsonBody(
        z
          .strictObject({
            name: Name,
            channel: Channel.optional().openapi({ description: "sms, email, or null (default: any message type)" }),
            subject: Subject.optional(),
            body: Body,
          })
          .superRefine((b, ctx) => {
            for (const i of shapeIssues(b)) ctx.addIssue({ code: "custom", ...i });
          }),
      ),
    },
    responses: { 201: jsonContent(TemplateSchema, "The template"), ...pickErrors(409, 422) },
  },
  { idempotent: true },
);

export const getTemplate = apiRoute("member", {
  method: "get",
  path: "/templates/{template_id}",
  operationId: "getTemplate",
  tags,
  summary: "A template",
  request: { params: TemplateParam },
  responses: { 200: jsonContent(TemplateSchema, "The template") },
});

export const updateTemplate = apiRoute("admin", {
  method: "patch",
  path: "/templates/{template_id}",
  operationId: "updateTemplate",
  tags,
  summary: "Change a template (owner/admin)",
  description: "The result is checked as a whole: changing `channel` to sms needs a body within the sms limit and no subject.",
  request: {
    params: TemplateParam,
    body: jsonBody(
      z.strictObject({
        name: Name.optional(),
        channel: Channel.optional(),
        subject: Subject.optional(),
        body: Body.optional(),
        id: readOnly(Uuid),
        created_at: readOnly(Timestamp),
        updated_at: readOnly(Timestamp),
      }),
    ),
  },
  responses: { 200: jsonContent(TemplateSchema, "The template, as it is now"), ...pickErrors(409, 422) },
});

export const deleteTemplate = apiRoute("admin", {
  method: "delete",
  path: "/templates/{template_id}",
  operationId: "deleteTemplate",
  tags,
  summary: "Remove a template (owner/admin)",
  request: { params: TemplateParam },
  responses: { 204: { description: "Removed" } },
});

export const previewTemplate = apiRoute("member", {
  method: "get",
  path: "/templates/{template_id}/render",
  operationId: "renderTemplate",
  tags,
  summary: "Preview a template as the caller would send it in a conversation",
  description:
    "Exactly the body a send with this `template_id` stores, and the template's rendered subject (null when it has none: an email sent " +
    "with it then answers the thread, `Re: …`). Without `conversation_id` the contact's variables are empty (their fallbacks show).",
  request: {
    params: TemplateParam,
    query: z.object({ conversation_id: Uuid.optional().openapi({ description: "The conversation whose contact fills {{contact.…}}" }) }),
  },
  responses: { 200: jsonContent(z.object({ subject: z.string().nullable(), body: z.string() }).openapi("RenderedTemplate"), "The rendered text") },
});

/** What a template's fields must satisfy together (the create's body, a PATCH's result): 400s. */
export function shapeIssues(t: { channel?: string | null; subject?: string | null; body?: string }): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  if (t.channel === "sms" && t.body !== undefined && t.body.length > MAX_SMS_BODY)
    issues.push({ path: ["body"], message: `an sms template's body is 1–${MAX_SMS_BODY} characters` });
  if (t.channel === "sms" && t.subject) issues.push({ path: ["subject"], message: "an sms template has no subject" });
  return issues;
}
