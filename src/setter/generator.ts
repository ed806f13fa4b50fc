import type { Bindings } from "../env";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };
export type GeneratorName = "workers-ai" | "openai-compatible" | "none";

export interface Generator {
  name: Exclude<GeneratorName, "none">;
  /** The model's reply text; throws on a timeout, a refusal or an empty answer. */
  complete(messages: ChatMessage[], opts: { maxTokens: number }): Promise<string>;
}

export const DEFAULT_AI_MODEL = "@cf/meta/llama-3.1-8b-instruct";
const DEFAULT_TIMEOUT_MS = 20_000;

export class GeneratorError extends Error {}

const timeoutMs = (env: Bindings) => Number(env.LLM_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS;

function nonEmpty(text: unknown): string {
  if (typeof text !== "string" || !text.trim()) throw new GeneratorError("the model answered no text");
  return text.trim();
}

/** An OpenAI-compatible `/chat/completions` (OpenAI, Groq, Together, Ollama, vLLM, …). */
function openAiCompatible(env: Bindings, baseUrl: string): Generator {
  return {
    name: "openai-compatible",
    async complete(messages, { maxTokens }) {
      const res = await fetch(`${baseUrl.replace(/\/$/, "")}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(env.LLM_API_KEY ? { authorization: `Bearer ${env.LLM_API_KEY}` } : {}) },
        body: JSON.stringify({ model: env.LLM_MODEL ?? "gpt-4o-mini", messages, max_tokens: maxTokens, temperature: 0.3 }),
        signal: AbortSignal.timeout(timeoutMs(env)),
      });
      if (!res.ok) throw new GeneratorError(`LLM answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const body = (await res.json().catch(() => null)) as { choices?: { message?: { content?: unknown } }[] } | null;
      return nonEmpty(body?.choices?.[0]?.message?.content);
    },
  };
}

/** The Workers AI binding (no local mode: tests hand in a stub). */
function workersAi(env: Bindings, ai: Ai): Generator {
  return {
    name: "workers-ai",
    async complete(messages, { maxTokens }) {
      const run = ai.run(env.AI_MODEL ?? DEFAULT_AI_MODEL, { messages, max_tokens: maxTokens }) as Promise<unknown>;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GeneratorError("Workers AI timed out")), timeoutMs(env));
      });
      try {
        const out = (await Promise.race([run, timeout])) as { response?: unknown; choices?: { message?: { content?: unknown } }[] };
        return nonEmpty(out?.response ?? out?.choices?.[0]?.message?.content);
      } finally {
        if (timer !== undefined) clearTimeout(timer);
      }
    },
  };
}

/**
 * The LLM in use: an explicit `LLM_BASE_URL` wins (it is opt-in per deployment),
 * else the `AI` binding when bound, else none.
 */
export function generatorFor(env: Bindings): Generator | null {
  if (env.LLM_BASE_URL) return openAiCompatible(env, env.LLM_BASE_URL);
  if (env.AI) return workersAi(env, env.AI);
  return null;
}

export const generatorName = (env: Bindings): GeneratorName => generatorFor(env)?.name ?? "none";
