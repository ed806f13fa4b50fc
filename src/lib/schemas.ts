import { z } from "@hono/zod-openapi";

// Shared request fragments: query strings are strict (SPEC 13: booleans are
// `true`/`false` only, `limit` plain digits) so a typo is a 400, not a silent default.
// A query value is text on the wire; the document gives the type it stands for
// (`boolean`, `integer`) so generated clients take `archived: false`, `limit: 50`.
// The generator renders a transform by its `.openapi()` metadata alone, so the
// strict string parsing below is what the server does and the metadata is what
// the document says.
export const Uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "Must be a UUID.");
export const IdParam = (name: string, description?: string) =>
  z.object({ [name]: Uuid.openapi({ param: { name, in: "path" }, ...(description ? { description } : {}) }) });

/** `true` or `false`, nothing else (400); documented as a boolean. */
export const QueryBool = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .openapi({ type: "boolean" });
/** Plain digits, 1–100 (400 otherwise: `1e1`, ` 5`, `+5`); documented as an integer. */
export const Limit = z
  .string()
  .regex(/^\d+$/, "limit must be plain digits")
  .transform(Number)
  .pipe(z.number().int().min(1).max(100))
  .optional()
  .openapi({ type: "integer", minimum: 1, maximum: 100, default: 25, description: "1–100, default 25" });
export const Cursor = z.string().min(1).max(512).optional().openapi({ description: "Opaque cursor from next_cursor" });

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-24T10:00:00.000Z" });

/**
 * A registered (component) schema or null, for a property that can be null. Not
 * `Schema.nullable()`: that wrapper carries the component's name, and the generator
 * then emits the component itself as nullable (every use of it would admit null).
 * Response schemas only: as a request validator a union reports its errors at the
 * property, not inside the object (request bodies keep `.nullable()` on an
 * unregistered schema; see src/sla/sla.routes.ts).
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

export const listOf = <T extends z.ZodType>(item: T, name: string) => z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

const LOOPBACK_HOSTS = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * A URL an inbox app will render as a link (a call's recording): `https:` only, or
 * `http:` to a loopback host (a local dev server). `javascript:`, `data:` and every
 * other scheme are refused, so a stored value can never run script in a client.
 */
export function isDisplayUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && LOOPBACK_HOSTS.test(url.hostname);
}

export const DisplayUrl = z
  .string()
  .max(2048)
  .refine(isDisplayUrl, "must be an https URL (http only for localhost)")
  .openapi({ format: "uri", description: "https (http only for a loopback host)" });

/** D1 binds at most 100 parameters a statement: long id lists are read in slices of this size. */
export const ID_CHUNK = 90;

/** Runs `read` over `ids` in slices of ID_CHUNK and concatenates the rows. */
export async function inChunks<T>(ids: readonly string[], read: (slice: string[]) => Promise<T[]>): Promise<T[]> {
  const unique = [...new Set(ids)];
  const out: T[] = [];
  for (let i = 0; i < unique.length; i += ID_CHUNK) out.push(...(await read(unique.slice(i, i + ID_CHUNK))));
  return out;
}

/**
 * A field a GET answers that a PUT/PATCH of the same resource accepts back and
 * ignores, so a client can send what it read (edited) without stripping it.
 */
export const readOnly = <T extends z.ZodType>(schema: T) =>
  schema.optional().openapi({ readOnly: true, description: "Read-only: accepted as GET answers it, and ignored" });
