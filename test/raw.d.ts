// Vite's `?raw` imports (a file's text), used to read wrangler.toml in tests.
declare module "*?raw" {
  const text: string;
  export default text;
}

// Vite's import.meta.glob (test/architecture.test.ts reads every source file as text).
interface ImportMeta {
  glob<T = unknown>(pattern: string | string[], options?: { query?: string; import?: string; eager?: boolean }): Record<string, T>;
}
