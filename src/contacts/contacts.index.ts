import { createRouter } from "../http/router";
import * as handlers from "./contacts.handlers";
import * as routes from "./contacts.routes";

export const contactsRouter = createRouter()
  .openapi(routes.listContacts, handlers.listContacts)
  .openapi(routes.createContact, handlers.createContact)
  .openapi(routes.getContact, handlers.getContact)
  .openapi(routes.patchContact, handlers.patchContact);
