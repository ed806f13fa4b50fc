import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import { authenticate } from "../middleware/auth";
import { orgScope, requireRole } from "../middleware/org";
import { pickErrors } from "./errors";
import { Uuid } from "./schemas";

// Who may call a route. Every route declares one, so the guard and the OpenAPI
// security section come from the same line.
const guards = {
  user: [authenticate],
  member: [authenticate, orgScope],
  admin: [authenticate, orgScope, requireRole("owner", "admin")],
} as const;
export type Access = keyof typeof guards;

const OrgHeader = z.object({
  "x-org-id": Uuid.openapi({ param: { name: "x-org-id", in: "header" }, description: "The org this request acts in" }),
});

const commonErrors = (access: Access) =>
  access === "user" ? pickErrors(400, 401, 413, 415, 500) : pickErrors(400, 401, 403, 404, 413, 415, 500);

type RequestOf<R> = R extends { request: infer Q } ? Q : undefined;

/** createRoute with the access guard, the X-Org-Id header and the common problem responses. */
export function apiRoute<const R extends Omit<RouteConfig, "middleware" | "security">>(access: Access, config: R) {
  const request = access === "user" ? config.request : { ...config.request, headers: OrgHeader };
  return createRoute({
    ...config,
    request: request as RequestOf<R>,
    middleware: [...guards[access]],
    security: [{ bearerAuth: [] }],
    responses: { ...commonErrors(access), ...config.responses } as R["responses"],
  });
}
