import type { z } from "@hono/zod-openapi";
import { settings } from "../config/settings";
import { type MessageOut, toMessage } from "../conversations/present";
import { mediaFor } from "../conversations/queries";
import type { AppRouteHandler } from "../env";
import { decodeCursor, page, timeIdCursor } from "../lib/cursor";
import { ApiError, fieldErrors, invalid, problemBody } from "../lib/errors";
import { normalizeEmail, requireE164 } from "../lib/phone";
import { inbox, orgInbox } from "../org-inbox/client";
import type { IngestInput } from "../org-inbox/ingest";
import type * as routes from "./activities.routes";
import { IngestBody } from "./activities.routes";
import { changedMessages } from "./queries";

type Body = z.infer<typeof IngestBody>;

/** API body → the ingest input every path shares: addresses normalized, status derived. */
export function toIngestInput(b: Body, region: string | undefined, authorId: string): IngestInput {
  const contact =
    "id" in b.contact
      ? { id: b.contact.id.toLowerCase() }
      : "phone" in b.contact
        ? { phone: requireE164(b.contact.phone, "contact.phone", region), name: b.contact.name }
        : { email: normalizeEmail(b.contact.email), name: b.contact.name };
  const address = (v: string | null | undefined, path: string) => {
    if (!v) return null;
    if (b.type === "sms" || b.type === "call") return requireE164(v, path, region);
    if (b.type === "email") return normalizeEmail(v);
    return v;
  };
  const occurredAt = b.occurred_at ? Date.parse(b.occurred_at) : Date.now();
  if (!Number.isFinite(occurredAt)) throw invalid("occurred_at", "occurred_at is not a valid time");
  const direction = b.type === "note" ? null : b.direction!;
  return {
    contact,
    type: b.type,
    direction,
    status: b.type === "note" ? "logged" : b.type === "call" ? b.call!.status : direction === "inbound" ? "received" : "sent",
    body: b.body,
    subject: b.subject,
    html: b.html,
    from: address(b.from, "from"),
    to: address(b.to, "to"),
    provider: b.provider,
    providerMessageId: b.provider_message_id,
    occurredAt,
    call: b.call
      ? { durationSeconds: b.call.duration_seconds, recordingUrl: b.call.recording_url, transcript: b.call.transcript, summary: b.call.summary }
      : null,
    mediaIds: (b.media_ids ?? []).map((id) => id.toLowerCase()),
    authorId: b.type === "note" || direction === "outbound" ? authorId : null,
  };
}

/**
 * POST /activities/batch (SPEC 15): each item validated on its own (a bad one is its own
 * 400 or 422 result), the valid ones handed to OrgInbox in order in one call, where they
 * join its group commit.
 */
export const ingestBatch: AppRouteHandler<typeof routes.ingestBatch> = async (c) => {
  const orgId = c.get("orgId");
  const region = settings(c.env).defaultPhoneRegion;
  const { activities: items } = c.req.valid("json");
  const results: BatchResult[] = new Array(items.length);
  const valid: { index: number; input: IngestInput }[] = [];
  const refuse = (index: number, e: ApiError) => {
    results[index] = { index, status: e.status as BatchResult["status"], error: problemBody(e) };
  };
  for (const [index, item] of items.entries()) {
    const parsed = IngestBody.safeParse(item);
    if (!parsed.success) {
      refuse(index, new ApiError("validation_failed", `Item ${index} is not valid.`, fieldErrors(parsed.error)));
      continue;
    }
    try {
      valid.push({ index, input: toIngestInput(parsed.data, region, c.get("userId")) });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      refuse(index, e);
    }
  }
  const answers = valid.length
    ? await orgInbox(c.env, orgId).ingestMany(
        orgId,
        valid.map((v) => v.input),
      )
    : [];
  for (const [k, answer] of answers.entries()) {
    const { index } = valid[k];
    if ("error" in answer) {
      const e = new ApiError(answer.error.code, answer.error.detail, answer.error.errors);
      // Refusals of the request rather than of an item (the org gone, its shard unbound) answer for all.
      if (![400, 422, 500].includes(e.status)) throw e;
      refuse(index, e);
      continue;
    }
    const { activity, media, duplicate } = answer.ok;
    const message = await toMessage(c.env, activity, new Map(media.map((m) => [m.id, m])));
    results[index] = { index, status: duplicate ? 200 : 201, message, duplicate };
  }
  return c.json({ results }, 200);
};

type BatchResult = { index: number; status: 200 | 201 | 400 | 422 | 500; message?: MessageOut; duplicate?: boolean; error?: ReturnType<typeof problemBody> };

export const ingestActivity: AppRouteHandler<typeof routes.ingestActivity> = async (c) => {
  const orgId = c.get("orgId");
  const input = toIngestInput(c.req.valid("json"), settings(c.env).defaultPhoneRegion, c.get("userId"));
  const result = await inbox(c.env, orgId).ingest(input);
  const media = new Map(result.media.map((m) => [m.id, m]));
  const message = await toMessage(c.env, result.activity, media);
  return c.json({ message, duplicate: result.duplicate }, result.duplicate ? 200 : 201);
};

/**
 * GET /activities?updated_since= (SPEC 20): the org's changed messages, oldest change
 * first. The first page starts at `updated_since` (inclusive); a cursor carries the
 * (updated_at, id) of the last row answered and wins over `updated_since`.
 */
export const listChanges: AppRouteHandler<typeof routes.listChanges> = async (c) => {
  const { updated_since, cursor, limit = 25 } = c.req.valid("query");
  const after = decodeCursor(cursor, timeIdCursor);
  if (!after && updated_since === undefined) throw invalid("updated_since", "updated_since is required unless cursor is given.");
  const since = updated_since === undefined ? Number.NaN : Date.parse(updated_since);
  if (!after && !Number.isFinite(since)) throw invalid("updated_since", "updated_since is not a valid time.");
  const orgId = c.get("orgId");
  const db = c.var.db;
  const rows = await changedMessages(db, orgId, after ? { after } : { since }, limit);
  const { data, next_cursor } = page(rows, limit, (last) => [last.updatedAt, last.id]);
  const media = await mediaFor(
    db,
    orgId,
    data.flatMap((a) => (a.callRecordingMediaId ? [...a.mediaIds, a.callRecordingMediaId] : a.mediaIds)),
  );
  return c.json({ data: await Promise.all(data.map((a) => toMessage(c.env, a, media))), next_cursor }, 200);
};
