import { integer } from "drizzle-orm/sqlite-core";

// Every time is stored as epoch milliseconds (INTEGER): range scans and keyset
// cursors compare numbers, and the API renders ISO-8601 at the edge.
export const ms = (name: string) => integer(name);
export const created = () => ms("created_at").notNull();
export const updated = () => ms("updated_at").notNull();
export const flag = (name: string) => integer(name, { mode: "boolean" }).notNull().default(false);
