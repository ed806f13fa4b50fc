import { describe, expect, it } from "vitest";
import { call, count, expectProblem, json, newOrg } from "./helpers";

type Schema = {
  type?: string | string[];
  items?: Schema;
  maxItems?: number;
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  $ref?: string;
  additionalProperties?: Schema | boolean;
};
type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Schema> } };

/** Every array reachable from a schema, by where it sits. */
function arraysIn(doc: Doc, schema: Schema | undefined, at: string, seen = new Set<string>()): { at: string; maxItems?: number }[] {
  if (!schema) return [];
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop()!;
    if (seen.has(name)) return [];
    return arraysIn(doc, doc.components.schemas[name], at, new Set([...seen, name]));
  }
  const out: { at: string; maxItems?: number }[] = [];
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes("array")) out.push({ at, maxItems: schema.maxItems }, ...arraysIn(doc, schema.items, `${at}[]`, seen));
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push(...arraysIn(doc, v, `${at}.${k}`, seen));
  for (const v of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) out.push(...arraysIn(doc, v, at, seen));
  if (typeof schema.additionalProperties === "object") out.push(...arraysIn(doc, schema.additionalProperties, `${at}.*`, seen));
  return out;
}

describe("bounded bodies", () => {
  it("every array in every JSON request body has a documented maximum", async () => {
    const doc = await json<Doc>(await call("/openapi.json"));
    const arrays: { at: string; maxItems?: number }[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = op?.requestBody?.content?.["application/json"]?.schema;
        arrays.push(...arraysIn(doc, schema, `${method.toUpperCase()} ${path} body`));
      }
    }
    // Not vacuous: the bodies SPEC gives arrays to are walked.
    expect(arrays.map((a) => a.at)).toEqual(
      expect.arrayContaining(["POST /conversations/{conversation_id}/messages body.media_ids", "PUT /conversations/views body.views"]),
    );
    expect(arrays.filter((a) => typeof a.maxItems !== "number").map((a) => a.at)).toEqual([]);
  });

  it("media_ids beyond 10 → 400 on every message type (a note too), nothing stored", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const contact = await json(await as("/contacts", { body: { phone: "+14155550111", email: "limits@example.com" } }));
    const { id } = await json(await as(`/contacts/${contact.id}/conversations`, { method: "POST" }));
    const many = Array.from({ length: 3000 }, () => crypto.randomUUID());
    for (const type of ["note", "sms", "email"]) {
      const problem = await expectProblem(await as(`/conversations/${id}/messages`, { body: { type, body: "hi", media_ids: many } }), 400, "validation_failed");
      expect(problem.errors?.some((e) => e.path.startsWith("media_ids"))).toBe(true);
    }
    await expectProblem(
      await as("/activities", { body: { contact: { id: contact.id }, type: "note", body: "x", provider: "crm", media_ids: many.slice(0, 11) } }),
      400,
      "validation_failed",
    );
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
  });

  it("a page whose messages carry more than 100 media ids reads them all (queries stay under D1's 100 bound parameters)", async () => {
    const org = await newOrg();
    const address = `many-${org.orgId.slice(-6)}@acme.test`;
    expect((await org.as(org.owner)("/channels", { body: { kind: "email", address, provider: "postmark" } })).status).toBe(201);
    const attachments = Array.from({ length: 20 }, (_, i) => ({ Name: `f${i}.txt`, Content: btoa(`file ${i}`), ContentType: "text/plain", ContentLength: 6 }));
    for (let m = 0; m < 6; m++) {
      const res = await call("/webhooks/postmark/inbound", {
        method: "POST",
        headers: { authorization: `Basic ${btoa("postmark-hook:hook-secret")}` },
        body: {
          From: "many@example.org",
          FromFull: { Email: "many@example.org", Name: "Many" },
          To: address,
          OriginalRecipient: address,
          Subject: `batch ${m}`,
          MessageID: `many-${m}`,
          TextBody: "see attached",
          Date: new Date().toUTCString(),
          Attachments: attachments,
        },
      });
      expect(res.status).toBe(200);
    }
    const { data } = await json(await org.as(org.owner)("/conversations"));
    const res = await org.as(org.owner)(`/conversations/${data[0].id}/messages?limit=100`);
    expect(res.status, await res.clone().text()).toBe(200);
    const { data: thread } = await json(res);
    expect(thread).toHaveLength(6);
    expect(thread.flatMap((m: { media: unknown[] }) => m.media)).toHaveLength(120);
  });

  it("a call's recording_url must be https (http only for a loopback host): javascript:, data: and others → 400, nothing stored", async () => {
    const org = await newOrg();
    const callWith = (recording_url: string) =>
      org.as(org.owner)("/activities", {
        body: {
          contact: { phone: "+14155550112" },
          type: "call",
          direction: "inbound",
          provider: "crm",
          call: { duration_seconds: 5, status: "completed", recording_url },
        },
      });
    for (const bad of [
      "javascript:alert(1)",
      "JAVASCRIPT:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "http://example.com/r.mp3",
      "ftp://example.com/r.mp3",
      "vbscript:msgbox",
      "//example.com/r.mp3",
    ]) {
      const problem = await expectProblem(await callWith(bad), 400, "validation_failed");
      expect(
        problem.errors?.some((e) => e.path.includes("recording_url")),
        bad,
      ).toBe(true);
    }
    expect(await count("activities", "org_id = ?", org.orgId)).toBe(0);
    for (const good of ["https://recordings.example.com/r.mp3", "http://localhost:8787/r.mp3", "http://127.0.0.1/r.mp3"]) {
      const res = await callWith(good);
      expect(res.status, good).toBe(201);
      expect((await json(res)).message.call.recording_url).toBe(good);
    }
  });
});
