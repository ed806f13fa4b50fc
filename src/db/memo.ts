import { Column, getTableName, is, Param, Placeholder, SQL, Subquery, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { recall, remember } from "../lib/remember";
import type { Db } from "./client";

// Hot-path statements whose SQL drizzle builds once. Building a query (its entity checks,
// its chunks merged into text) was about a sixth of an ingest's CPU in the Worker's
// isolate (a CPU profile of POST /activities and the Twilio webhook under load, issue 16),
// and it built the same text every time with other values. A statement here is written
// with sql.placeholder()s, built on its first use per database handle and key, and bound
// to each call's values.

/** A selected field as drizzle's prepared query lists it: where it goes in the row object, and what it is. */
type Field = { path: string[]; field: unknown };

/** What drizzle's prepared D1 query offers (drizzle-orm/d1 D1PreparedQuery). */
type Prepared = {
  stmt: D1PreparedStatement;
  /** A select's fields, in column order (absent for a query that returns D1's objects as they are). */
  fields?: Field[];
  customResultMapper?: unknown;
  joinsNotNullableMap?: Record<string, boolean>;
  getQuery(): { sql: string; params: unknown[] };
  mapResult(response: unknown, isFromBatch?: boolean): unknown;
};

type Decoder = { mapFromDriverValue(value: unknown): unknown };

/** The decoder of a selected field, as drizzle's mapResultRow picks it. */
function decoderOf(field: unknown): Decoder {
  if (is(field, Column)) return field;
  // `decoder` is drizzle-internal (SQL's, for sql<T>`…`.mapWith()); mapResultRow reads it the same way.
  const decoder = (expression: unknown) => (expression as { decoder: Decoder }).decoder;
  if (is(field, SQL)) return decoder(field);
  if (is(field, Subquery)) return decoder((field as unknown as { _: { sql: SQL } })._.sql);
  return decoder((field as SQL.Aliased).sql);
}

/**
 * drizzle's mapResultRow (drizzle-orm/utils), with what it works out per column and per
 * row (the field's kind, its decoder, its table) worked out once per statement: the same
 * objects, the same nulls for a left-joined table whose columns are all null. drizzle's
 * version was 6–9 % of the Worker isolate's samples under the list and search routes.
 */
export function rowMapper(fields: Field[], joinsNotNullableMap: Record<string, boolean> | undefined) {
  const columns = fields.map(({ path, field }) => ({
    parents: path.slice(0, -1),
    key: path[path.length - 1],
    decoder: decoderOf(field),
    // A column of a table at depth 2 ({ conversation: { id } }): it decides whether its object is a left join's null.
    table: joinsNotNullableMap && is(field, Column) && path.length === 2 ? getTableName(field.table) : null,
  }));
  return (row: unknown[]) => {
    const result: Record<string, unknown> = {};
    const nullify: Record<string, string | false> = {};
    for (let i = 0; i < columns.length; i++) {
      const { parents, key, decoder, table } = columns[i];
      let node = result;
      for (const chunk of parents) {
        if (!(chunk in node)) node[chunk] = {};
        node = node[chunk] as Record<string, unknown>;
      }
      const raw = row[i];
      const value = raw === null ? null : decoder.mapFromDriverValue(raw);
      node[key] = value;
      if (table !== null) {
        const object = parents[0];
        const seen = nullify[object];
        if (seen === undefined) nullify[object] = value === null ? table : false;
        else if (typeof seen === "string" && seen !== table) nullify[object] = false;
      }
    }
    if (joinsNotNullableMap)
      for (const [object, table] of Object.entries(nullify)) if (typeof table === "string" && !joinsNotNullableMap[table]) result[object] = null;
    return result;
  };
}

/**
 * A built statement: drizzle's prepared query (its fields and its row mapping) and its
 * SQL with each placeholder a numbered parameter, one number per placeholder name
 * (`?3` as often as the name occurs), so a statement that repeats a value (a list's WHERE
 * in each of a search's plans) binds it once, and stays under D1's 100 parameters.
 */
type Built = { prepared: Prepared; stmt: D1PreparedStatement; sql: string; slots: unknown[]; map: ((row: unknown[]) => Record<string, unknown>) | null };

/** Where each `?` of `sql` is, outside string literals and quoted names. */
function parameterAt(sql: string): number[] {
  const at: number[] = [];
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (quote) {
      if (ch !== quote) continue;
      // A doubled quote inside a literal is the quote itself: the literal goes on.
      if (sql[i + 1] === quote) i++;
      else quote = null;
    } else if (ch === "'" || ch === '"' || ch === "`") quote = ch;
    else if (ch === "?") at.push(i);
  }
  return at;
}

/**
 * `query` with its parameters numbered: a placeholder's every occurrence one number (a
 * column's placeholder per name and column encoder: two columns of one name may encode
 * it differently), every other value a number of its own.
 */
export function numbered(query: { sql: string; params: unknown[] }): { sql: string; slots: unknown[] } {
  const at = parameterAt(query.sql);
  if (at.length !== query.params.length) throw new Error(`memo: ${at.length} parameters in the SQL, ${query.params.length} values`);
  const slots: unknown[] = [];
  const byName = new Map<string, Map<unknown, number>>();
  const numberOf = (param: unknown) => {
    const name = is(param, Placeholder) ? param.name : is(param, Param) && is(param.value, Placeholder) ? param.value.name : null;
    if (name === null) return slots.push(param);
    const encoder = is(param, Param) ? param.encoder : null;
    const known = byName.get(name) ?? new Map<unknown, number>();
    byName.set(name, known);
    const n = known.get(encoder) ?? slots.push(param);
    known.set(encoder, n);
    return n;
  };
  let out = "";
  let from = 0;
  query.params.forEach((param, i) => {
    out += `${query.sql.slice(from, at[i])}?${numberOf(param)}`;
    from = at[i] + 1;
  });
  return { sql: out + query.sql.slice(from), slots };
}

