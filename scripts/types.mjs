// The Worker's binding types, generated from wrangler.toml by the pinned wrangler:
//   node scripts/types.mjs           writes src/worker-configuration.d.ts (npm run types)
//   node scripts/types.mjs --check   regenerates into a temporary file beside it and fails
//                                    with a diff when the checked-in file differs (npm run
//                                    check:types, in CI). Offline: wrangler reads only files.
// Flags: the runtime's types stay @cloudflare/workers-types (tsconfig "types"), so only the
// Env is generated (--include-runtime=false); vars are `string`, not their local literal
// values (--strict-vars=false); and no .dev.vars is read (--env-file=/dev/null), so a
// developer's local secrets never reach the file: secrets are typed in src/env.ts.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = "src/worker-configuration.d.ts";
const FLAGS = ["--include-runtime=false", "--strict-vars=false", "--env-file=/dev/null"];

function generate(out) {
  // The project's node (the "node" devDependency) runs wrangler, as under `npm run`.
  const env = { ...process.env, PATH: `${join(root, "node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}`, WRANGLER_SEND_METRICS: "false" };
  // Either would let the machine's own environment into the generated types.
  delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
  delete env.CLOUDFLARE_ENV;
  const r = spawnSync(join(root, "node_modules/.bin/wrangler"), ["types", out, ...FLAGS], { cwd: root, env, encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`);
    throw new Error(`wrangler types failed (exit ${r.status ?? r.signal ?? r.error}).`);
  }
}

if (!process.argv.includes("--check")) {
  generate(TARGET);
  console.log(`wrote ${TARGET}`);
  process.exit(0);
}

// Beside the target, so the import("./index") paths wrangler writes are the same; only
// the file name in the header line differs, and is put back before comparing.
const tmp = TARGET.replace(/\.d\.ts$/, `.check-${process.pid}.d.ts`);
const current = existsSync(join(root, TARGET)) ? readFileSync(join(root, TARGET), "utf8") : "";
try {
  generate(tmp);
  const fresh = readFileSync(join(root, tmp), "utf8").replaceAll(tmp, TARGET);
  if (fresh === current) {
    console.log(`${TARGET} is up to date with wrangler.toml.`);
  } else {
    writeFileSync(join(root, tmp), fresh);
    console.error(`${TARGET} is stale: run \`npm run types\` and commit the result.`);
    const d = spawnSync("diff", ["-u", "--label", `${TARGET} (checked in)`, "--label", `${TARGET} (from wrangler.toml)`, TARGET, tmp], {
      cwd: root,
      encoding: "utf8",
    });
    process.stderr.write(d.stdout || "(no diff program here: the files differ)\n");
    process.exitCode = 1;
  }
} finally {
  rmSync(join(root, tmp), { force: true });
}
