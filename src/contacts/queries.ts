import { and, desc, eq, getTableColumns, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type At, memo, placeholders } from "../db/memo";
import { type Contact, contacts } from "../db/schema";
import { iso, isoOrNull } from "../lib/time";
import { contactPage } from "../search/queries";
import { contactText, parseQuery } from "../search/query";

export const toContact = (ct: Contact) => ({
  id: ct.id,
  name: ct.name,
  phone: ct.phone,
  email: ct.email,
  sms_opt_out: ct.smsOptOut,
  email_opt_out: ct.emailOptOut,
  sms_opt_out_at: isoOrNull(ct.smsOptOutAt),
  email_opt_out_at: isoOrNull(ct.emailOptOutAt),
  created_at: iso(ct.createdAt),
  updated_at: iso(ct.updatedAt),
});

export const findContact = (db: Db, orgId: string, id: string) =>
  db
    .select()
    .from(contacts)
    .where(and(eq(contacts.orgId, orgId), eq(contacts.id, id)))
    .get();

/** The contact that already holds this phone or email in the org, if any. */
export const findByAddress = (db: Db, orgId: string, phone: string | null | undefined, email: string | null | undefined) => {
  const match = [phone ? eq(contacts.phone, phone) : undefined, email ? eq(contacts.email, email) : undefined].filter((x): x is SQL => x !== undefined);
  if (!match.length) return Promise.resolve(undefined);
  return db
    .select()
    .from(contacts)
    .where(and(eq(contacts.orgId, orgId), or(...match)))
    .get();
};

/**
 * Newest first by id (UUID v7 sorts by creation); `q` (SPEC 16's language) matches name,
 * email or a run of the phone's digits, through the contact index (src/search/): no scan.
 * The statement is built once per shape (a search or not, a cursor or not: src/db/memo.ts);
 * run it with `.all()`.
 */
export function searchContacts(db: Db, orgId: string, opts: { q?: string; after?: string; limit: number }) {
  const terms = opts.q === undefined ? undefined : parseQuery(opts.q);
  const after = opts.after !== undefined;
  const values = { org: orgId, after: opts.after, limit: opts.limit + 1, people: terms?.length ? contactText(terms) : undefined };
  // Only punctuation: nothing matches.
  const kind = terms === undefined ? "all" : terms.length ? "search" : "none";
  return memo(db, `contacts:${kind}:${after ? "after" : "first"}`, () => contactList(db, kind, after, placeholders), values);
}

function contactList(db: Db, kind: "all" | "search" | "none", after: boolean, at: At) {
  const columns = getTableColumns(contacts);
  // A search: the page's rows by rowid (contactPage checked the org and the cursor), sorted by id.
  const where =
    kind === "search"
      ? contactPage(db, after, at)
      : and(eq(contacts.orgId, at("org")), after ? lt(contacts.id, at("after")) : undefined, kind === "none" ? sql`0` : undefined);
  return db.select(columns).from(contacts).where(where).orderBy(desc(contacts.id)).limit(at<number>("limit"));
}
