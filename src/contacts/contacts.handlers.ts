import { settings } from "../config/settings";
import type { AppRouteHandler } from "../env";
import { decodeCursor, idCursor, page } from "../lib/cursor";
import { notFound } from "../lib/errors";
import { normalizeEmail, requireE164 } from "../lib/phone";
import { inbox } from "../org-inbox/client";
import type * as routes from "./contacts.routes";
import { findContact, searchContacts, toContact } from "./queries";

export const listContacts: AppRouteHandler<typeof routes.listContacts> = async (c) => {
  const { q, limit = 25, cursor } = c.req.valid("query");
  const after = decodeCursor(cursor, idCursor)?.[0];
  const rows = await searchContacts(c.var.db, c.get("orgId"), { q, after, limit }).all();
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

export const createContact: AppRouteHandler<typeof routes.createContact> = async (c) => {
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const input = { name: body.name ?? null, ...normalizeAddresses(body, settings(c.env).defaultPhoneRegion) };
  const contact = await inbox(c.env, orgId).createContact(input);
  return c.json(toContact(contact), 201);
};

export const getContact: AppRouteHandler<typeof routes.getContact> = async (c) => {
  const contact = await findContact(c.var.db, c.get("orgId"), c.req.valid("param").contact_id.toLowerCase());
  if (!contact) throw notFound("Contact");
  return c.json(toContact(contact), 200);
};

export const patchContact: AppRouteHandler<typeof routes.patchContact> = async (c) => {
  const id = c.req.valid("param").contact_id.toLowerCase();
  const body = c.req.valid("json");
  const orgId = c.get("orgId");
  const input = {
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...normalizeAddresses(body, settings(c.env).defaultPhoneRegion),
    ...(body.sms_opt_out !== undefined ? { smsOptOut: body.sms_opt_out } : {}),
    ...(body.email_opt_out !== undefined ? { emailOptOut: body.email_opt_out } : {}),
  };
  const contact = await inbox(c.env, orgId).updateContact(id, input);
  return c.json(toContact(contact), 200);
};
