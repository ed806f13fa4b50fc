import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Actor, actor, call, expectProblem, fillPath, json, newOrg, orgWithOneOfEach, shardOf } from "./helpers";

// The authorization matrix, generated from /openapi.json so that a new route cannot
// escape it: every bearer route is called with no token, as a non-member, as an agent
// when it is owner/admin only, and from another org with this org's ids.
type Route = { method: string; path: string; access: "user" | "member" | "admin"; json: boolean };

async function bearerRoutes(): Promise<Route[]> {
  const doc = (await json(await call("/openapi.json"))) as { paths: Record<string, Record<string, any>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.security?.some((scheme: object) => "bearerAuth" in scheme))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, access: op["x-access"], json: Boolean(op.requestBody?.content?.["application/json"]) })),
  );
}

/** Valid bodies where the 404 check must get past validation (a route with ids and a JSON body). */
const BODIES: Record<string, unknown> = {
  "PUT /members/{user_id}": { role: "agent" },
  "PATCH /contacts/{contact_id}": { name: "Renamed" },
  "POST /conversations/{conversation_id}/messages": { type: "note", body: "not yours" },
  "POST /conversations/{conversation_id}/archive": { archived: true },
  "POST /conversations/{conversation_id}/snooze": { until: new Date(Date.now() + 86_400_000).toISOString() },
  "POST /conversations/{conversation_id}/assign": { assigned_to: null },
  "POST /conversations/{conversation_id}/suggestions": { body: "not yours" },
  "PATCH /webhook-endpoints/{endpoint_id}": { enabled: false },
  "PATCH /templates/{template_id}": { name: "Renamed" },
  "PATCH /labels/{label_id}": { name: "Renamed" },
  "PUT /conversations/{conversation_id}/labels": { label_ids: [] },
};
/** Ids that are not org resources: adding any user to your own org is allowed. */
const NOT_ORG_SCOPED = new Set(["PUT /members/{user_id}"]);

const orgA = () => orgWithOneOfEach("A", "+14155559401");

async function snapshot(orgId: string) {
  const control = ["members", "channel_routes"];
  const tables = [
    "channels",
    "contacts",
    "conversations",
    "activities",
    "views",
    "media",
    "training_pairs",
    "setter_configs",
    "sla_configs",
    "webhook_endpoints",
    "webhook_deliveries",
    "templates",
    "labels",
    "conversation_labels",
  ];
  const out: Record<string, unknown> = {};
  for (const t of control) out[t] = (await env.DB.prepare(`SELECT * FROM ${t} WHERE org_id = ? ORDER BY 1`).bind(orgId).all()).results;
  const shard = await shardOf(orgId);
  for (const t of tables) {
    out[t] = (await shard.prepare(`SELECT * FROM ${t} WHERE org_id = ? ORDER BY 1`).bind(orgId).all()).results;
  }
  return out;
}

describe("authorization matrix (from /openapi.json)", () => {
  it("covers every bearer route: no token 401, non-member 403, agent on owner/admin routes 403, another org's ids 404, nothing changed", async () => {
    const routes = await bearerRoutes();
    expect(routes.length).toBeGreaterThan(30);
    const { org, agent, ids } = await orgA();
    const stranger = await actor();
    const b = await newOrg("B");
    const before = await snapshot(org.orgId);
    const checked: string[] = [];

    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      const url = fillPath(r.path, ids);
      const headers: Record<string, string> = r.path === "/events" ? { upgrade: "websocket" } : {};
      const body = r.json ? (BODIES[key] ?? {}) : undefined;
      const send = (who: Actor | null, orgId: string | undefined) => call(url, { method: r.method, token: who?.token, org: orgId, headers, body });

      await expectProblem(await send(null, org.orgId), 401, "unauthenticated");
      if (r.access === "user") {
        checked.push(key);
        continue;
      }
      await expectProblem(await send(stranger, org.orgId), 403, "forbidden");
      if (r.access === "admin") await expectProblem(await send(agent, org.orgId), 403, "forbidden");
      if (r.path.includes("{") && !NOT_ORG_SCOPED.has(key)) {
        if (r.json && r.method !== "GET" && !(key in BODIES)) throw new Error(`${key} needs a valid body in BODIES for its 404 check`);
        const res = await send(b.owner, b.orgId);
        await expectProblem(res, 404, "not_found");
      }
      checked.push(key);
    }
    expect(checked).toHaveLength(routes.length);
    // A route without an id in its path that names ids in its body: another org's are each 404.
    const bulk = await call("/conversations/bulk", {
      token: b.owner.token,
      org: b.orgId,
      body: { action: "archive", conversation_ids: [ids.conversation_id] },
    });
    expect(bulk.status).toBe(200);
    expect((await json(bulk)).results).toMatchObject([{ conversation_id: ids.conversation_id, status: 404, error: { code: "not_found" } }]);
    // The document's access levels are what SPEC fixes (so a route cannot be loosened silently).
    expect(
      routes
        .filter((r) => r.access === "admin")
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(
      [
        "PUT /members/{user_id}",
        "DELETE /members/{user_id}",
        "POST /channels",
        "DELETE /channels/{channel_id}",
        "POST /activities",
        "POST /activities/batch",
        "GET /activities",
        "GET /conversations/export",
        "PUT /conversations/sla",
        "GET /setter/config",
        "PUT /setter/config",
        "GET /setter/training-pairs",
        "GET /webhooks/unroutable",
        "GET /webhook-endpoints",
        "POST /webhook-endpoints",
        "GET /webhook-endpoints/{endpoint_id}",
        "PATCH /webhook-endpoints/{endpoint_id}",
        "DELETE /webhook-endpoints/{endpoint_id}",
        "POST /webhook-endpoints/{endpoint_id}/rotate-secret",
        "GET /webhook-endpoints/{endpoint_id}/deliveries",
        "POST /webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
        "POST /templates",
        "PATCH /templates/{template_id}",
        "DELETE /templates/{template_id}",
        "POST /labels",
        "PATCH /labels/{label_id}",
        "DELETE /labels/{label_id}",
      ].sort(),
    );
    expect(routes.filter((r) => r.access === "user").map((r) => `${r.method} ${r.path}`)).toEqual(["POST /orgs"]);
    expect(await snapshot(org.orgId)).toEqual(before);
  }, 60_000);
});
