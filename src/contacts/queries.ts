import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { type Contact, contacts } from "../db/schema";
import { iso, isoOrNull } from "../lib/time";

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

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

/** Newest first by id (UUID v7 sorts by creation); `q` matches name, email or the phone's digits. */
export function searchContacts(db: Db, orgId: string, opts: { q?: string; after?: string; limit: number }) {
  const filters: (SQL | undefined)[] = [eq(contacts.orgId, orgId), opts.after ? lt(contacts.id, opts.after) : undefined];
  if (opts.q) {
    const text = `%${likeEscape(opts.q.toLowerCase())}%`;
    const digits = opts.q.replace(/\D/g, "");
    filters.push(
      or(
        sql`lower(${contacts.name}) LIKE ${text} ESCAPE '\\'`,
        sql`${contacts.email} LIKE ${text} ESCAPE '\\'`,
        digits.length >= 3 ? sql`${contacts.phone} LIKE ${`%${digits}%`}` : sql`${contacts.phone} LIKE ${text} ESCAPE '\\'`,
      ),
    );
  }
  return db
    .select()
    .from(contacts)
    .where(and(...filters))
    .orderBy(desc(contacts.id))
    .limit(opts.limit + 1);
}
