import { and, eq, gte } from "drizzle-orm";
import { toMessage, toSuggestion } from "../conversations/present";
import { setterConfigs, trainingPairs } from "../db/schema";
import type { AppRouteHandler } from "../env";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { inbox, inOrgShard } from "../org-inbox/client";
import { generatorName } from "./generator";
import { toConfig, toPair, toRecord } from "./present";
import { pairsPage, setterConfigOf } from "./queries";
import type * as routes from "./setter.routes";

export const getConfig: AppRouteHandler<typeof routes.getSetterConfig> = async (c) => {
  const row = await setterConfigOf(c.var.db, c.get("orgId"));
  return c.json(toConfig(row, generatorName(c.env)), 200);
};

export const putConfig: AppRouteHandler<typeof routes.putSetterConfig> = async (c) => {
  const body = c.req.valid("json");
  const row = { orgId: c.get("orgId"), mode: body.mode, instructions: body.instructions?.trim() || null, updatedAt: Date.now() };
  await inOrgShard(c.env, row.orgId, c.var.db, (db) => db.insert(setterConfigs).values(row).onConflictDoUpdate({ target: setterConfigs.orgId, set: row }));
  return c.json(toConfig(row, generatorName(c.env)), 200);
};

const STREAM_PAGE = 200;

export const listPairs: AppRouteHandler<typeof routes.listTrainingPairs> = async (c) => {
  const query = c.req.valid("query");
  const db = c.var.db;
  const orgId = c.get("orgId");
  const filter = and(
    query.label ? eq(trainingPairs.label, query.label) : undefined,
    query.since ? gte(trainingPairs.createdAt, Date.parse(query.since)) : undefined,
  );
  if (query.format === "jsonl") {
    const config = await setterConfigOf(db, orgId);
    const encoder = new TextEncoder();
    let after: [number, string] | null = null;
    // Page by page as the client reads: an export of any size holds one page in memory.
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const rows = await pairsPage(db, orgId, filter, after, STREAM_PAGE);
        const batch = rows.slice(0, STREAM_PAGE);
        if (batch.length) controller.enqueue(encoder.encode(batch.map((p) => `${JSON.stringify(toRecord(p, config?.instructions ?? null))}\n`).join("")));
        if (rows.length <= STREAM_PAGE) controller.close();
        else after = [batch[batch.length - 1].createdAt, batch[batch.length - 1].id];
      },
    });
    return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" }) as never;
  }
  const limit = query.limit ?? 25;
  const rows = await pairsPage(db, orgId, filter, decodeCursor(query.cursor, timeIdCursor), limit);
  const { data, next_cursor } = page(rows, limit, (last) => [last.createdAt, last.id]);
  return c.json({ data: data.map(toPair), next_cursor }, 200);
};

export const createSuggestion: AppRouteHandler<typeof routes.createSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const body = c.req.valid("json");
  const draft = await inbox(c.env, orgId).createSuggestion({
    conversationId: c.req.valid("param").conversation_id.toLowerCase(),
    body: body.body,
    channel: body.channel,
    subject: body.subject,
    authorId: c.get("userId"),
  });
  return c.json(toSuggestion(draft!), 201);
};

export const sendSuggestion: AppRouteHandler<typeof routes.sendSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const params = c.req.valid("param");
  const { activity, media, draft } = await inbox(c.env, orgId).sendSuggestion(
    params.conversation_id.toLowerCase(),
    params.activity_id.toLowerCase(),
    c.get("userId"),
  );
  const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
  return c.json({ suggestion: toSuggestion(draft!), message }, 202);
};

export const dismissSuggestion: AppRouteHandler<typeof routes.dismissSuggestion> = async (c) => {
  const orgId = c.get("orgId");
  const params = c.req.valid("param");
  const draft = await inbox(c.env, orgId).dismissSuggestion(params.conversation_id.toLowerCase(), params.activity_id.toLowerCase(), c.get("userId"));
  return c.json(toSuggestion(draft), 200);
};
