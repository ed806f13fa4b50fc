import { and, eq, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { type Contact, contacts } from "../db/schema";
import { ApiError } from "../lib/errors";
import type { EventRef } from "../outbox/build";
import type { Outbox } from "./outbox";

// Consent (SPEC 19): per contact and channel, whether it may be sent to. Changed by an
// inbound SMS keyword, by the provider (a Postmark suppression, a hard bounce of an
// inactive address, Twilio's 21610), or by a member; every change is announced
// (contact.opted_out / contact.opted_in, with its channel and source). Only OrgInbox runs
// these, inside its turns, so a STOP and a send racing each other resolve in arrival order.

export type ConsentChannel = "sms" | "email";
export type ConsentSource = "keyword" | "provider" | "member";

/** Twilio's error for a message to a number that replied STOP (https://www.twilio.com/docs/api/errors/21610). */
export const TWILIO_OPTED_OUT = "21610";

const OPT_OUT = new Set(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"]);
const OPT_IN = new Set(["START", "YES", "UNSTOP", "OPTIN"]);

/** What an inbound SMS body says about consent: true opts out, false opts back in, null neither (the whole trimmed body, any case). */
export function keywordConsent(body: string | null | undefined): boolean | null {
  const word = (body ?? "").trim().toUpperCase();
  if (OPT_OUT.has(word)) return true;
  if (OPT_IN.has(word)) return false;
  return null;
}

/** A new contact's consent: nothing opted out. */
export const NO_OPT_OUT = { smsOptOut: false, emailOptOut: false, smsOptOutAt: null, emailOptOutAt: null } as const;

export const isOptedOut = (contact: Pick<Contact, "smsOptOut" | "emailOptOut">, channel: ConsentChannel) =>
  channel === "sms" ? contact.smsOptOut : contact.emailOptOut;

export const contactOptedOut = (channel: ConsentChannel) =>
  new ApiError(
    "contact_opted_out",
    channel === "sms"
      ? "The contact opted out of SMS (STOP, or recorded by a member); nothing was sent. They can text START to opt back in."
      : "The contact opted out of email (unsubscribed, or their address bounced); nothing was sent.",
  );

/** The columns of a consent change. */
export const consentColumns = (channel: ConsentChannel, optOut: boolean, now: number): Partial<Contact> =>
  channel === "sms" ? { smsOptOut: optOut, smsOptOutAt: now, updatedAt: now } : { emailOptOut: optOut, emailOptOutAt: now, updatedAt: now };

/** The event of a consent change. */
export const consentEvent = (contactId: string, conversationId: string | null, channel: ConsentChannel, optOut: boolean, source: ConsentSource): EventRef => ({
  type: optOut ? "contact.opted_out" : "contact.opted_in",
  conversationId,
  objectId: contactId,
  detail: { channel, source },
});

/**
 * Sets the channel's consent of the contacts `where` names (of one org) and announces each
 * one that changed: one conditional UPDATE … RETURNING with its events in one batch.
 * Answers the contacts that changed.
 */
export async function setConsent(
  db: Db,
  orgId: string,
  where: SQL,
  channel: ConsentChannel,
  optOut: boolean,
  source: ConsentSource,
  out: Outbox,
  conversationOf: (contactId: string) => Promise<string | null>,
  now = Date.now(),
) {
  const column = channel === "sms" ? contacts.smsOptOut : contacts.emailOptOut;
  const candidates = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.orgId, orgId), where, eq(column, !optOut)))
    .all();
  const changed: string[] = [];
  for (const { id } of candidates) {
    const event = consentEvent(id, await conversationOf(id), channel, optOut, source);
    const rows = await out.changed(
      db
        .update(contacts)
        .set(consentColumns(channel, optOut, now))
        .where(and(eq(contacts.orgId, orgId), eq(contacts.id, id), eq(column, !optOut)))
        .returning({ id: contacts.id }),
      event,
    );
    if (rows.length) changed.push(id);
  }
  return changed;
}

/** The statements of a consent change riding in another write's batch (an ingest's keyword, a member's PATCH). */
export const consentUpdate = (db: Db, orgId: string, contactId: string, channel: ConsentChannel, optOut: boolean, now: number): BatchItem<"sqlite"> =>
  db
    .update(contacts)
    .set(consentColumns(channel, optOut, now))
    .where(and(eq(contacts.orgId, orgId), eq(contacts.id, contactId)));
