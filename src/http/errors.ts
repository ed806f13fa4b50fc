import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { isFenced, orgMoving } from "../db/shards";
import type { AppEnv } from "../env";
import { ApiError, problemResponse } from "../lib/errors";
import { log } from "../lib/log";

/** Whatever a handler, validator or middleware threw, as the SPEC 3 problem it answers. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    switch (err.status) {
      case 400:
        return new ApiError("validation_failed", err.message, [{ path: "body", message: err.message }]);
      case 413:
        return new ApiError("payload_too_large", "The request body is too large.");
      case 415:
        return new ApiError("unsupported_media_type", "This route takes application/json.");
      case 401:
        return new ApiError("unauthenticated", err.message || "Unauthenticated.");
      case 404:
        return new ApiError("not_found", "Not found.");
    }
  }
  // A write a shard's fence refused that no inOrgShard caught (src/org-inbox/client.ts): the
  // org is between two shards for a moment; nothing was written, so a retry is safe.
  if (isFenced(err)) {
    log("warn", "fenced_write_unhandled", { error: String(err) });
    return orgMoving();
  }
  return new ApiError("internal", "Something went wrong on our side; the request id identifies it in our logs.");
}

/** app.onError: problem+json for every refusal; a 500 shows no stack, the log keeps it under the request id. */
export function onError(err: Error, c: Context<AppEnv>) {
  const problem = toApiError(err);
  // A not_configured refusal is logged once per isolate where it is detected (src/config/secrets.ts).
  if (problem.code === "internal") {
    log("error", "unhandled", { request_id: c.get("requestId"), error: err.message, stack: err.stack });
  }
  return problemResponse(problem, c.get("requestId"));
}

/** app.notFound: an unknown route is a 404 problem like any other. */
export const onNotFound = (c: Context<AppEnv>) => problemResponse(new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}.`), c.get("requestId"));
