import { z } from "@hono/zod-openapi";
import { MOVE_STATUSES } from "../db/enums";
import { publicRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { IdParam, jsonBody, jsonContent, Timestamp, Uuid } from "../lib/schemas";

// SPEC 14: the operator moves an org to another shard. Authenticated by OPERATOR_TOKEN
// (the `operatorToken` scheme), not by a member's token; without the secret the routes
// answer 404 as if they did not exist.

const TableProgress = z.object({
  copied: z.number().int().openapi({ description: "Rows of the org copied to the target so far" }),
  total: z.number().int().openapi({ description: "Rows of the org in this table when the copy began" }),
});

export const MoveSchema = z
  .object({
    move_id: Uuid,
    org_id: Uuid,
    from: z.string().openapi({ example: "SHARD_0", description: "The shard the org was on when the move began" }),
    to: z.string().openapi({ example: "SHARD_1" }),
    status: z.enum(MOVE_STATUSES).openapi({
      description:
        "copying → verifying → done (the org answers from `to`) or failed (the org is where it was, whole; `error` says why). The org's writes wait while copying and verifying.",
    }),
    tables: z.record(z.string(), TableProgress).openapi({ description: "Per table of the org's rows, the copy's progress" }),
    error: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    switched_at: Timestamp.nullable().openapi({ description: "When the org began answering from `to` (null until done)" }),
    old_rows_deleted_at: Timestamp.nullable().openapi({
      description: "When the rows left on `from` were deleted: after every isolate's cache of the org's shard has expired (about 90 s after switched_at)",
    }),
  })
  .openapi("OrgMove");

const security = [{ operatorToken: [] }];

export const moveOrg = publicRoute(
  {
    method: "post",
    path: "/operator/orgs/{org_id}/move",
    operationId: "moveOrg",
    tags: ["Operator"],
    summary: "Move an org to another shard (operator)",
    description:
      "Starts the move and answers at once (202). The org's OrgInbox holds its writes (they wait, none is refused) while it copies the org's rows page by page and verifies each table's row count and checksum, then switches the org's shard and releases the writes. Reads stay correct throughout. The old rows are deleted once every cache has expired. 404 when OPERATOR_TOKEN is not set, or for an unknown org.",
    request: {
      params: IdParam("org_id"),
      body: jsonBody(z.strictObject({ shard: z.string().min(1).max(64).openapi({ example: "SHARD_1", description: "A shard named in SHARDS" }) })),
    },
    responses: {
      202: jsonContent(MoveSchema, "The move, started"),
      ...pickErrors(400, 401, 404, 409, 415, 422, 500, 503),
    },
  },
  security,
);

export const getMove = publicRoute(
  {
    method: "get",
    path: "/operator/moves/{move_id}",
    operationId: "getOrgMove",
    tags: ["Operator"],
    summary: "A move's progress (operator)",
    request: { params: IdParam("move_id") },
    responses: { 200: jsonContent(MoveSchema, "The move"), ...pickErrors(401, 404, 500) },
  },
  security,
);
