import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { uuidv7 } from "../lib/ids";
import { log } from "../lib/log";

const CLIENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** X-Request-Id on every response (a well-formed client id is kept) and one JSON log line a request. */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const sent = c.req.header("x-request-id");
  const requestId = sent && CLIENT_ID.test(sent) ? sent : uuidv7();
  c.set("requestId", requestId);
  const started = Date.now();
  await next();
  c.res.headers.set("x-request-id", requestId);
  log(c.res.status >= 500 ? "error" : "info", "request", {
    request_id: requestId,
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    duration_ms: Date.now() - started,
    org_id: c.get("orgId"),
    user_id: c.get("userId"),
  });
});
