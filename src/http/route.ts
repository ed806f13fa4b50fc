import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import { pickErrors } from "../lib/errors";
import { Uuid } from "../lib/schemas";
import { authenticate } from "../middleware/auth";
import { idempotency } from "../middleware/idempotency";
import { orgScope, requireRole } from "../middleware/org";
import { orgRateLimit } from "../middleware/rate-limit";

// Who may call a route. Every route declares one, so the guard and the OpenAPI
// security section come from the same line.
const guards = {
  user: [authenticate],
  member: [authenticate, orgScope, orgRateLimit],
  admin: [authenticate, orgScope, orgRateLimit, requireRole("owner", "admin")],
} as const;
export type Access = keyof typeof guards;

const OrgHeader = z.object({
  "x-org-id": Uuid.openapi({ param: { name: "x-org-id", in: "header" }, description: "The org this request acts in" }),
});

const commonErrors = (access: Access) =>
  access === "user" ? pickErrors(400, 401, 413, 415, 500, 503) : pickErrors(400, 401, 403, 404, 413, 415, 429, 500, 503);

type RequestOf<R> = R extends { request: infer Q } ? Q : undefined;

/**
 * createRoute with the access guard, the X-Org-Id header and the common problem responses.
 * `operationId` is required: generated clients name their methods after it, so every
 * route has a stable camelCase one (unique across the document; test/openapi-document.test.ts).
 */
export function apiRoute<const R extends Omit<RouteConfig, "middleware" | "security" | "operationId"> & { operationId: string }>(
  access: Access,
  config: R,
  opts: { idempotent?: boolean; websocket?: boolean } = {},
) {
  // A WebSocket upgrade may name its org in `?org_id=` instead (browsers cannot set headers).
  const headers = opts.websocket
    ? OrgHeader.partial()
    : opts.idempotent
      ? OrgHeader.extend({
          "idempotency-key": z
            .string()
            .optional()
            .openapi({
              param: { name: "idempotency-key", in: "header" },
              description: "1–255 chars; the same key with the same request replays the first answer for 24 h",
            }),
        })
      : OrgHeader;
  const request = access === "user" ? config.request : { ...config.request, headers };
  return createRoute({
    ...config,
    // Who may call it, in the document too: the authorization matrix test reads it.
    ...({ "x-access": access } as object),
    request: request as RequestOf<R>,
    middleware: opts.idempotent ? [...guards[access], idempotency] : [...guards[access]],
    security: [{ bearerAuth: [] }],
    responses: { ...commonErrors(access), ...(opts.idempotent ? pickErrors(409, 422) : {}), ...config.responses } as R["responses"],
  });
}

/**
 * A route without a bearer token: `security` says what authenticates it instead, `[]`
 * (the default) for none at all (health, the document, signed media links). The
 * provider webhooks name their own scheme (`twilioSignature`, `postmarkBasic`,
 * registered in src/app.ts). No guard runs: the handler authenticates.
 */
export function publicRoute<const R extends Omit<RouteConfig, "security" | "operationId"> & { operationId: string }>(
  config: R,
  security: NonNullable<RouteConfig["security"]> = [],
) {
  return createRoute({ ...config, security });
}
