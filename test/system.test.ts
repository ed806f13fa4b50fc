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
});
