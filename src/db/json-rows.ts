import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

// Many rows in one INSERT: the rows travel as one JSON array, bound as a single parameter
// and unpacked by json_each, so a statement is not cut to D1's 100 bound parameters (two
// or three rows of a wide table). Used where rows come by the hundred: a group commit's
// new activities, contacts and threads (src/org-inbox/ingest-group.ts) and a move's pages
// (src/org-inbox/move.ts). Table and column names come from our schema, never from input.

/** A D1 row: column names as in SQL, values as D1 stores them. */
export type DriverRow = Record<string, unknown>;

/** Bytes of JSON per statement: well under D1's 2 MB a value; a bigger row goes alone. */
const CHUNK_BYTES = 512 * 1024;

export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The INSERTs of `rows` (all with the same columns) into `table`, each under CHUNK_BYTES of
 * JSON; `where`: a condition (SQL of ours, never input) every row is inserted under, given
 * the SQL of a row's value of a column.
 */
export function jsonInserts(
  d1: D1Database,
  table: string,
  rows: DriverRow[],
  opts: { where?: (value: (column: string) => string) => string } = {},
): D1PreparedStatement[] {
  if (!rows.length) return [];
  const columns = Object.keys(rows[0]);
  /** SQL of the row's value of `column`, for the condition. */
  const value = (column: string) => {
    const i = columns.indexOf(column);
    if (i < 0) throw new Error(`jsonInserts: no column ${column}`);
    return `json_extract(value, '$[${i}]')`;
  };
  // Each row travels as an array of its values in `columns` order: no key repeated per row
  // (about 40 % of the JSON of a wide row), and a faster stringify than an object's.
  const into = d1.prepare(
    `INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")}) SELECT ${columns
      .map((_, i) => `json_extract(value, '$[${i}]')`)
      .join(", ")} FROM json_each(?)${opts.where ? ` WHERE ${opts.where(value)}` : ""}`,
  );
  return chunked(rows.map((row) => JSON.stringify(columns.map((c) => row[c])))).map((json) => into.bind(json));
}

/** A table's columns as [key, column] pairs, listed once per table (a group commit maps 500 rows at a time). */
const columnLists = new WeakMap<SQLiteTable, [string, SQLiteColumn][]>();
const columnsOf = (table: SQLiteTable) => {
  let list = columnLists.get(table);
  if (!list) {
    list = Object.entries(getTableColumns(table)) as [string, SQLiteColumn][];
    columnLists.set(table, list);
  }
  return list;
};

/** Typed rows of a drizzle table (as its $inferInsert) as D1 rows: each column mapped as drizzle would bind it. */
export function driverRows<T extends SQLiteTable>(table: T, rows: T["$inferInsert"][]): DriverRow[] {
  const columns = columnsOf(table);
  return rows.map((row) => {
    const out: DriverRow = {};
    for (const [key, column] of columns) {
      const value = (row as Record<string, unknown>)[key];
      out[column.name] = value === null || value === undefined ? null : column.mapToDriverValue(value);
    }
    return out;
  });
}

/** The INSERTs of typed rows into a drizzle table. */
export const insertRows = <T extends SQLiteTable>(d1: D1Database, table: T, rows: T["$inferInsert"][]) =>
  jsonInserts(d1, getTableName(table), driverRows(table, rows));

/**
 * One UPDATE of many rows by key: each row's `columns` set from a JSON array
 * (UPDATE … FROM json_each), cut like jsonInserts. `rows` are D1 rows holding the key and
 * the columns.
 */
export function jsonUpdates(d1: D1Database, table: string, key: string, columns: string[], rows: DriverRow[]): D1PreparedStatement[] {
  if (!rows.length) return [];
  const picked = [key, ...columns];
  // Each row an array of the key and the columns, in `picked` order (as jsonInserts).
  const update = d1.prepare(
    `UPDATE ${quote(table)} SET ${columns.map((c) => `${quote(c)} = v.${quote(c)}`).join(", ")} FROM (SELECT ${picked
      .map((c, i) => `json_extract(value, '$[${i}]') AS ${quote(c)}`)
      .join(", ")} FROM json_each(?)) AS v WHERE ${quote(table)}.${quote(key)} = v.${quote(key)}`,
  );
  return chunked(rows.map((r) => JSON.stringify(picked.map((c) => r[c])))).map((json) => update.bind(json));
}

/**
 * One upsert of many counters: rows of `keyColumns` and `n`, added to the existing count
 * (INSERT … SELECT … FROM json_each … ON CONFLICT DO UPDATE SET n = n + excluded.n).
 * Each key once in `rows`.
 */
export function jsonCounterAdds(d1: D1Database, table: string, keyColumns: string[], rows: DriverRow[]): D1PreparedStatement[] {
  if (!rows.length) return [];
  const columns = [...keyColumns, "n"];
  const upsert = d1.prepare(
    `INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")}) SELECT ${columns
      .map((c) => `json_extract(value, '$.${quote(c)}')`)
      .join(", ")} FROM json_each(?) WHERE true ON CONFLICT (${keyColumns.map(quote).join(", ")}) DO UPDATE SET "n" = "n" + excluded."n"`,
  );
  return chunked(rows.map((r) => JSON.stringify(r))).map((json) => upsert.bind(json));
}

/** JSON rows joined into arrays of at most CHUNK_BYTES each (a bigger row alone). */
function chunked(jsons: string[]): string[] {
  const out: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const json of jsons) {
    if (chunk.length && bytes + json.length > CHUNK_BYTES) {
      out.push(`[${chunk.join(",")}]`);
      chunk = [];
      bytes = 0;
    }
    chunk.push(json);
    bytes += json.length + 1;
  }
  if (chunk.length) out.push(`[${chunk.join(",")}]`);
  return out;
}
