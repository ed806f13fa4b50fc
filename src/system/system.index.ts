import { z } from "@hono/zod-openapi";
import { publicRoute } from "../lib/route";
import { createRouter } from "../lib/router";

const health = publicRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["System"],
  summary: "Liveness check (no auth)",
  responses: {
    200: {
      description: "The Worker answers",
      content: { "application/json": { schema: z.object({ status: z.literal("ok"), time: z.string() }) } },
    },
  },
});

export const systemRouter = createRouter().openapi(health, (c) =>
  c.json({ status: "ok" as const, time: new Date().toISOString() }, 200),
);
