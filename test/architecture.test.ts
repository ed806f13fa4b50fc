import { describe, expect, it } from "vitest";

// One write path per table: conversation state, message state and contact identity are
// written only under src/org-inbox/ (OrgInbox, which announces every change), and the
// modules there that write them are imported by nothing outside src/org-inbox/; other
// code reaches them through OrgInbox's RPC methods. Reads go straight to D1 from anywhere.

/** Every source file, as text, by its path from the project root ("src/…"). */
const sources = Object.fromEntries(
  Object.entries(import.meta.glob<string>("../src/**/*.ts", { query: "?raw", import: "default", eager: true })).map(([key, text]) => [
    key.replace(/^\.\.\//, ""),
    text,
  ]),
);

const OWNED = ["conversations", "activities", "contacts"] as const;
const INBOX = "src/org-inbox/";

/** The text without comments (`//` counts only at a line's start or after white space, so URLs in strings stay). */
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");

/** Every write of an owned table in `text`: drizzle insert/update/delete (on the table or an alias of it) and SQL text. */
function writesIn(text: string): string[] {
  const code = withoutComments(text);
  const names = new Map<string, string>(OWNED.map((t) => [t, t]));
  for (const m of code.matchAll(/\b(conversations|activities|contacts)\s+as\s+(\w+)/g)) names.set(m[2], m[1]);
  for (const m of code.matchAll(/\b(?:const|let|var)\s+(\w+)\s*=\s*(conversations|activities|contacts)\s*[;,\n]/g)) names.set(m[1], m[2]);
  const found: string[] = [];
  for (const m of code.matchAll(/\.(insert|update|delete)\(\s*(\w+)\s*\)/g)) {
    if (names.has(m[2])) found.push(`${m[1]}(${names.get(m[2])})`);
  }
  const sql =
    /\b(insert\s+(?:or\s+\w+\s+)?into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+(?:["'`[]|\$\{\s*)?(conversations|activities|contacts)\b/gi;
  for (const m of code.matchAll(sql)) found.push(`${m[1].toLowerCase().replace(/\s+/g, " ")} ${m[2]} (SQL)`);
  return found;
}

/** What `file` imports (static, re-exported, dynamic), resolved to source paths; `typeOnly` when nothing of it is left at run time. */
function importsOf(file: string, text: string): { target: string; typeOnly: boolean }[] {
  const code = withoutComments(text);
  const found: { spec: string; typeOnly: boolean }[] = [];
  for (const m of code.matchAll(/\b(import|export)\s+(type\s+)?([\w*\s{},$]*?)\s*from\s*["']([^"']+)["']/g)) {
    const braces = /^\{([^}]*)\}$/.exec(m[3].trim());
    const allTypes = (braces?.[1] ?? "")
      .split(",")
      .filter((s) => s.trim())
      .every((s) => /^\s*type\s/.test(s));
    found.push({ spec: m[4], typeOnly: Boolean(m[2]) || allTypes });
  }
  for (const m of code.matchAll(/\bimport\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push({ spec: m[1] ?? m[2], typeOnly: false });
  return found
    .filter((f) => f.spec.startsWith("."))
    .map((f) => {
      const path = new URL(f.spec, `file:///root/${file}`).pathname.replace(/^\/root\//, "");
      const target = [path, `${path}.ts`, `${path}/index.ts`].find((p) => p in sources) ?? path;
      return { target, typeOnly: f.typeOnly };
    });
}

/** Files under src/org-inbox/ that write an owned table. */
const writeModules = () => Object.keys(sources).filter((f) => f.startsWith(INBOX) && writesIn(sources[f]).length > 0);

describe("one write path per table (conversations, activities, contacts)", () => {
  it("reads the whole tree", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(50);
    // The scan sees the writers it is about (a blind scan would pass everything).
    expect(writeModules()).toEqual(
      expect.arrayContaining([`${INBOX}ingest.ts`, `${INBOX}delivery.ts`, `${INBOX}contacts.ts`, `${INBOX}state.ts`, `${INBOX}sla.ts`]),
    );
  });

  it("no file outside src/org-inbox/ inserts, updates or deletes them", () => {
    const outside = Object.fromEntries(
      Object.entries(sources)
        .filter(([file]) => !file.startsWith(INBOX))
        .map(([file, text]) => [file, writesIn(text)])
        .filter(([, writes]) => writes.length > 0),
    );
    expect(outside).toEqual({});
  });

  it("the org-inbox modules that write them are imported only from src/org-inbox/ (types aside)", () => {
    const writers = new Set(writeModules());
    const leaks = Object.entries(sources)
      .filter(([file]) => !file.startsWith(INBOX))
      .flatMap(([file, text]) =>
        importsOf(file, text)
          .filter((i) => !i.typeOnly && writers.has(i.target))
          .map((i) => `${file} → ${i.target}`),
      );
    expect(leaks).toEqual([]);
  });

  it("nothing under src/org-inbox/ calls OrgInbox through its client (an RPC from inside the chain would wait for itself)", () => {
    const inside = Object.entries(sources)
      .filter(([file]) => file.startsWith(INBOX))
      .flatMap(([file, text]) =>
        importsOf(file, text)
          .filter((i) => !i.typeOnly && i.target === `${INBOX}client.ts`)
          .map(() => file),
      );
    expect(inside).toEqual([]);
  });

  it("the checks catch what they are for (planted violations)", () => {
    const writes = [
      `await d.update(activities).set({ status: "sent" })`,
      `await d\n  .insert(contacts)\n  .values(row)`,
      `d.delete( conversations ).where(x)`,
      `const a = activities;\nawait d.update(a).set({})`,
      `import { conversations as cv } from "../db/schema";\nd.update(cv)`,
      `env.DB.prepare("UPDATE activities SET status = 'sent' WHERE id = ?")`,
      `env.DB.prepare('INSERT OR IGNORE INTO "contacts" (id) VALUES (?)')`,
      "sql`DELETE FROM ${conversations} WHERE org_id = ${orgId}`",
      "db.exec(`replace into activities values (1)`)",
    ];
    for (const w of writes) expect(writesIn(w), w).not.toEqual([]);
    const reads = [
      `d.select().from(activities).where(eq(activities.id, id))`,
      `d.update(media).set({ status: "ready" })`,
      `// we never update activities here\n/* nor DELETE FROM contacts */`,
      `fetch("https://example.org/update/activities")`,
      `const a = activities;\nd.select().from(a)`,
    ];
    for (const r of reads) expect(writesIn(r), r).toEqual([]);

    const file = "src/webhooks/x.ts";
    const imports = importsOf(
      file,
      [
        `import { ingest } from "../org-inbox/ingest";`,
        `import type { IngestInput } from "../org-inbox/ingest";`,
        `import { type CallDetails } from "../org-inbox/calls";`,
        `import {\n  settleSend,\n  type SendResult,\n} from "../org-inbox/delivery";`,
        `export { claimSend } from "../org-inbox/delivery";`,
        `const m = await import("../org-inbox/state");`,
      ].join("\n"),
    );
    expect(imports).toEqual([
      { target: `${INBOX}ingest.ts`, typeOnly: false },
      { target: `${INBOX}ingest.ts`, typeOnly: true },
      { target: `${INBOX}calls.ts`, typeOnly: true },
      { target: `${INBOX}delivery.ts`, typeOnly: false },
      { target: `${INBOX}delivery.ts`, typeOnly: false },
      { target: `${INBOX}state.ts`, typeOnly: false },
    ]);
  });
});

// One resolver names the databases (SPEC 14): src/db/shards.ts is the only module that reads
// a D1 binding off the env (DB, or a shard by its name) or makes a drizzle handle of one
// (src/db/client.ts's wrap); everything else is handed a Db by it.
const RESOLVER = "src/db/shards.ts";

/** Where `text` reaches a D1 binding itself. */
function bindingReadsIn(text: string): string[] {
  const code = withoutComments(text);
  const found: string[] = [];
  for (const m of code.matchAll(/\.(DB|SHARD_\d+)\b|(?<=[\w$)\]])\s*\[\s*["'`](DB|SHARD_\d+)["'`]\s*\]/g)) found.push(m[0]);
  for (const m of code.matchAll(/\bdrizzle\(|\bwrap\(/g)) found.push(m[0]);
  return found;
}

describe("one resolver names the databases", () => {
  it("no file but src/db/shards.ts (and the handle maker, src/db/client.ts) reads a D1 binding or wraps one", () => {
    const outside = Object.fromEntries(
      Object.entries(sources)
        .filter(([file]) => file !== RESOLVER && file !== "src/db/client.ts" && file !== "src/worker-configuration.d.ts")
        .map(([file, text]) => [file, bindingReadsIn(text)])
        .filter(([, reads]) => reads.length > 0),
    );
    expect(outside).toEqual({});
    expect(bindingReadsIn(sources[RESOLVER]).length).toBeGreaterThan(0);
  });

  it("the check catches what it is for (planted violations)", () => {
    for (const v of [`drizzle(env.DB)`, `c.env.SHARD_1.prepare("SELECT 1")`, `env["SHARD_0"]`, `wrap(d1)`, `const d = env.DB;`])
      expect(bindingReadsIn(v), v).not.toEqual([]);
    for (const ok of [
      `controlDb(c.env)`,
      `await shardDb(env, orgId)`,
      `// env.DB is read in src/db/shards.ts`,
      `settings(env).shards`,
      `"SHARD_0,SHARD_1"`,
      `fallback: ["SHARD_0"]`,
    ])
      expect(bindingReadsIn(ok), ok).toEqual([]);
  });
});
