import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { operatorToken } from "../config/secrets";
import { orgMoves, orgs } from "../db/control";
import { controlDb, usableShards } from "../db/shards";
import type { AppEnv, AppRouteHandler } from "../env";
import { constantTimeEqual } from "../lib/bytes";
import { ApiError, notFound } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { inbox } from "../org-inbox/client";
import { findMove, toMove, updateMove } from "./moves";
import type * as routes from "./operator.routes";

/** OPERATOR_TOKEN as a bearer token; without the secret the route does not exist (404). */
function requireOperator(c: Context<AppEnv>) {
  const token = operatorToken(c.env);
  if (!token) throw new ApiError("not_found", "Resource not found.");
  const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (!given || !constantTimeEqual(given, token)) {
    throw new ApiError("unauthenticated", "The operator routes need Authorization: Bearer <OPERATOR_TOKEN>.", undefined, {
      "www-authenticate": 'Bearer realm="operator"',
    });
  }
}

/** POST /operator/orgs/{org_id}/move: the control row (one open move per org), then the org's OrgInbox runs it. */
export const moveOrg: AppRouteHandler<typeof routes.moveOrg> = async (c) => {
  requireOperator(c);
  const orgId = c.req.valid("param").org_id.toLowerCase();
  const { shard } = c.req.valid("json");
  const control = controlDb(c.env);
  const org = await control.select({ shard: orgs.shard }).from(orgs).where(eq(orgs.id, orgId)).get();
  if (!org) throw notFound("Org");
  if (!usableShards(c.env).includes(shard)) {
    throw new ApiError("unknown_shard", `${shard} is not a shard of this server (SHARDS: ${usableShards(c.env).join(", ")}).`, [
      { path: "shard", message: "not in SHARDS, or not bound" },
    ]);
  }
  if (shard === org.shard) {
    throw new ApiError("unknown_shard", `The org already lives on ${shard}.`, [{ path: "shard", message: "the org's own shard" }]);
  }
  const now = Date.now();
  const move = {
    id: uuidv7(now),
    orgId,
    fromShard: org.shard,
    toShard: shard,
    status: "copying" as const,
    tables: {},
    error: null,
    createdAt: now,
    updatedAt: now,
    switchedAt: null,
    finishedAt: null,
  };
  const [row] = await control.insert(orgMoves).values(move).onConflictDoNothing().returning();
  if (!row)
    throw new ApiError("move_in_progress", "This org is already moving (or its last move is still deleting the old rows); see GET /operator/moves/{move_id}.");
  const start = { id: move.id, from: org.shard, to: shard };
  try {
    await inbox(c.env, orgId).startMove(start);
  } catch (e) {
    // The call's answer may be lost after OrgInbox recorded the move: asked again, it says
    // so (move_in_progress) and the move runs. Only a move it never took is failed here.
    const again = await inbox(c.env, orgId)
      .answer.startMove(start)
      .catch((err: unknown) => ({ error: { code: "internal", detail: String(err) } }));
    if (!("error" in again) || again.error.code === "move_in_progress") return c.json(toMove(row), 202);
    await updateMove(control, move.id, { status: "failed", error: `the move could not start: ${String(e)}`, finishedAt: Date.now() });
    throw e;
  }
  return c.json(toMove(row), 202);
};

export const getMove: AppRouteHandler<typeof routes.getMove> = async (c) => {
  requireOperator(c);
  const move = await findMove(controlDb(c.env), c.req.valid("param").move_id.toLowerCase());
  if (!move) throw notFound("Move");
  return c.json(toMove(move), 200);
};
