import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SNIPPET_CHARS } from "../src/search/snippet";
import { call, count, expectProblem, fillPath, ingestOk, json, newOrg, newOrgOn, orgWithOneOfEach, shardOf, twilioPost } from "./helpers";

// Property tests over every JSON route of /openapi.json: whatever the body, query or
// headers, the answer is never a 5xx, every refusal is problem+json, and a refused
// request leaves the org exactly as it was.
type Op = { method: string; path: string; json: boolean; params: { name: string; in: string }[] };

const bearer = (op: { security?: object[] }) => Boolean(op.security?.some((scheme) => "bearerAuth" in scheme));

async function operations(): Promise<Op[]> {
  const doc = (await json(await call("/openapi.json"))) as { paths: Record<string, Record<string, any>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => bearer(op) && path !== "/events")
      .map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        json: Boolean(op.requestBody?.content?.["application/json"]),
        params: op.parameters ?? [],
      })),
  );
}

/** A fresh org per route (the per-org rate limit stays out of the way), with an id for every path parameter. */
let worlds = 0;
const world = () => orgWithOneOfEach("Fuzz", `+1415555${String(7000 + ++worlds)}`);

/** Everything an org owns, summarized: equal before and after means nothing was written. */
async function fingerprint(orgId: string) {
  const tables = [
    "members",
    "channels",
    "contacts",
    "conversations",
    "activities",
    "views",
    "media",
    "training_pairs",
    "setter_configs",
    "sla_configs",
    "webhook_endpoints",
    "webhook_deliveries",
    "templates",
    "labels",
    "conversation_labels",
  ];
  const shard = await shardOf(orgId);
  const parts = await Promise.all(
    tables.map(async (t) => {
      const cols =
        t === "members" || t === "setter_configs" || t === "sla_configs"
          ? "COUNT(*) AS n"
          : t === "conversation_labels"
            ? "COUNT(*) AS n, MAX(conversation_id || label_id) AS last"
            : "COUNT(*) AS n, MAX(id) AS last";
      const updated = [
        "members",
        "contacts",
        "conversations",
        "activities",
        "views",
        "setter_configs",
        "sla_configs",
        "webhook_endpoints",
        "webhook_deliveries",
        "templates",
        "labels",
      ].includes(t)
        ? ", MAX(updated_at) AS u, SUM(updated_at) AS s"
        : "";
      return (t === "members" ? env.DB : shard).prepare(`SELECT ${cols}${updated} FROM ${t} WHERE org_id = ?`).bind(orgId).first();
    }),
  );
  return JSON.stringify(parts);
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", " ", "null", "true", "-1", "0", "1e309", "\u0000", "😀".repeat(300), "x".repeat(5000)),
);
const jsonValue = fc.oneof(fc.jsonValue(), text, fc.constant(null));
const bodyArb = fc.oneof(
  fc.dictionary(
    fc.constantFrom(
      "type",
      "body",
      "subject",
      "html",
      "media_ids",
      "name",
      "phone",
      "email",
      "role",
      "kind",
      "address",
      "provider",
      "mode",
      "instructions",
      "archived",
      "assigned_to",
      "channel",
      "views",
      "filters",
      "enabled",
      "first_response_minutes",
      "business_hours",
      "contact",
      "direction",
      "call",
      "occurred_at",
      "template_id",
      "until",
      "color",
      "label_ids",
      "conversation_ids",
      "action",
      "extra",
    ),
    jsonValue,
  ),
  jsonValue,
);
const queryArb = fc.dictionary(
  fc.constantFrom(
    "limit",
    "cursor",
    "archived",
    "starred",
    "unread",
    "snoozed",
    "overdue",
    "scope",
    "assigned_to",
    "contact_id",
    "view",
    "q",
    "order",
    "include",
    "label",
    "since",
    "format",
    "conversation_id",
    "x",
  ),
  text,
  { maxKeys: 4 },
);
const headerArb = fc.record(
  {
    "content-type": fc.constantFrom(
      "application/json",
      "text/plain",
      "application/json; charset=utf-8",
      "multipart/form-data",
      "",
      "application/x-www-form-urlencoded",
    ),
    "idempotency-key": fc.oneof(text, fc.constant('""')),
    "x-request-id": text,
  },
  { requiredKeys: [] },
);

const safeHeader = (v: string) => /^[\t\x20-\x7e]*$/.test(v);

