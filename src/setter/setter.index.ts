import { and, desc, eq, gte, lt, or, type SQL } from "drizzle-orm";
import { toMessage, toSuggestion } from "../conversations/present";
import { db, type Db } from "../db/client";
import { setterConfigs, trainingPairs, type TrainingPair } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { createRouter } from "../lib/router";
import { iso, isoOrNull } from "../lib/time";
import { inbox } from "../org-inbox/client";
import { generatorName } from "./generator";
import * as r from "./setter.routes";

const toConfig = (row: { mode: "off" | "suggestive"; instructions: string | null; updatedAt: number | null } | undefined, generator: string) => ({
  mode: row?.mode ?? ("off" as const),
  instructions: row?.instructions ?? null,
  generator: generator as "workers-ai" | "openai-compatible" | "none",
  updated_at: isoOrNull(row?.updatedAt ?? null),
});

const getConfig: AppRouteHandler<typeof r.getSetterConfig> = async (c) => {
  const row = await db(c.env).select().from(setterConfigs).where(eq(setterConfigs.orgId, c.get("orgId"))).get();
  return c.json(toConfig(row, generatorName(c.env)), 200);
};

const putConfig: AppRouteHandler<typeof r.putSetterConfig> = async (c) => {
  const b = c.req.valid("json");
  const row = { orgId: c.get("orgId"), mode: b.mode, instructions: b.instructions?.trim() || null, updatedAt: Date.now() };
  await db(c.env).insert(setterConfigs).values(row).onConflictDoUpdate({ target: setterConfigs.orgId, set: row });
  return c.json(toConfig(row, generatorName(c.env)), 200);
};

const toPair = (p: TrainingPair) => ({
  id: p.id,
  conversation_id: p.conversationId,
  suggestion_id: p.suggestionId,
  sent_message_id: p.sentMessageId,
  draft: p.draft,
  sent: p.sent,
  label: p.label,
  similarity: p.similarity,
  context: p.context,
  sent_by: p.sentBy,
  created_at: iso(p.createdAt),
});

/** One chat fine-tuning record (SPEC 8): context as user/assistant turns, the sent text as the answer. */
function toRecord(p: TrainingPair, instructions: string | null) {
  const messages = [
    ...(instructions ? [{ role: "system", content: instructions }] : []),
    ...p.context.map((m) => ({ role: m.role === "contact" ? "user" : "assistant", content: m.body })),
    { role: "assistant", content: p.sent },
  ];
  return { messages, label: p.label, draft: p.draft };
}

function pairsPage(d: Db, orgId: string, filter: SQL | undefined, after: [number, string] | null, limit: number) {
  const t = trainingPairs;
  const keyset = after ? or(lt(t.createdAt, after[0]), and(eq(t.createdAt, after[0]), lt(t.id, after[1]))) : undefined;
  return d
    .select()
    .from(t)
    .where(and(eq(t.orgId, orgId), filter, keyset))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(limit + 1)
    .all();
}

const STREAM_PAGE = 200;

const listPairs: AppRouteHandler<typeof r.listTrainingPairs> = async (c) => {
  const q = c.req.valid("query");
  const d = db(c.env);
  const orgId = c.get("orgId");
  const filter = and(q.label ? eq(trainingPairs.label, q.label) : undefined, q.since ? gte(trainingPairs.createdAt, Date.parse(q.since)) : undefined);
  if (q.format === "jsonl") {
    const config = await d.select({ instructions: setterConfigs.instructions }).from(setterConfigs).where(eq(setterConfigs.orgId, orgId)).get();
    const encoder = new TextEncoder();
    let after: [number, string] | null = null;
    // Page by page as the client reads: an export of any size holds one page in memory.
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const rows = await pairsPage(d, orgId, filter, after, STREAM_PAGE);
        const batch = rows.slice(0, STREAM_PAGE);
        if (batch.length) controller.enqueue(encoder.encode(batch.map((p) => `${JSON.stringify(toRecord(p, config?.instructions ?? null))}\n`).join("")));
        if (rows.length <= STREAM_PAGE) controller.close();
        else after = [batch[batch.length - 1].createdAt, batch[batch.length - 1].id];
      },
    });
    return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" }) as never;
  }
  const limit = q.limit ?? 25;
  const rows = await pairsPage(d, orgId, filter, decodeCursor(q.cursor, timeIdCursor), limit);
  const { data, next_cursor } = page(rows, limit, (last) => [last.createdAt, last.id]);
  return c.json({ data: data.map(toPair), next_cursor }, 200);
};

const createSuggestion: AppRouteHandler<typeof r.createSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const b = c.req.valid("json");
  const draft = await inbox(c.env, orgId).createSuggestion({
    conversationId: c.req.valid("param").conversation_id.toLowerCase(),
    body: b.body,
    channel: b.channel,
    subject: b.subject,
    authorId: c.get("userId"),
  });
  return c.json(toSuggestion(draft!), 201);
};

const sendSuggestion: AppRouteHandler<typeof r.sendSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const p = c.req.valid("param");
  const { activity, media, draft } = await inbox(c.env, orgId).sendSuggestion(p.conversation_id.toLowerCase(), p.activity_id.toLowerCase(), c.get("userId"));
  const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
  return c.json({ suggestion: toSuggestion(draft!), message }, 202);
};

const dismissSuggestion: AppRouteHandler<typeof r.dismissSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const p = c.req.valid("param");
  const draft = await inbox(c.env, orgId).dismissSuggestion(p.conversation_id.toLowerCase(), p.activity_id.toLowerCase(), c.get("userId"));
  return c.json(toSuggestion(draft), 200);
};

export const setterRouter = createRouter()
  .openapi(r.getSetterConfig, getConfig)
  .openapi(r.putSetterConfig, putConfig)
  .openapi(r.listTrainingPairs, listPairs)
  .openapi(r.createSuggestion, createSuggestion)
  .openapi(r.sendSuggestion, sendSuggestion)
  .openapi(r.dismissSuggestion, dismissSuggestion);
