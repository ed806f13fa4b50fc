import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { ApiError, fieldErrors } from "../lib/errors";

/** Every router builds on this: validation failures become problem+json (SPEC 3). */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      // A path id that is not a UUID names nothing that could exist here.
      if (result.target === "param") throw new ApiError("not_found", "Resource not found.");
      throw new ApiError("validation_failed", `The request ${result.target} is not valid.`, fieldErrors(result.error));
    },
  });
}
