import { and, eq } from "drizzle-orm";
import { db, type Db } from "../db/client";
import { contacts } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { decodeCursor, idCursor, page } from "../lib/cursor";
import { ApiError, invalid, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { normalizeEmail, requireE164 } from "../lib/phone";
import type * as R from "./contacts.routes";
import { findByAddress, findContact, searchContacts, toContact } from "./queries";

export const listContacts: AppRouteHandler<typeof R.listContacts> = async (c) => {
  const { q, limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, idCursor)?.[0];
  const rows = await searchContacts(db(c.env), c.get("orgId"), { q, after, limit });
  const { data, next_cursor } = page(rows, limit, (last) => [last.id]);
  return c.json({ data: data.map(toContact), next_cursor }, 200);
};

type AddressInput = { phone?: string | null; email?: string | null };

function normalizeAddresses(body: AddressInput, region?: string) {
  return {
    phone: body.phone == null ? body.phone : requireE164(body.phone, "phone", region),
    email: body.email == null ? body.email : normalizeEmail(body.email),
  };
}

async function conflictFor(d: Db, orgId: string, phone: string | null | undefined, email: string | null | undefined, self?: string) {
  const existing = await findByAddress(d, orgId, phone, email);
  if (existing && existing.id !== self) {
    const field = phone && existing.phone === phone ? "phone" : "email";
    return new ApiError("conflict", `A contact with this ${field} already exists: ${existing.id}`);
  }
  return null;
}

export const createContact: AppRouteHandler<typeof R.createContact> = async (c) => {
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const { phone, email } = normalizeAddresses(body, c.env.DEFAULT_PHONE_REGION);
  if (!phone && !email) throw invalid("phone", "A contact needs a phone or an email.");
  const d = db(c.env);
  const known = await conflictFor(d, orgId, phone, email);
  if (known) throw known;
  const now = Date.now();
  const inserted = await d
    .insert(contacts)
    .values({ id: uuidv7(now), orgId, name: body.name ?? null, phone: phone ?? null, email: email ?? null, createdAt: now, updatedAt: now })
    .onConflictDoNothing()
    .returning();
  // Lost a race with a concurrent create of the same address.
  if (!inserted.length) throw (await conflictFor(d, orgId, phone, email)) ?? new ApiError("conflict", "The contact already exists.");
  return c.json(toContact(inserted[0]), 201);
};

export const getContact: AppRouteHandler<typeof R.getContact> = async (c) => {
  const contact = await findContact(db(c.env), c.get("orgId"), c.req.valid("param").contact_id.toLowerCase());
  if (!contact) throw notFound("Contact");
  return c.json(toContact(contact), 200);
};

export const patchContact: AppRouteHandler<typeof R.patchContact> = async (c) => {
  const id = c.req.valid("param").contact_id.toLowerCase();
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const d = db(c.env);
  const current = await findContact(d, orgId, id);
  if (!current) throw notFound("Contact");
  const { phone, email } = normalizeAddresses(body, c.env.DEFAULT_PHONE_REGION);
  const nextPhone = phone === undefined ? current.phone : phone;
  const nextEmail = email === undefined ? current.email : email;
  if (!nextPhone && !nextEmail) throw invalid("phone", "A contact needs a phone or an email.");
  const known = await conflictFor(d, orgId, phone, email, id);
  if (known) throw known;
  const updated = await d
    .update(contacts)
    .set({
      ...(body.name !== undefined ? { name: body.name } : {}),
      phone: nextPhone,
      email: nextEmail,
      updatedAt: Date.now(),
    })
    .where(and(eq(contacts.orgId, orgId), eq(contacts.id, id)))
    .returning()
    .catch((e: unknown) => {
      if (String(e).includes("UNIQUE")) return [];
      throw e;
    });
  if (!updated.length) throw (await conflictFor(d, orgId, phone, email, id)) ?? notFound("Contact");
  return c.json(toContact(updated[0]), 200);
};
