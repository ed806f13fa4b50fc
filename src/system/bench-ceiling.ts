import { createRouter } from "../http/router";
import { ApiError } from "../lib/errors";
import { authenticate } from "../middleware/auth";
import { orgScope, requireRole } from "../middleware/org";
import { inbox } from "../org-inbox/client";

// POST /bench/ceiling: the bench's raw write ceiling (src/org-inbox/bench-ceiling.ts).
// `npm run bench` starts its server with BENCH_CEILING=1; anywhere else the route answers
// 404. Not part of the API (not in the OpenAPI document).

export const benchCeilingRouter = createRouter().post("/bench/ceiling", authenticate, orgScope, requireRole("owner", "admin"), async (c) => {
  if (c.env.BENCH_CEILING !== "1") throw new ApiError("not_found", `No route for POST ${c.req.path}.`);
  const body = (await c.req.json()) as { conversation_id?: unknown; activities?: unknown };
  const items = body.activities;
  if (typeof body.conversation_id !== "string" || !Array.isArray(items) || items.length > 500) {
    throw new ApiError("validation_failed", "conversation_id and 0-500 activities", [{ path: "body", message: "conversation_id and 0-500 activities" }]);
  }
  const stored = await inbox(c.env, c.get("orgId")).benchCeiling(body.conversation_id, items as { body?: string | null }[]);
  return c.json({ stored }, 200);
});
