import { type Settings, settings } from "../config/settings";
import type { Bindings } from "../env";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };
export type GeneratorName = "workers-ai" | "openai-compatible" | "none";

export interface Generator {
  name: Exclude<GeneratorName, "none">;
  /** The model's reply text; throws on a timeout, a refusal or an empty answer. */
  complete(messages: ChatMessage[], opts: { maxTokens: number }): Promise<string>;
}

export class GeneratorError extends Error {}

function nonEmpty(text: unknown): string {
  if (typeof text !== "string" || !text.trim()) throw new GeneratorError("the model answered no text");
  return text.trim();
}

/** An OpenAI-compatible `/chat/completions` (OpenAI, Groq, Together, Ollama, vLLM, …). */
function openAiCompatible(config: Settings, baseUrl: string): Generator {
  return {
    name: "openai-compatible",
    async complete(messages, { maxTokens }) {
      const res = await fetch(`${baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(config.llmApiKey ? { authorization: `Bearer ${config.llmApiKey}` } : {}) },
        body: JSON.stringify({ model: config.llmModel, messages, max_tokens: maxTokens, temperature: 0.3 }),
        signal: AbortSignal.timeout(config.llmTimeoutMs),
      });
      if (!res.ok) throw new GeneratorError(`LLM answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const body = (await res.json().catch(() => null)) as { choices?: { message?: { content?: unknown } }[] } | null;
      return nonEmpty(body?.choices?.[0]?.message?.content);
    },
  };
}

/** The Workers AI binding (no local mode: tests hand in a stub). */
function workersAi(config: Settings, ai: Ai): Generator {
  return {
    name: "workers-ai",
    async complete(messages, { maxTokens }) {
      const run = ai.run(config.aiModel, { messages, max_tokens: maxTokens }) as Promise<unknown>;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GeneratorError("Workers AI timed out")), config.llmTimeoutMs);
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
  const config = settings(env);
  if (config.llmBaseUrl) return openAiCompatible(config, config.llmBaseUrl);
  if (env.AI) return workersAi(config, env.AI);
  return null;
}

export const generatorName = (env: Bindings): GeneratorName => generatorFor(env)?.name ?? "none";
