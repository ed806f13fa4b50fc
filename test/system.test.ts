import { describe, expect, it } from "vitest";
import { call, expectProblem } from "./helpers";

describe("system routes", () => {
  it("GET /health answers without a token", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it("every response carries X-Request-Id; a well-formed client id is kept, a bad one replaced", async () => {
    const kept = await call("/health", { headers: { "x-request-id": "abc.DEF_123-x" } });
    expect(kept.headers.get("x-request-id")).toBe("abc.DEF_123-x");
    const replaced = await call("/health", { headers: { "x-request-id": "bad id with spaces" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await call("/nope");
    expect(problem.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("unknown routes are 404 not_found problem+json", async () => {
    await expectProblem(await call("/no/such/route"), 404, "not_found");
    await expectProblem(await call("/health", { method: "DELETE" }), 404, "not_found");
  });

  it("GET /docs serves the interactive reference", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("/openapi.json");
  });

  it("/openapi.json is OpenAPI 3.1 and describes every route of the contract", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const r of [
      "GET /conversations",
      "GET /conversations/{conversation_id}",
      "GET /conversations/{conversation_id}/messages",
      "POST /conversations/{conversation_id}/messages",
      "POST /conversations/{conversation_id}/read",
      "GET /conversations/views/counts",
      "PUT /conversations/sla",
      "GET /conversations/overdue/count",
      "GET /setter/config",
      "PUT /setter/config",
      "POST /conversations/{conversation_id}/suggestions",
      "POST /conversations/{conversation_id}/suggestions/{activity_id}/send",
      "POST /conversations/{conversation_id}/suggestions/{activity_id}/dismiss",
      "GET /setter/training-pairs",
      "POST /activities",
      "POST /webhooks/twilio/messages",
      "GET /events",
    ]) {
      expect(routes).toContain(r);
    }
  });
});
