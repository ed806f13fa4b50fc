import { describe, expect, it } from "vitest";
import { call, json, newOrg, type TestOrg } from "./helpers";

/**
 * Every resource a client can GET and then PUT/PATCH takes back the body it read,
 * unchanged (the read-only fields are accepted and ignored), and the save changes
 * nothing. Pairs are found in /openapi.json, so a new such route is covered or fails here.
 */
type Doc = { paths: Record<string, Record<string, unknown>> };

async function fixtures(org: TestOrg): Promise<Record<string, string>> {
  const as = org.as(org.owner);
  const contact = await json(await as("/contacts", { body: { name: "Round Trip", phone: "+14155550177", email: "rt@example.com" } }));
  // A custom view next to the system ones, so `key: null` is in what GET answers.
  const { data: views } = await json(await as("/conversations/views"));
  const saved = await as("/conversations/views", {
    method: "PUT",
    body: {
      views: [
        ...views.map((v: { id: string; name: string; filters: unknown }) => ({ id: v.id, name: v.name, filters: v.filters })),
        { name: "Mine, open", filters: { scope: "mine", archived: false } },
        { name: "Labelled", filters: { label_ids: [crypto.randomUUID()] } },
      ],
    },
  });
  expect(saved.status).toBe(200);
  const sla = await as("/conversations/sla", {
    method: "PUT",
    body: { enabled: true, first_response_minutes: 30, business_hours: { timezone: "Europe/Paris", days: { mon: [{ start: "09:00", end: "17:00" }] } } },
  });
  expect(sla.status).toBe(200);
  expect((await as("/setter/config", { method: "PUT", body: { mode: "suggestive", instructions: "Be brief." } })).status).toBe(200);
  const endpoint = await json(await as("/webhook-endpoints", { body: { url: "https://crm.example.com/hooks/rt", events: ["message.created"] } }));
  const template = await json(await as("/templates", { body: { name: "Round trip", channel: "email", subject: "Hi {{contact.first_name}}", body: "Hello" } }));
  const label = await json(await as("/labels", { body: { name: "Round trip", color: "#00aa88" } }));
  return {
    "/labels/{label_id}": `/labels/${label.id}`,
    "/contacts/{contact_id}": `/contacts/${contact.id}`,
    "/webhook-endpoints/{endpoint_id}": `/webhook-endpoints/${endpoint.id}`,
    "/templates/{template_id}": `/templates/${template.id}`,
  };
}

const stripVolatile = (body: any) => JSON.parse(JSON.stringify(body, (k, v) => (k === "updated_at" ? undefined : v)));

describe("GET → PUT/PATCH round trip", () => {
  it("every GET body is accepted back unchanged by the same path's PUT or PATCH, and changes nothing", async () => {
    const org = await newOrg();
    const filled = await fixtures(org);
    const doc = await json<Doc>(await call("/openapi.json"));
    const pairs = Object.entries(doc.paths)
      .filter(([, ops]) => ops.get && (ops.put || ops.patch))
      .map(([path, ops]) => ({ path, method: ops.put ? "PUT" : "PATCH" }));
    // The test cannot pass by finding nothing: these are the pairs SPEC names.
    expect(pairs.map((p) => p.path).sort()).toEqual(
      expect.arrayContaining(["/contacts/{contact_id}", "/conversations/sla", "/conversations/views", "/setter/config"]),
    );
    const as = org.as(org.owner);
    for (const { path, method } of pairs) {
      const concrete = path.includes("{") ? filled[path] : path;
      expect(concrete, `no fixture for ${path}: add one`).toBeTruthy();
      const read = await json(await as(concrete));
      // A list resource (views) is PUT back as `{ views: [...] }`, the rest as read.
      const body = path === "/conversations/views" ? { views: read.data } : read;
      const res = await as(concrete, { method, body });
      expect(res.status, `${method} ${path}: ${await res.clone().text()}`).toBe(200);
      const again = await json(await as(concrete));
      expect(stripVolatile(again), `${method} ${path} changed the resource`).toEqual(stripVolatile(read));
    }
  });

  it("a member read from GET /members is accepted back by PUT /members/{user_id}", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const { data } = await json(await as("/members"));
    const me = data.find((m: { user_id: string }) => m.user_id === org.owner.userId);
    const res = await as(`/members/${me.user_id}`, { method: "PUT", body: me });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual(me);
  });
});
