import { z } from "@hono/zod-openapi";
import { publicRoute } from "../http/route";

const Health = z
  .object({
    status: z.enum(["ok", "degraded"]).openapi({
      description:
        "`degraded`: the Worker answers, but some routes refuse (503) or some settings fell back to their defaults until the settings in `problems` are fixed",
    }),
    time: z.string(),
    problems: z
      .array(
        z.object({
          setting: z.string().openapi({ example: "MEDIA_URL_SECRET" }),
          issue: z.enum(["missing", "too_short", "invalid", "out_of_range"]).openapi({
            description: "too_short: an HMAC key under 32 bytes; invalid: a value that does not parse; out_of_range: a number outside the setting's range",
          }),
          effect: z.string().openapi({ example: "media links are not signed (url: null) and GET /media/{id} answers 503" }),
        }),
      )
      .optional()
      .openapi({
        description:
          "Only when degraded: each missing, short or malformed secret and what refuses because of it, then each setting whose value was not used and what is in force instead",
      }),
  })
  .openapi("Health");

export const health = publicRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["System"],
  summary: "Liveness and configuration check (no auth)",
  description:
    'Always 200 while the Worker answers. `{ status: "ok", time }` when every secret a route depends on is usable and every setting parses; `{ status: "degraded", time, problems }` otherwise (secrets fail closed: the routes that need them answer 503 `not_configured`; a bad setting is replaced by its default).',
  responses: {
    200: {
      description: "The Worker answers",
      content: { "application/json": { schema: Health } },
    },
  },
});
