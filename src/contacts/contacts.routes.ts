import { z } from "@hono/zod-openapi";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { Cursor, IdParam, jsonBody, jsonContent, Limit, listOf, readOnly, Timestamp, Uuid } from "../lib/schemas";
import { SearchQuery } from "../search/query";

export const ContactSchema = z
  .object({
    id: Uuid,
    name: z.string().nullable(),
    phone: z.string().nullable().openapi({ description: "E.164" }),
    email: z.string().nullable().openapi({ description: "lowercased" }),
    sms_opt_out: z.boolean().openapi({ description: "Opted out of SMS (STOP, Twilio 21610, or a member): sms sends are refused (422 contact_opted_out)" }),
    email_opt_out: z.boolean().openapi({ description: "Opted out of email (a Postmark suppression or hard bounce, or a member): email sends are refused" }),
    sms_opt_out_at: Timestamp.nullable().openapi({ description: "When sms_opt_out last changed" }),
    email_opt_out_at: Timestamp.nullable().openapi({ description: "When email_opt_out last changed" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Contact");

const Name = z.string().trim().min(1).max(200);
const Phone = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .openapi({ example: "+14155550123", description: "Any format; stored as E.164 (DEFAULT_PHONE_REGION when no country code)" });
const Email = z.string().trim().email().max(320);
export const ContactParam = IdParam("contact_id");

export const listContacts = apiRoute("member", {
  method: "get",
  path: "/contacts",
  operationId: "listContacts",
  tags: ["Contacts"],
  summary: "List or search contacts, newest first",
  description:
    "With `q`: the contacts whose name, email or phone matches it (SPEC 16's language; digits, with or without separators, match a run of the phone's digits: `415 555`, `4155550142`, `+1 415`), through the contact index.",
  request: {
    query: z.object({
      q: SearchQuery.optional(),
      limit: Limit,
      cursor: Cursor,
    }),
  },
  responses: { 200: jsonContent(listOf(ContactSchema, "ContactList"), "A page of contacts") },
});

export const createContact = apiRoute("member", {
  method: "post",
  path: "/contacts",
  operationId: "createContact",
  tags: ["Contacts"],
  summary: "Create a contact (a phone or an email at least)",
  request: {
    body: jsonBody(z.strictObject({ name: Name.nullable().optional(), phone: Phone.nullable().optional(), email: Email.nullable().optional() })),
  },
  responses: { 201: jsonContent(ContactSchema, "The new contact"), ...pickErrors(409) },
});

export const getContact = apiRoute("member", {
  method: "get",
  path: "/contacts/{contact_id}",
  operationId: "getContact",
  tags: ["Contacts"],
  summary: "Get a contact",
  request: { params: ContactParam },
  responses: { 200: jsonContent(ContactSchema, "The contact") },
});

export const patchContact = apiRoute("member", {
  method: "patch",
  path: "/contacts/{contact_id}",
  operationId: "updateContact",
  tags: ["Contacts"],
  summary: "Change a contact's name, phone, email (null clears; one of phone/email must remain) or recorded consent",
  description:
    "`sms_opt_out` / `email_opt_out` record consent a member was given (by phone, in person): any member may set them; each change is announced as contact.opted_out / contact.opted_in with source `member`.",
  request: {
    params: ContactParam,
    body: jsonBody(
      z.strictObject({
        name: Name.nullable().optional(),
        phone: Phone.nullable().optional(),
        email: Email.nullable().optional(),
        sms_opt_out: z.boolean().optional(),
        email_opt_out: z.boolean().optional(),
        sms_opt_out_at: readOnly(Timestamp.nullable()),
        email_opt_out_at: readOnly(Timestamp.nullable()),
        id: readOnly(Uuid),
        created_at: readOnly(Timestamp),
        updated_at: readOnly(Timestamp),
      }),
    ),
  },
  responses: { 200: jsonContent(ContactSchema, "The updated contact"), ...pickErrors(409) },
});
