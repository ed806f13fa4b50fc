// Writes the Worker's OpenAPI document to a file, offline and without a server: the
// app is imported under Node (tsx compiles the TypeScript) and asked for
// GET /openapi.json in-process, so the file is exactly what the Worker serves. Two
// Worker-only imports are stubbed: `cloudflare:workers` (OrgInbox extends
// DurableObject; nothing runs it here) and the /docs page's script (a wrangler Text
// module, not JavaScript to evaluate).
//   node scripts/openapi-dump.mjs [out-file]      default: .openapi/openapi.json
// Used by `npm run lint:openapi` and `npm run check:client`.
import { mkdirSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { dirname, resolve } from "node:path";
import { tsImport } from "tsx/esm/api";

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers")
    return { url: "data:text/javascript,export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }", shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (/\\/api-reference\\/dist\\/browser\\/standalone\\.js(\\?|$)/.test(url))
    return { format: "module", source: "export default '';", shortCircuit: true };
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

const out = resolve(process.argv[2] ?? ".openapi/openapi.json");
const { createApp } = await tsImport("../src/app.ts", import.meta.url);
// The local base URL of wrangler.toml's [vars]; a deployment's document names its own.
const env = { PUBLIC_BASE_URL: "http://localhost:8787" };
const log = console.log;
console.log = () => {}; // the request log line
const res = await createApp().request("/openapi.json", {}, env);
console.log = log;
if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
const doc = await res.json();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
console.log(`wrote ${out}: ${operations} operations`);