function buildOnce(db: Db, builder: unknown): Built {
  const prepared = (builder as { _prepare(): Prepared })._prepare();
  const { sql, slots } = numbered(prepared.getQuery());
  const map = prepared.fields ? rowMapper(prepared.fields, prepared.joinsNotNullableMap) : null;
  return { prepared, stmt: db.$client.prepare(sql), sql, slots, map };
}

/** A built read run with `values`: a select's rows read as arrays and mapped by its rowMapper; anything else as D1 returns it. */
async function readAll(built: Built, values: object): Promise<unknown[]> {
  const statement = built.stmt.bind(...fill(built.slots, values));
  // drizzle's relational queries (db.query.…) map rows their own way, differently for one row and many.
  if (built.prepared.customResultMapper) throw new Error("memo: a relational query is not memoized; use a select");
  if (!built.map) return (await statement.all()).results;
  return (await statement.raw()).map(built.map);
}

/**
 * The params of a built statement with `values` in its placeholders. Like drizzle's
 * fillPlaceholders, except that a null or missing value of a column's placeholder (an insert's
 * or update's value) binds NULL, as drizzle binds a null value it is given directly; its
 * fillPlaceholders would hand null to the column's encoder (a JSON column would store the
 * text "null", a boolean one 0).
 */
function fill(params: unknown[], values: object) {
  return params.map((param) => {
    if (is(param, Placeholder)) return placed(values, param.name);
    if (is(param, Param) && is(param.value, Placeholder)) {
      const value = placed(values, param.value.name);
      return value === null ? null : param.encoder.mapToDriverValue(value);
    }
    return param;
  });
}

function placed(values: object, name: string) {
  if (!(name in values)) throw new Error(`memo: no value for placeholder "${name}"`);
  return (values as Record<string, unknown>)[name] ?? null;
}

/**
 * A statement's value by name, for a builder that serves both ways: the value itself
 * (valuesAt), or, for a statement built once, `sql.placeholder(name)` (placeholders),
 * bound to the value at each run.
 */
export type At = <T = string>(name: string) => T;

/** The `at` of a statement built once: each value a placeholder of its name (typed as the value it stands for). */
export const placeholders: At = (name) => sql.placeholder(name) as never;

/** The `at` of a statement built with its values in it (not memoized: conversationWhere, tests, EXPLAIN). */
export const valuesAt =
  (values: Record<string, unknown>): At =>
  (name) =>
    values[name] as never;

/** A row of placeholders named as `row`'s keys (those with a value): what an insert's values() or an update's set() takes to be memoized. */
export const placeholdersOf = <T extends object>(row: T) =>
  Object.fromEntries(
    Object.keys(row)
      .filter((k) => (row as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, sql.placeholder(k)]),
  ) as { [K in keyof T]: Placeholder };

/** The shape of `row` for a memo key: its keys that have a value. */
export const shapeOf = (row: object) =>
  Object.keys(row)
    .filter((k) => (row as Record<string, unknown>)[k] !== undefined)
    .join(",");

const built = new WeakMap<Db, Map<string, Built>>();

/**
 * Statements a handle keeps, at most; the least recently used goes first. The shapes a
 * list can take (its filters, labels and cursor) are many more than are used, and a
 * client chooses them: a bound keeps the isolate's memory bounded too. A conversation
 * search can hold four a shape (src/search/queries.ts: all three plans, and each alone).
 */
export const MEMO_MAX = 500;

/** How many statements a handle has built (tests read it: a second call of a key builds nothing). */
export const builtCount = (db: Db) => built.get(db)?.size ?? 0;

/**
 * The statement `build()` makes (with `sql.placeholder(name)` where values go), built once
 * per `db` and `key`, bound to `values`. `key` names the statement's shape: everything
 * `build` reads besides placeholders must be part of it (an IN list's length, a branch).
 * The answer goes into `db.batch([...])` like the builder it stands for, or a read runs
 * with `.all()` or `.get()`; awaiting it directly is refused (its method would be a
 * guess).
 */
export function memo<Q extends BatchItem<"sqlite">>(db: Db, key: string, build: () => Q, values: object): Q {
  let statements = built.get(db);
  if (!statements) {
    statements = new Map();
    built.set(db, statements);
  }
  let known = recall(statements, key);
  if (!known) {
    known = buildOnce(db, build());
    remember(statements, key, known, MEMO_MAX);
  }
  const it = known;
  const bound = {
    // What db.batch reads of a builder (drizzle-orm/d1 session batch): the statement, its SQL and params, and the row mapping.
    _prepare: () => ({
      stmt: it.stmt,
      getQuery: () => ({ sql: it.sql, params: fill(it.slots, values) }),
      mapResult: (response: unknown, isFromBatch?: boolean) => it.prepared.mapResult(response, isFromBatch),
    }),
    all: () => readAll(it, values),
    get: () => readAll(it, values).then((rows) => rows[0]),
    // biome-ignore lint/suspicious/noThenProperty: awaiting a memo must fail loudly, not resolve to the object.
    then: () => {
      throw new Error(`memo ${key}: put it in db.batch or call .all() or .get()`);
    },
  };
  return bound as unknown as Q;
}

/** The SQL and params a builder or a memo would run (tests EXPLAIN it). */
export function queryOf(query: object): { sql: string; params: unknown[] } {
  const q = query as { toSQL?: () => { sql: string; params: unknown[] }; _prepare?: () => Prepared };
  if (q.toSQL) return q.toSQL();
  if (q._prepare) return q._prepare().getQuery();
  throw new Error("queryOf: neither a builder nor a memo");
}
