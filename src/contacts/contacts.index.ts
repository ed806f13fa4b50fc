import { createRouter } from "../http/router";
import * as h from "./contacts.handlers";
import * as r from "./contacts.routes";

export const contactsRouter = createRouter()
  .openapi(r.listContacts, h.listContacts)
  .openapi(r.createContact, h.createContact)
  .openapi(r.getContact, h.getContact)
  .openapi(r.patchContact, h.patchContact);
