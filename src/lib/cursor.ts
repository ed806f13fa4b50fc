import { z } from "@hono/zod-openapi";
import { invalid } from "./errors";

// Cursors are opaque to clients: base64url of a small JSON tuple (the keyset
// position). Anything that does not decode to the expected tuple is a 400.
const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (s: string) => atob(s.replace(/-/g, "+").replace(/_/g, "/"));

export function encodeCursor(position: readonly unknown[]): string {
  return b64url(JSON.stringify(position));
}

export function decodeCursor<T extends z.ZodType>(cursor: string | undefined, shape: T): z.infer<T> | null {
  if (cursor === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(unb64url(cursor));
  } catch {
    throw invalid("cursor", "Cursor is not valid.");
  }
  const parsed = shape.safeParse(raw);
  if (!parsed.success) throw invalid("cursor", "Cursor is not valid.");
  return parsed.data;
}

/** Keyset position of (time, id) lists. */
export const timeIdCursor = z.tuple([z.number().int(), z.string().uuid()]);
/** Keyset position of id-ordered lists. */
export const idCursor = z.tuple([z.string().uuid()]);

/** Takes limit+1 rows: the extra one only tells whether a next page exists. */
export function page<T>(rows: T[], limit: number, position: (last: T) => readonly unknown[]) {
  const more = rows.length > limit;
  const data = more ? rows.slice(0, limit) : rows;
  return { data, next_cursor: more ? encodeCursor(position(data[data.length - 1])) : null };
}

// A list in name order (templates, labels): the cursor is the last name key, as base64url
// of UTF-8 JSON (a name is any text, which btoa alone cannot take). Its route allows a
// longer cursor (NameCursorParam).
const NameKey = z.tuple([z.string().min(1)]);

export function encodeNameCursor(key: string) {
  const bytes = new TextEncoder().encode(JSON.stringify([key]));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function decodeNameCursor(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  try {
    const binary = unb64url(cursor);
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
    const parsed = NameKey.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data[0];
  } catch {
    // Below: one answer for every bad cursor.
  }
  throw invalid("cursor", "Cursor is not valid.");
}

/** The query parameter of a name-ordered list: its cursor carries a name, so it may be longer than the shared one. */
export const NameCursorParam = z.string().min(1).max(2048).optional().openapi({ description: "Opaque cursor from next_cursor" });
