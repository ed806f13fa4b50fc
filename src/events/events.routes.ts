import { z } from "@hono/zod-openapi";
import { apiRoute } from "../http/route";
import { pickErrors } from "../lib/errors";
import { Uuid } from "../lib/schemas";

export const events = apiRoute(
  "member",
  {
    method: "get",
    path: "/events",
    operationId: "streamEvents",
    tags: ["Realtime"],
    summary: "The org's events over a WebSocket",
    description: [
      "Upgrade with `Upgrade: websocket`. Browsers, which cannot set headers on a WebSocket, pass `?token=` and `?org_id=` instead of `Authorization` and `X-Org-Id`; a non-member is refused before the upgrade (401/403).",
      "",
      'The server first sends `{ type: "hello", seq }` (the latest sequence number), then every committed write of the org as `{ seq, type, conversation_id, data, at }`: `message.created`, `message.updated` (delivery status, call summaries), `conversation.updated` (read, star, assign, archive, new activity), `suggestion.created`; `data` has the REST shape. `seq` grows by one per org.',
      "",
      '`?since=<seq>` replays the buffered events after it (the last 1,000 at least), or sends `{ type: "resync", seq }` when some are gone: refetch, then follow from `seq`. Send `ping` to get `pong` (answered without waking the server).',
    ].join("\n"),
    request: {
      query: z.object({
        token: z.string().optional().openapi({ description: "the bearer token, for clients that cannot set headers" }),
        org_id: Uuid.optional().openapi({ description: "the org, for clients that cannot set headers" }),
        since: z
          .string()
          .regex(/^\d{1,15}$/, "since must be plain digits")
          .transform(Number)
          .optional()
          .openapi({ type: "integer", minimum: 0, description: "resume after this seq (plain digits)" }),
      }),
    },
    responses: {
      101: { description: "Switching Protocols: the event stream" },
      ...pickErrors(426, 429),
    },
  },
  { websocket: true },
);
