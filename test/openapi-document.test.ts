import { describe, expect, it } from "vitest";
import { call, expectProblem, json, newOrg } from "./helpers";

// The document is for generators (openapi-typescript, SDK builders) as much as for
// people: stable operation ids, explicit security, no accidental nulls, typed queries.
// scripts/check-client.mjs compiles a client against the generated types.
type Operation = {
  operationId?: string;
  description?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
  responses: Record<string, { content?: Record<string, { schema: Record<string, any> }> }>;
  "x-access"?: string;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, any>>; securitySchemes: Record<string, Record<string, string>> };
};

const document = async () => json<Doc>(await call("/openapi.json"));
const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op })));

describe("/openapi.json for generators", () => {
  it("every operation has a unique camelCase operationId", async () => {
    const ops = operations(await document());
    expect(ops.length).toBeGreaterThan(30);
    const ids = ops.map(({ key, op }) => {
      expect(op.operationId, key).toMatch(/^[a-z][a-zA-Z0-9]*$/);
      return op.operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
    // A few that clients already call by name.
    expect(ids).toEqual(expect.arrayContaining(["listConversations", "getConversation", "sendMessage", "ingestActivity", "listViews", "replaceViews"]));
  });

  it("every operation declares its security: bearer with x-access, none for public routes, their own scheme for webhooks", async () => {
    const doc = await document();
    expect(doc.components.securitySchemes).toMatchObject({
      bearerAuth: { type: "http", scheme: "bearer" },
      twilioSignature: { type: "apiKey", in: "header", name: "X-Twilio-Signature" },
      postmarkBasic: { type: "http", scheme: "basic" },
      operatorToken: { type: "http", scheme: "bearer" },
    });
    const open = ["GET /health", "GET /openapi.json", "GET /docs", "GET /media/{media_id}"];
    for (const { key, path, op } of operations(doc)) {
      expect(op.security, key).toBeDefined();
      if (open.includes(key)) expect(op.security, key).toEqual([]);
      else if (path.startsWith("/webhooks/twilio/")) expect(op.security, key).toEqual([{ twilioSignature: [] }]);
      else if (path.startsWith("/webhooks/postmark/")) expect(op.security, key).toEqual([{ postmarkBasic: [] }]);
      else if (path.startsWith("/operator/")) expect(op.security, key).toEqual([{ operatorToken: [] }]);
      else {
        expect(op.security, key).toEqual([{ bearerAuth: [] }]);
        expect(["user", "member", "admin"], key).toContain(op["x-access"]);
      }
    }
    expect(operations(doc).map((o) => o.key)).toEqual(expect.arrayContaining(open));
  });

  it("no component schema admits null; null sits on the property that can be null", async () => {
    const doc = await document();
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      const text = JSON.stringify({ type: schema.type, anyOf: schema.anyOf, oneOf: schema.oneOf, nullable: schema.nullable });
      expect(text, name).not.toContain("null");
    }
    // A timeline item is a Message or a Suggestion, told apart by `type`; never null.
    const items = doc.components.schemas.MessageList.properties.data.items;
    expect(items.oneOf ?? items.anyOf).toEqual([{ $ref: "#/components/schemas/Message" }, { $ref: "#/components/schemas/Suggestion" }]);
    expect(JSON.stringify(items)).not.toContain("null");
    expect(doc.components.schemas.ConversationDetail.allOf[1].properties.pending_suggestion).toEqual({
      anyOf: [{ $ref: "#/components/schemas/Suggestion" }, { type: "null" }],
    });
    expect(doc.components.schemas.Sla.properties.business_hours).toEqual({ anyOf: [{ $ref: "#/components/schemas/BusinessHours" }, { type: "null" }] });
  });

  it("query integers and booleans are documented as integer and boolean", async () => {
    const doc = await document();
    const params = Object.fromEntries(doc.paths["/conversations"].get.parameters!.map((p) => [p.name, p.schema]));
    expect(params.limit).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 25 });
    for (const b of ["archived", "overdue", "starred", "unread"]) {
      expect(params[b], b).toMatchObject({ type: "boolean" });
      expect(params[b].enum, b).toBeUndefined();
    }
    for (const { key, op } of operations(doc)) {
      const limit = op.parameters?.find((p) => p.name === "limit" && p.in === "query");
      if (limit) expect(limit.schema.type, key).toBe("integer");
    }
    const since = doc.paths["/events"].get.parameters!.find((p) => p.name === "since")!;
    expect(since.schema.type).toBe("integer");
  });

  it("the server still reads them strictly: `true`/`false` and plain digits only (SPEC 13)", async () => {
    const org = await newOrg("Strict");
    const get = org.as(org.owner);
    for (const q of ["limit=1e1", "limit=%205", "limit=5%20", "limit=%2B5", "limit=5.0", "limit=", "archived=1", "archived=TRUE", "archived=", "starred=yes"]) {
      await expectProblem(await get(`/conversations?${q}`), 400, "validation_failed");
    }
    expect((await get("/conversations?limit=50&archived=false&starred=true")).status).toBe(200);
    expect((await get("/contacts?limit=007")).status).toBe(200);
  });

  it("documents the precedence of /conversations/media/{media_id} over /conversations/{conversation_id}/…", async () => {
    const doc = await document();
    expect(doc.paths["/conversations/media/{media_id}"].get.description).toMatch(/static segment/);
    const id = doc.paths["/conversations/{conversation_id}"].get.parameters!.find((p) => p.name === "conversation_id")!;
    expect(JSON.stringify(id)).toMatch(/never a conversation id/);
  });
});

describe("/docs offline", () => {
  it("the page loads scripts from this origin only", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    const html = await res.text();
    const srcs = [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
    expect(srcs).toEqual(["/docs/scalar.js"]);
    // Nothing else fetched from elsewhere: no module imports, stylesheets or fonts by URL.
    expect(html).not.toMatch(/\bimport\b[^;]*["']https?:/);
    expect(html).not.toMatch(/(href|src)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).toContain("/openapi.json");
  });

  it("serves the reference's script itself", async () => {
    const res = await call("/docs/scalar.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    const body = await res.text();
    expect(body.length).toBeGreaterThan(1_000_000);
    expect(body).toContain("createApiReference");
  });
});
