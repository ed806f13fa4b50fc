import { z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
// The pinned @scalar/api-reference browser bundle (one UMD file that registers
// window.Scalar), a Text module by wrangler.toml's [[rules]]: served by the Worker
// itself, so /docs renders with no CDN (offline, locally and in dev).
import scalarBundle from "../../node_modules/@scalar/api-reference/dist/browser/standalone.js";
import { publicRoute } from "../http/route";
import { createRouter } from "../http/router";

export const SCALAR_BUNDLE_PATH = "/docs/scalar.js";

/** Documented here; app.doc31 in src/app.ts serves it. */
export const openApiDocument = publicRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "getOpenApiDocument",
  tags: ["System"],
  summary: "This OpenAPI 3.1 document (no auth)",
  description: "Generated from the same zod schemas that validate requests.",
  responses: {
    200: { description: "The OpenAPI document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
  },
});

export const docs = publicRoute({
  method: "get",
  path: "/docs",
  operationId: "getApiReference",
  tags: ["System"],
  summary: "Interactive API reference (no auth)",
  description: "An HTML page; its script (`/docs/scalar.js`) is served by the Worker too, so it needs no CDN.",
  responses: { 200: { description: "The reference page", content: { "text/html": { schema: z.string() } } } },
});

const reference = Scalar({
  url: "/openapi.json",
  pageTitle: "Inbox API reference",
  // A `cdn` URL makes the page load the single-file bundle with a plain <script src>.
  cdn: SCALAR_BUNDLE_PATH,
  // Nothing from elsewhere: no web fonts (system fonts instead), no telemetry, and none
  // of Scalar's hosted extras (AI chat, MCP generation, the developer toolbar),
  // which would send this document to Scalar's servers.
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
});

export const docsRouter = createRouter();
// In the document like every route of SPEC 11 (served by the plain handlers below).
docsRouter.openAPIRegistry.registerPath(openApiDocument);
docsRouter.openAPIRegistry.registerPath(docs);
docsRouter.get(docs.path, reference);
// The page's script: an asset of /docs, not an API operation (left out of the document).
docsRouter.get(SCALAR_BUNDLE_PATH, (c) =>
  c.body(scalarBundle, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=3600" }),
);
