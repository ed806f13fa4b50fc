// Helpers shared by the local scripts (dev, token, bench). Node 22, no Worker code.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { SignJWT } from "jose";

/** .dev.vars as an object, created from .dev.vars.example on first run. */
export function devVars() {
  if (!existsSync(".dev.vars")) {
    copyFileSync(".dev.vars.example", ".dev.vars");
    console.log("Created .dev.vars from .dev.vars.example");
  }
  const vars = {};
  for (const line of readFileSync(".dev.vars", "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (m) vars[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

/** `--name value` of the command line, else `fallback`. */
export const cliOption = (name, fallback, args = process.argv.slice(2)) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

/**
 * The bearer token of a script that calls the API at `base` (import, export): --token or
 * INBOX_TOKEN; locally, with neither, the demo owner's (or --user's), signed with .dev.vars'
 * secret. Without one it exits (2), saying so.
 */
export async function scriptBearer(base) {
  const given = cliOption("token") ?? process.env.INBOX_TOKEN;
  if (given) return given;
  if (/^https?:\/\/(localhost|127\.0\.0\.1)/.test(base) && devVars().AUTH_JWT_SECRET) {
    return signToken(cliOption("user", "01936a00-0000-7000-8000-0000000000a1"));
  }
  console.error("a bearer token is needed: --token or INBOX_TOKEN (an owner or admin of the org)");
  process.exit(2);
}

/** An HS256 token for `userId`, signed with the local AUTH_JWT_SECRET. */
export async function signToken(userId, { days = 30, claims = {} } = {}) {
  const secret = process.env.AUTH_JWT_SECRET ?? devVars().AUTH_JWT_SECRET;
  if (!secret) throw new Error("AUTH_JWT_SECRET is not set in .dev.vars");
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(`${days}d`)
    .sign(new TextEncoder().encode(secret));
}

/**
 * The D1 bindings of wrangler.toml, in order, with what `wrangler d1 migrations apply` reads
 * of each ([[d1_databases]] blocks: binding, migrations_dir, migrations_table). A small
 * reader for this file's own layout, not a TOML parser.
 */
export function d1Bindings(file = "wrangler.toml") {
  const out = [];
  let current = null;
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    if (/^\[\[?[^\]]+\]\]?$/.test(line)) {
      current = line === "[[d1_databases]]" ? {} : null;
      if (current) out.push(current);
      continue;
    }
    const m = /^([A-Za-z_]+)\s*=\s*"([^"]*)"$/.exec(line);
    if (current && m) current[m[1]] = m[2];
  }
  return out.map((b) => ({
    binding: b.binding,
    database: b.database_name,
    dir: b.migrations_dir ?? "migrations",
    table: b.migrations_table ?? "d1_migrations",
  }));
}
