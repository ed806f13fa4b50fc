import { and, eq } from "drizzle-orm";
import { findByAddress, findContact } from "../contacts/queries";
import type { Db } from "../db/client";
import { type Contact, contacts, conversations } from "../db/schema";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { consentColumns, consentEvent, isOptedOut, NO_OPT_OUT } from "./consent";
import type { Outbox } from "./outbox";

/** Addresses already normalized (E.164, lowercased email); `null` clears, `undefined` keeps. */
export type ContactInput = { name?: string | null; phone?: string | null; email?: string | null; smsOptOut?: boolean; emailOptOut?: boolean };

async function conflictFor(db: Db, orgId: string, phone: string | null | undefined, email: string | null | undefined, self?: string) {
  const existing = await findByAddress(db, orgId, phone, email);
  if (!existing || existing.id === self) return;
  const field = phone && existing.phone === phone ? "phone" : "email";
  throw new ApiError("conflict", `A contact with this ${field} already exists: ${existing.id}`);
}

/**
 * POST /contacts. Contacts are created here and by ingest, both inside OrgInbox's
 * chain, so the address check and the insert cannot interleave with an inbound
 * message creating the same contact: the later one sees the earlier one's row.
 */
export async function createContact(db: Db, orgId: string, input: ContactInput, out: Outbox, now = Date.now()): Promise<Contact> {
  if (!input.phone && !input.email) throw invalid("phone", "A contact needs a phone or an email.");
  await conflictFor(db, orgId, input.phone, input.email);
  const contact: Contact = {
    id: uuidv7(now),
    orgId,
    name: input.name ?? null,
    phone: input.phone ?? null,
    email: input.email ?? null,
    ...NO_OPT_OUT,
    createdAt: now,
    updatedAt: now,
  };
  await db.batch([db.insert(contacts).values(contact), ...out.add({ type: "contact.created", conversationId: null, objectId: contact.id })]);
  return contact;
}

/** PATCH /contacts/{id}; answers the contact and its conversation's id (for the event), if it has one. */
export async function updateContact(db: Db, orgId: string, id: string, input: ContactInput, out: Outbox, now = Date.now()) {
  const current = await findContact(db, orgId, id);
  if (!current) throw notFound("Contact");
  const next = {
    name: input.name === undefined ? current.name : input.name,
    phone: input.phone === undefined ? current.phone : input.phone,
    email: input.email === undefined ? current.email : input.email,
  };
  if (!next.phone && !next.email) throw invalid("phone", "A contact needs a phone or an email.");
  await conflictFor(db, orgId, input.phone, input.email, id);
  // Recorded consent (SPEC 19): each channel that changes is its own event, source `member`.
  const consent = (["sms", "email"] as const).flatMap((channel) => {
    const wanted = channel === "sms" ? input.smsOptOut : input.emailOptOut;
    return wanted === undefined || wanted === isOptedOut(current, channel) ? [] : [{ channel, optOut: wanted }];
  });
  const unchanged = next.name === current.name && next.phone === current.phone && next.email === current.email && !consent.length;
  // Its conversation is only needed to announce a change.
  if (unchanged) return { contact: current, conversationId: null, changed: false };
  const [conversation] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), eq(conversations.contactId, id)))
    .limit(1);
  const consentSet = Object.assign({}, ...consent.map((c) => consentColumns(c.channel, c.optOut, now))) as Partial<Contact>;
  const contact: Contact = { ...current, ...next, ...consentSet, updatedAt: now };
  const identityChanged = next.name !== current.name || next.phone !== current.phone || next.email !== current.email;
  // Its conversation shows the contact, so it is announced too.
  const conversationId = conversation?.id ?? null;
  await db.batch([
    db
      .update(contacts)
      .set({ ...next, ...consentSet, updatedAt: now })
      .where(and(eq(contacts.orgId, orgId), eq(contacts.id, id))),
    ...out.add(
      ...(identityChanged
        ? [
            { type: "contact.updated" as const, conversationId, objectId: id },
            ...(conversationId ? [{ type: "conversation.updated" as const, conversationId, objectId: conversationId }] : []),
          ]
        : []),
      ...consent.map((c) => consentEvent(id, conversationId, c.channel, c.optOut, "member")),
    ),
  ]);
  return { contact, conversationId: conversation?.id ?? null, changed: true };
}
