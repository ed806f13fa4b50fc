// The Scalar API reference's browser bundle is imported as text: wrangler.toml's
// [[rules]] type "Text" (wrangler, and the vitest pool, which reads the same rules).
declare module "*/api-reference/dist/browser/standalone.js" {
  const source: string;
  export default source;
}
