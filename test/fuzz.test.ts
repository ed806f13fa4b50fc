import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addMember, call, ingestOk, json, newOrg } from "./helpers";

// Property tests over every JSON route of /openapi.json: whatever the body, query or
// headers, the answer is never a 5xx, every refusal is problem+json, and a refused
// request leaves the org exactly as it was.
type Op = { method: string; path: string; json: boolean; params: { name: string; in: string }[] };

async function operations(): Promise<Op[]> {
  const doc = (await json(await call("/openapi.json"))) as { paths: Record<string, Record<string, any>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.security?.length && path !== "/events")
      .map(([method, op]) => ({ method: method.toUpperCase(), path, json: Boolean(op.requestBody?.content?.["application/json"]), params: op.parameters ?? [] })),
  );
}

/** A fresh org per route (the per-org rate limit stays out of the way), with an id for every path parameter. */
async function world() {
  const org = await newOrg("Fuzz");
  const agent = await addMember(org, "agent");
  const as = org.as(org.owner);
  const channel = await json(await as("/channels", { body: { kind: "sms", address: `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`, provider: "log" } }));
  const { message } = await ingestOk(org, { contact: { phone: "+14155559701" } });
  const draft = await json(await as(`/conversations/${message.conversation_id}/suggestions`, { body: { body: "Draft" } }));
  const ids: Record<string, string> = {
    user_id: agent.userId,
    channel_id: channel.id,
    contact_id: message.contact_id,
    conversation_id: message.conversation_id,
    activity_id: draft.id,
    media_id: crypto.randomUUID(),
  };
  return { org, ids };
}

/** Everything an org owns, summarized: equal before and after means nothing was written. */
async function fingerprint(orgId: string) {
  const tables = ["members", "channels", "contacts", "conversations", "activities", "views", "media", "training_pairs", "setter_configs", "sla_configs"];
  const parts = await Promise.all(
    tables.map(async (t) => {
      const cols = t === "members" || t === "setter_configs" || t === "sla_configs" ? "COUNT(*) AS n" : "COUNT(*) AS n, MAX(id) AS last";
      const updated = ["members", "contacts", "conversations", "activities", "views", "setter_configs", "sla_configs"].includes(t) ? ", MAX(updated_at) AS u, SUM(updated_at) AS s" : "";
      return env.DB.prepare(`SELECT ${cols}${updated} FROM ${t} WHERE org_id = ?`).bind(orgId).first();
    }),
  );
  return JSON.stringify(parts);
}

const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.constantFrom("", " ", "null", "true", "-1", "0", "1e309", "\u0000", "😀".repeat(300), "x".repeat(5000)));
const jsonValue = fc.oneof(fc.jsonValue(), text, fc.constant(null));
const bodyArb = fc.oneof(
  fc.dictionary(fc.constantFrom("type", "body", "subject", "html", "media_ids", "name", "phone", "email", "role", "kind", "address", "provider", "mode", "instructions", "archived", "assigned_to", "channel", "views", "filters", "enabled", "first_response_minutes", "business_hours", "contact", "direction", "call", "occurred_at", "extra"), jsonValue),
  jsonValue,
);
const queryArb = fc.dictionary(fc.constantFrom("limit", "cursor", "archived", "starred", "unread", "overdue", "scope", "assigned_to", "contact_id", "view", "q", "order", "include", "label", "since", "format", "x"), text, { maxKeys: 4 });
const headerArb = fc.record(
  {
    "content-type": fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", "multipart/form-data", "", "application/x-www-form-urlencoded"),
    "idempotency-key": fc.oneof(text, fc.constant('""')),
    "x-request-id": text,
  },
  { requiredKeys: [] },
);

const fill = (path: string, ids: Record<string, string>) => path.replace(/\{(\w+)\}/g, (_, n: string) => ids[n]);
const safeHeader = (v: string) => /^[\t\x20-\x7e]*$/.test(v);

describe("fuzzing every bearer route (fast-check)", () => {
  it("no 5xx, every refusal problem+json, nothing stored on refusal", async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(30);
    let requests = 0;
    for (const op of ops) {
      const { org, ids } = await world();
      const url = fill(op.path, ids);
      await fc.assert(
        fc.asyncProperty(fc.option(bodyArb, { nil: undefined }), queryArb, headerArb, fc.boolean(), async (body, query, headers, raw) => {
          const qs = new URLSearchParams(query).toString();
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && safeHeader(v)) h[k] = v;
          const before = await fingerprint(org.orgId);
          const res = await call(`${url}${qs ? `?${qs}` : ""}`, {
            method: op.method,
            token: org.owner.token,
            org: org.orgId,
            headers: h,
            ...(op.method === "GET" || op.method === "DELETE" ? {} : raw ? { raw: typeof body === "string" ? body : JSON.stringify(body ?? null).slice(0, -1) } : { body }),
          });
          requests++;
          const answer = await res.text();
          expect(res.status, `${op.method} ${url}?${qs} → ${answer}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get("content-type"), answer).toContain("application/problem+json");
            const p = JSON.parse(answer);
            expect(typeof p.code).toBe("string");
            expect(p.status).toBe(res.status);
            expect(await fingerprint(org.orgId), `${op.method} ${url} refused (${res.status}) but wrote`).toBe(before);
          }
        }),
        { numRuns: op.json ? 30 : 12, seed: 20261124 },
      );
    }
    expect(requests).toBeGreaterThan(500);
  }, 240_000);
});
