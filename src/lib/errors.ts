import { z } from "@hono/zod-openapi";

/** The closed set of problem codes (SPEC 3) and the status each one answers. */
export const errorStatus = {
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  suggestion_not_pending: 409,
  not_scheduled: 409,
  idempotency_in_flight: 409,
  move_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  assignee_not_member: 422,
  system_view_required: 422,
  system_view_immutable: 422,
  idempotency_key_reused: 422,
  contact_unreachable: 422,
  contact_opted_out: 422,
  no_channel: 422,
  invalid_views: 422,
  unknown_contact: 422,
  unknown_media: 422,
  last_owner: 422,
  unknown_shard: 422,
  template_invalid: 422,
  unknown_label: 422,
  rate_limited: 429,
  internal: 500,
  not_configured: 503,
  org_moving: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;
export type FieldError = { path: string; message: string };

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  426: "Upgrade Required",
  422: "Unprocessable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The one error type every layer throws; app.onError renders it as problem+json. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.status = errorStatus[code];
  }
}

export const problemBody = (e: ApiError) => ({
  type: "about:blank",
  title: titles[e.status] ?? "Error",
  status: e.status,
  code: e.code,
  detail: e.detail,
  ...(e.errors ? { errors: e.errors } : {}),
});

export const problemResponse = (e: ApiError, requestId?: string) =>
  new Response(JSON.stringify(problemBody(e)), {
    status: e.status,
    headers: {
      "content-type": "application/problem+json",
      ...(requestId ? { "x-request-id": requestId } : {}),
      ...e.headers,
    },
  });

export const notFound = (what = "Resource") => new ApiError("not_found", `${what} not found.`);
export const invalid = (path: string, message: string) => new ApiError("validation_failed", message, [{ path, message }]);

/** zod issues → `errors: [{ path, message }]`, never a raw ZodError. */
export const fieldErrors = (error: z.ZodError, prefix?: string): FieldError[] =>
  error.issues.map((i) => {
    const parts = [...(prefix ? [prefix] : []), ...i.path.map(String)];
    const keys = i.code === "unrecognized_keys" ? i.keys : [];
    return {
      path: keys.length ? [...parts, keys.join(",")].join(".") : parts.join(".") || "body",
      message: i.message,
    };
  });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** Error responses for route declarations: every route names the ones it can answer. */
export const errorResponses = {
  400: problem("validation_failed: bad body, query, header or cursor"),
  401: problem("unauthenticated: missing, malformed, expired or badly signed token"),
  403: problem("forbidden: not a member of the org, or the role does not allow it"),
  404: problem("not_found: no such resource in this org"),
  409: problem("conflict"),
  413: problem("payload_too_large"),
  415: problem("unsupported_media_type"),
  426: problem("upgrade_required: GET /events needs a WebSocket upgrade"),
  422: problem("the request is well-formed but cannot be applied"),
  429: problem("rate_limited"),
  500: problem("internal"),
  503: problem(
    "not_configured: a secret this route needs is missing or too short on the server (see GET /health); org_moving: a write met the org between two shards and could not wait for the move (retry after Retry-After)",
  ),
} as const;

export function pickErrors<K extends keyof typeof errorResponses>(...statuses: K[]) {
  return Object.fromEntries(statuses.map((s) => [s, errorResponses[s]])) as Pick<typeof errorResponses, K>;
}
