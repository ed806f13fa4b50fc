// A small client written against the types openapi-typescript generates from
// /openapi.json (test/client/generated/api.d.ts, not committed). `npm run check:client`
// regenerates them and compiles this file strictly: if the document stops being
// usable by a generator (a query integer typed as a string, a nullable list item,
// a missing operationId), this stops compiling. It is never run.
import type { components, operations } from "./generated/api";

type Schemas = components["schemas"];
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type JsonBodyOf<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type JsonOf<Op, Status extends number> = Op extends { responses: { [S in Status]: { content: { "application/json": infer R } } } } ? R : never;

type Problem = Schemas["Problem"];
/** An array is a repeated parameter (`label=a&label=b`). */
type QueryValue = string | number | boolean | string[] | undefined;

export class InboxClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly orgId: string,
  ) {}

  private async request<T>(
    method: string,
    path: string,
    opts: { query?: Record<string, QueryValue>; body?: unknown; idempotencyKey?: string } = {},
  ): Promise<T> {
    const url = new URL(path, this.baseUrl);
    // Integers and booleans go on the wire as `50` and `false`, which is what the server reads.
    for (const [name, value] of Object.entries(opts.query ?? {})) {
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(name, v);
      else if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, "x-org-id": this.orgId };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
    const res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    if (!res.ok) {
      const problem = (await res.json()) as Problem;
      throw new Error(`${problem.status} ${problem.code}: ${problem.detail}`);
    }
    return (await res.json()) as T;
  }

  listConversations(query: QueryOf<operations["listConversations"]> = {}) {
    return this.request<JsonOf<operations["listConversations"], 200>>("GET", "/conversations", { query });
  }

  getConversation(conversationId: string) {
    return this.request<JsonOf<operations["getConversation"], 200>>("GET", `/conversations/${conversationId}`);
  }

  listMessages(conversationId: string, query: QueryOf<operations["listMessages"]> = {}) {
    return this.request<JsonOf<operations["listMessages"], 200>>("GET", `/conversations/${conversationId}/messages`, { query });
  }

  sendMessage(conversationId: string, body: JsonBodyOf<operations["sendMessage"]>, idempotencyKey?: string) {
    // 202 for sms/email, 201 for a note: the same Message either way.
    return this.request<JsonOf<operations["sendMessage"], 202> | JsonOf<operations["sendMessage"], 201>>("POST", `/conversations/${conversationId}/messages`, {
      body,
      idempotencyKey,
    });
  }

  ingestActivities(body: JsonBodyOf<operations["ingestActivities"]>, idempotencyKey?: string) {
    return this.request<JsonOf<operations["ingestActivities"], 200>>("POST", "/activities/batch", { body, idempotencyKey });
  }

  ingestActivity(body: JsonBodyOf<operations["ingestActivity"]>) {
    return this.request<JsonOf<operations["ingestActivity"], 201> | JsonOf<operations["ingestActivity"], 200>>("POST", "/activities", { body });
  }

  listViews() {
    return this.request<JsonOf<operations["listViews"], 200>>("GET", "/conversations/views");
  }

  replaceViews(body: JsonBodyOf<operations["replaceViews"]>) {
    return this.request<JsonOf<operations["replaceViews"], 200>>("PUT", "/conversations/views", { body });
  }
}

/** One line per timeline item: `type` tells a Message from a Suggestion, and an item is never null. */
export function describeItem(item: Schemas["MessageList"]["data"][number]): string {
  if (item.type === "suggestion") {
    const draft: Schemas["Suggestion"] = item;
    return `draft (${draft.status}) on ${draft.channel}: ${draft.body}`;
  }
  const message: Schemas["Message"] = item;
  return `${message.type} ${message.direction ?? "note"} ${message.status}: ${message.body ?? ""}`;
}

export async function demo(client: InboxClient) {
  // Query integers and booleans are numbers and booleans.
  const page = await client.listConversations({ limit: 50, archived: false, starred: true });
  const first: Schemas["Conversation"] | undefined = page.data[0];
  const next: string | null = page.next_cursor;
  if (!first) return next;

  const thread = await client.getConversation(first.id);
  const pending: Schemas["Suggestion"] | null = thread.pending_suggestion;

  const sent = await client.sendMessage(first.id, { type: "sms", body: pending?.body ?? "Thanks, on it." }, crypto.randomUUID());
  const status: string = sent.status;

  const ingested = await client.ingestActivity({
    contact: { phone: "+14155550123", name: "Priya" },
    type: "sms",
    direction: "inbound",
    body: "Is Tuesday still OK?",
    provider: "crm-import",
    provider_message_id: "import-1",
  });
  const duplicate: boolean = ingested.duplicate;
  const message: Schemas["Message"] = ingested.message;

  // An import: each item a POST /activities body, one result per item in order.
  const imported = await client.ingestActivities(
    {
      activities: [
        {
          contact: { email: "priya@example.org" },
          type: "email",
          direction: "inbound",
          subject: "Hi",
          provider: "crm-import",
          provider_message_id: "import-2",
        },
      ],
    },
    crypto.randomUUID(),
  );
  const importedStatuses: number[] = imported.results.map((r) => r.status);
  const importedMessages: (Schemas["Message"] | undefined)[] = imported.results.map((r) => r.message);
  void importedStatuses;
  void importedMessages;

  // Views round-trip: what GET answers, PUT takes back as it is (read-only fields included), edited or not.
  const views = await client.listViews();
  const saved = await client.replaceViews({ views: views.data });
  await client.replaceViews({ views: saved.data.map((v) => (v.key === null ? { ...v, name: `${v.name} (renamed)` } : v)) });
  const positions: number[] = saved.data.map((v) => v.position);

  const timeline = await client.listMessages(first.id, { include: "suggestions", order: "asc", limit: 100 });
  const lines: string[] = timeline.data.map(describeItem);

  return { status, duplicate, message, positions, lines };
}

// What must not compile: a generator that gets these wrong has the wrong document.
type ListQuery = QueryOf<operations["listConversations"]>;
// @ts-expect-error limit is an integer, not a string
export const limitAsString: ListQuery = { limit: "50" };
// @ts-expect-error archived is a boolean, not a string
export const archivedAsString: ListQuery = { archived: "false" };
// @ts-expect-error a timeline item is never null
export const nullItem: Schemas["MessageList"]["data"][number] = null;
// @ts-expect-error the Suggestion component itself is never null (only pending_suggestion is)
export const nullSuggestion: Schemas["Suggestion"] = null;
