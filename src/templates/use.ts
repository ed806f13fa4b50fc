import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { contacts, conversations, members, orgs, type Template, templates } from "../db/schema";
import { controlDb } from "../db/shards";
import { ApiError, notFound } from "../lib/errors";
import { firstName, renderTemplate, type TemplateValues } from "./render";

// Using a template: its values (the conversation's contact, the member who sends, the
// org) and its rendered text, for a send (POST /conversations/{id}/messages with
// template_id) and for its preview (GET /templates/{id}/render), which therefore agree.
// Reads only: the rendered text is what OrgInbox then stores, like a typed body.

export type Caller = { userId: string; claims: { name?: string } };

export const ownTemplate = (db: Db, orgId: string, id: string) =>
  db
    .select()
    .from(templates)
    .where(and(eq(templates.orgId, orgId), eq(templates.id, id.toLowerCase())))
    .get();

/**
 * The values of a render. The member's name is their member row's (PUT /members), else
 * their token's `name` claim; the contact's are empty without a conversation.
 * A conversation not in the org → 404.
 */
export async function templateValues(env: { DB: D1Database }, db: Db, orgId: string, caller: Caller, conversationId: string | null): Promise<TemplateValues> {
  const [who, contact] = await Promise.all([
    controlDb(env)
      .select({ org: orgs.name, member: members.name })
      .from(orgs)
      .leftJoin(members, and(eq(members.orgId, orgs.id), eq(members.userId, caller.userId)))
      .where(eq(orgs.id, orgId))
      .get(),
    conversationId === null
      ? null
      : db
          .select({ name: contacts.name, phone: contacts.phone, email: contacts.email })
          .from(conversations)
          .innerJoin(contacts, eq(contacts.id, conversations.contactId))
          .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId.toLowerCase())))
          .get(),
  ]);
  if (conversationId !== null && !contact) throw notFound("Conversation");
  return {
    "contact.name": contact?.name ?? null,
    "contact.first_name": firstName(contact?.name),
    "contact.phone": contact?.phone ?? null,
    "contact.email": contact?.email ?? null,
    "member.name": who?.member?.trim() || caller.claims.name?.trim() || null,
    "org.name": who?.org ?? null,
  };
}

/** A subject line: one line, no outer white space; null when nothing is left. */
const subjectLine = (s: string) => s.replace(/\s+/g, " ").trim() || null;

/** The template's text with `values`: the body as a send stores it, and the rendered subject (null without one). */
export function renderWith(template: Template, values: TemplateValues) {
  return {
    subject: template.subject ? subjectLine(renderTemplate(template.subject, values)) : null,
    body: renderTemplate(template.body, values),
  };
}

const refuse = (message: string) => new ApiError("template_invalid", message, [{ path: "template_id", message }]);

/**
 * A send's text from `templateId`: the body, and the subject an email takes when its
 * request names none. 422 template_invalid when the template is not the org's (a foreign
 * id is a missing one, as unknown media are), is for another channel, or renders to a
 * body the message cannot carry; 404 for a conversation not in the org.
 */
export async function renderForSend(
  env: { DB: D1Database },
  db: Db,
  orgId: string,
  caller: Caller,
  input: { templateId: string; type: "sms" | "email" | "note"; conversationId: string; limits: { sms: number; body: number; subject: number } },
) {
  const [template, values] = await Promise.all([ownTemplate(db, orgId, input.templateId), templateValues(env, db, orgId, caller, input.conversationId)]);
  if (!template) throw refuse("No such template in this org.");
  if (template.channel && template.channel !== input.type)
    throw refuse(`This is an ${template.channel} template: it cannot be sent as ${input.type === "note" ? "a note" : `an ${input.type}`}.`);
  const rendered = renderWith(template, values);
  if (!rendered.body.trim()) throw refuse("The template renders an empty body for this conversation (give its variables a fallback).");
  const max = input.type === "sms" ? input.limits.sms : input.limits.body;
  if (rendered.body.length > max) throw refuse(`The template renders ${rendered.body.length} characters for this conversation; ${input.type} allows ${max}.`);
  const subject = input.type === "email" ? rendered.subject : null;
  if (subject && subject.length > input.limits.subject)
    throw refuse(`The template's subject renders over ${input.limits.subject} characters for this conversation.`);
  return { body: rendered.body, subject };
}