describe("fuzzing every route (fast-check)", () => {
  it("no 5xx, every refusal problem+json, nothing stored on refusal", async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(30);
    let requests = 0;
    for (const op of ops) {
      const { org, ids } = await world();
      const url = fillPath(op.path, ids);
      await fc.assert(
        fc.asyncProperty(fc.option(bodyArb, { nil: undefined }), queryArb, headerArb, fc.boolean(), async (body, query, headers, raw) => {
          const qs = new URLSearchParams(query).toString();
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(headers)) if (v !== undefined && safeHeader(v)) h[k] = v;
          const before = await fingerprint(org.orgId);
          const res = await call(`${url}${qs ? `?${qs}` : ""}`, {
            method: op.method,
            token: org.owner.token,
            org: org.orgId,
            headers: h,
            ...(op.method === "GET" || op.method === "DELETE"
              ? {}
              : raw
                ? { raw: typeof body === "string" ? body : JSON.stringify(body ?? null).slice(0, -1) }
                : { body }),
          });
          requests++;
          const answer = await res.text();
          expect(res.status, `${op.method} ${url}?${qs} → ${answer}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get("content-type"), answer).toContain("application/problem+json");
            const p = JSON.parse(answer);
            expect(typeof p.code).toBe("string");
            expect(p.status).toBe(res.status);
            expect(await fingerprint(org.orgId), `${op.method} ${url} refused (${res.status}) but wrote`).toBe(before);
          }
        }),
        { numRuns: op.json ? 30 : 12, seed: 20261124 },
      );
    }
    expect(requests).toBeGreaterThan(500);
  }, 240_000);

  it("provider webhooks: signed garbage is answered 2xx and kept (applied or unroutable), unsigned garbage refused with nothing kept", async () => {
    const doc = (await json(await call("/openapi.json"))) as { paths: Record<string, Record<string, any>> };
    const hooks = Object.entries(doc.paths)
      .filter(([path, ops]) => path.startsWith("/webhooks/") && ops.post && !bearer(ops.post))
      .map(([path]) => path);
    expect(hooks.sort()).toEqual([
      "/webhooks/postmark/events",
      "/webhooks/postmark/inbound",
      "/webhooks/twilio/calls",
      "/webhooks/twilio/messages",
      "/webhooks/twilio/status",
    ]);

    // One org with a Twilio number and a Postmark inbox, so some garbage routes somewhere real.
    const org = await newOrg("Hooks");
    const number = "+14155559951";
    const inbox = "fuzz-hooks@acme.test";
    await org.as(org.owner)("/channels", { body: { kind: "sms", address: number, provider: "twilio" } });
    await org.as(org.owner)("/channels", { body: { kind: "email", address: inbox, provider: "postmark" } });
    const kept = async () => (await count("activities")) + (await count("unroutable_events")) + (await count("media"));

    let n = 0;
    const sid = fc.oneof(
      fc.constant(null).map(() => `SMfuzz${++n}`),
      text,
    );
    const phone = fc.oneof(fc.constant(number), fc.constant("+14155559952"), text);
    const status = fc.constantFrom("queued", "sent", "delivered", "read", "failed", "undelivered", "completed", "no-answer", "ringing", "bogus", "");
    const twilioParams = fc.record(
      {
        MessageSid: sid,
        SmsSid: sid,
        CallSid: sid,
        From: phone,
        To: phone,
        Body: text,
        NumMedia: fc.constantFrom("0", "1", "3", "-1", "x"),
        MessageStatus: status,
        SmsStatus: status,
        CallStatus: status,
        CallDuration: text,
        Direction: fc.constantFrom("inbound", "outbound-api", "x"),
        ErrorCode: text,
        AccountSid: fc.constantFrom("AC00000000000000000000000000000000", "ACbad"),
        TranscriptionText: text,
        extra: text,
      },
      { requiredKeys: [] },
    );
    const email = fc.oneof(fc.constant(inbox), fc.constant(`"Help" <${inbox}>`), fc.constant("priya@example.org"), text);
    const postmarkBody = fc.oneof(
      fc.record(
        {
          MessageID: sid,
          From: email,
          To: email,
          OriginalRecipient: email,
          ToFull: fc.array(fc.record({ Email: email, Name: text }), { maxLength: 2 }),
          Subject: text,
          TextBody: text,
          HtmlBody: text,
          StrippedTextReply: text,
          RecordType: fc.constantFrom("Delivery", "Bounce", "SpamComplaint", "Open", "x"),
          Metadata: fc.oneof(fc.record({ message_id: text }), jsonValue),
          Attachments: fc.array(
            fc.record(
              {
                Name: text,
                Content: fc.oneof(fc.base64String({ maxLength: 64 }), text),
                ContentType: fc.constantFrom("image/png", "application/pdf", "text/html", ""),
                ContentLength: fc.integer(),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 2 },
          ),
          extra: jsonValue,
        },
        { requiredKeys: [] },
      ),
      jsonValue,
    );
    const basic = `Basic ${btoa("postmark-hook:hook-secret")}`;
    const seen = new Set<string>();
    const ids = (p: Record<string, unknown>) =>
      ["MessageSid", "SmsSid", "CallSid", "MessageID"].map((k) => p[k]).filter((v): v is string => typeof v === "string" && v !== "");

    for (const path of hooks) {
      const twilio = path.startsWith("/webhooks/twilio/");
      await fc.assert(
        fc.asyncProperty(twilio ? twilioParams : postmarkBody, fc.constantFrom("signed", "unsigned", "wrong"), async (payload, auth) => {
          const params = (
            twilio ? Object.fromEntries(Object.entries(payload as Record<string, string>).filter(([, v]) => v !== undefined)) : payload
          ) as Record<string, string>;
          const before = await kept();
          const res = twilio
            ? await twilioPost(path, params, auth === "signed" ? undefined : auth === "wrong" ? "c2lnbmF0dXJl" : null)
            : await call(path, {
                method: "POST",
                body: payload ?? null,
                headers: auth === "signed" ? { authorization: basic } : auth === "wrong" ? { authorization: `Basic ${btoa("postmark-hook:guess")}` } : {},
              });
          const answer = await res.text();
          expect(res.status, `${path} ${auth} → ${answer}`).toBeLessThan(500);
          const after = await kept();
          if (auth !== "signed") {
            expect([401, 403]).toContain(res.status);
            expect(res.headers.get("content-type")).toContain("application/problem+json");
            expect(after, `${path} refused but kept something`).toBe(before);
            return;
          }
          expect(res.status, `${path} → ${answer}`).toBeLessThan(300);
          // Nothing a provider hands over is lost: stored, kept as unroutable, or a redelivery of an id already seen.
          const own = typeof payload === "object" && payload !== null && !Array.isArray(payload) ? ids(payload as Record<string, unknown>) : [];
          const redelivery = own.length > 0 && own.every((id) => seen.has(id));
          // A call's progress callback (not final, no recording or transcript) has nothing the final one lacks.
          const progress =
            path === "/webhooks/twilio/calls" &&
            params.CallSid &&
            !["completed", "no-answer", "busy", "failed", "canceled"].includes(params.CallStatus) &&
            !params.RecordingUrl &&
            !params.TranscriptionText;
          if (!redelivery && !progress) expect(after, `${path} accepted ${JSON.stringify(payload).slice(0, 300)} and kept nothing`).toBeGreaterThan(before);
          for (const id of own) seen.add(id);
        }),
        { numRuns: 60, seed: 20261124 },
      );
    }
    // Both roads were taken: some garbage landed in the org's timeline, some was kept aside.
    expect(await count("activities", "org_id = ?", org.orgId)).toBeGreaterThan(0);
    expect(await count("unroutable_events")).toBeGreaterThan(0);
  }, 120_000);
});

// SPEC 16: q reaches FTS5 only as quoted strings made by src/search/query.ts. Whatever it
// holds (FTS5 operators, quotes, column filters, unicode, 200 characters), every search
// route answers 200 or 400, and every snippet stays within its 160 characters.
describe("search q (fast-check)", () => {
  it("fuzz: any q (FTS5 operators, quotes, unicode, up to 200 characters) answers 200 or 400, never 5xx", async () => {
    const org = await newOrgOn("SHARD_0");
    const msg = await ingestOk(org, { body: "Café crème at NEAR noon", provider_message_id: `FZ${Date.now()}` });
    const piece = fc.oneof(
      fc.constantFrom(
        "NEAR",
        "OR",
        "AND",
        "NOT",
        "^",
        "-",
        "+",
        "*",
        ":",
        "(",
        ")",
        '"',
        "'",
        "{",
        "}",
        "body:",
        "col:",
        "NEAR(",
        ",",
        "\\",
        "%",
        "_",
        " ",
        "\u0000",
        "é",
        "ß",
        "İ",
        "😀",
        "\u0301",
        "café",
        "noon",
      ),
      fc.string({ unit: "grapheme", maxLength: 8 }),
      fc.string({ unit: "binary-ascii", maxLength: 8 }),
    );
    const q = fc.array(piece, { maxLength: 60 }).map((parts) => Array.from(parts.join("")).slice(0, 200).join(""));
    await fc.assert(
      fc.asyncProperty(q, async (text) => {
        for (const path of ["/conversations", "/contacts", `/conversations/${msg.message.conversation_id}/messages`]) {
          const res = await org.as(org.owner)(`${path}?q=${encodeURIComponent(text)}`);
          expect([200, 400], `${path} ${JSON.stringify(text)} → ${res.status} ${await res.clone().text()}`).toContain(res.status);
          if (res.status === 400) await expectProblem(res, 400, "validation_failed");
          else for (const item of (await json(res)).data) if (item.match) expect(item.match.snippet.length).toBeLessThanOrEqual(SNIPPET_CHARS);
        }
      }),
      { numRuns: 60 },
    );
  });
});
