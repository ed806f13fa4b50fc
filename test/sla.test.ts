import { describe, expect, it } from "vitest";
import { addMember, expectProblem, ingestOk, json, minutesAgo, newOrg } from "./helpers";

const weekdays = (start: string, end: string) => Object.fromEntries(["mon", "tue", "wed", "thu", "fri"].map((d) => [d, [{ start, end }]]));

describe("GET/PUT /conversations/sla", () => {
  it("answers the default until set, then what was set", async () => {
    const org = await newOrg();
    expect(await json(await org.as(org.owner)("/conversations/sla"))).toEqual({
      enabled: true,
      first_response_minutes: 60,
      business_hours: null,
      updated_at: null,
    });
    const body = {
      enabled: true,
      first_response_minutes: 15,
      business_hours: {
        timezone: "Europe/Berlin",
        days: {
          mon: [
            { start: "09:00", end: "12:00" },
            { start: "12:00", end: "17:00" },
          ],
        },
      },
    };
    const put = await json(await org.as(org.owner)("/conversations/sla", { method: "PUT", body }));
    expect(put).toMatchObject(body);
    expect(Date.parse(put.updated_at)).toBeGreaterThan(Date.now() - 5000);
    expect(await json(await org.as(org.owner)("/conversations/sla"))).toEqual(put);
  });

  it("refuses bad configs with 400 (and an agent with 403), changing nothing", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const put = (body: unknown, who = org.owner) => org.as(who)("/conversations/sla", { method: "PUT", body });
    const hours = (days: unknown, timezone = "UTC") => ({ enabled: true, first_response_minutes: 60, business_hours: { timezone, days } });
    const bad: [string, unknown][] = [
      ["unknown zone", hours({ mon: [{ start: "09:00", end: "17:00" }] }, "Mars/Base")],
      ["start after end", hours({ mon: [{ start: "17:00", end: "09:00" }] })],
      ["25:00", hours({ mon: [{ start: "09:00", end: "25:00" }] })],
      ["9:00 without its zero", hours({ mon: [{ start: "9:00", end: "17:00" }] })],
      [
        "overlap",
        hours({
          mon: [
            { start: "09:00", end: "13:00" },
            { start: "12:00", end: "17:00" },
          ],
        }),
      ],
      [
        "unsorted",
        hours({
          mon: [
            { start: "13:00", end: "17:00" },
            { start: "09:00", end: "12:00" },
          ],
        }),
      ],
      ["unknown weekday", hours({ funday: [{ start: "09:00", end: "17:00" }] })],
      ["never open", hours({})],
      ["minutes 0", { enabled: true, first_response_minutes: 0, business_hours: null }],
      ["minutes 10081", { enabled: true, first_response_minutes: 10081, business_hours: null }],
      ["minutes not an integer", { enabled: true, first_response_minutes: 1.5, business_hours: null }],
      ["a missing field", { enabled: true, first_response_minutes: 60 }],
      ["an unknown field", { enabled: true, first_response_minutes: 60, business_hours: null, grace: 5 }],
    ];
    for (const [name, body] of bad) {
      const p = await expectProblem(await put(body), 400, "validation_failed");
      expect(p.errors?.length, name).toBeGreaterThan(0);
    }
    await expectProblem(await put({ enabled: false, first_response_minutes: 60, business_hours: null }, agent), 403, "forbidden");
    expect((await json(await org.as(org.owner)("/conversations/sla"))).updated_at).toBeNull();
  });
});

describe("sla_due_at and overdue", () => {
  it("an inbound message outside business hours is due the target's minutes after opening", async () => {
    const org = await newOrg();
    await org.as(org.owner)("/conversations/sla", {
      method: "PUT",
      body: { enabled: true, first_response_minutes: 60, business_hours: { timezone: "UTC", days: weekdays("09:00", "17:00") } },
    });
    // Saturday noon: due Monday 10:00.
    const { message } = await ingestOk(org, { occurred_at: "2026-11-21T12:00:00.000Z" });
    const conv = await json(await org.as(org.owner)(`/conversations/${message.conversation_id}`));
    expect(conv).toMatchObject({ awaiting_reply_since: "2026-11-21T12:00:00.000Z", sla_due_at: "2026-11-23T10:00:00.000Z", overdue: true });
  });

  it("a PUT moves sla_due_at of every waiting conversation; enabled false → nothing overdue", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const since = minutesAgo(45);
    const waiting = (await ingestOk(org, { contact: { phone: "+14155558001" }, occurred_at: since })).message.conversation_id;
    const answered = (await ingestOk(org, { contact: { phone: "+14155558002" }, direction: "outbound" })).message.conversation_id;
    const get = async (id: string) => json(await as(`/conversations/${id}`));
    expect((await get(waiting)).overdue).toBe(false);
    await as("/conversations/sla", { method: "PUT", body: { enabled: true, first_response_minutes: 30, business_hours: null } });
    expect(await get(waiting)).toMatchObject({ sla_due_at: new Date(Date.parse(since) + 30 * 60_000).toISOString(), overdue: true });
    expect((await get(answered)).sla_due_at).toBeNull();
    expect(await json(await as("/conversations/overdue/count"))).toEqual({ count: 1 });
    await as("/conversations/sla", {
      method: "PUT",
      body: {
        enabled: true,
        first_response_minutes: 120,
        business_hours: {
          timezone: "UTC",
          days: {
            sun: [{ start: "00:00", end: "24:00" }],
            mon: [{ start: "00:00", end: "24:00" }],
            tue: [{ start: "00:00", end: "24:00" }],
            wed: [{ start: "00:00", end: "24:00" }],
            thu: [{ start: "00:00", end: "24:00" }],
            fri: [{ start: "00:00", end: "24:00" }],
            sat: [{ start: "00:00", end: "24:00" }],
          },
        },
      },
    });
    expect((await get(waiting)).sla_due_at).toBe(new Date(Date.parse(since) + 120 * 60_000).toISOString());
    await as("/conversations/sla", { method: "PUT", body: { enabled: false, first_response_minutes: 1, business_hours: null } });
    expect(await get(waiting)).toMatchObject({ sla_due_at: null, overdue: false, awaiting_reply_since: since });
    expect(await json(await as("/conversations/overdue/count"))).toEqual({ count: 0 });
    expect((await json(await as("/conversations?overdue=true"))).data).toEqual([]);
    // Turned back on, the wait is still known and the due time returns.
    await as("/conversations/sla", { method: "PUT", body: { enabled: true, first_response_minutes: 1, business_hours: null } });
    expect((await get(waiting)).overdue).toBe(true);
  });

  it("a reply clears overdue; the count follows scope and archive", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(org.owner);
    const a = (await ingestOk(org, { contact: { phone: "+14155558003" }, occurred_at: minutesAgo(90) })).message.conversation_id;
    const b = (await ingestOk(org, { contact: { phone: "+14155558004" }, occurred_at: minutesAgo(90) })).message.conversation_id;
    const c = (await ingestOk(org, { contact: { phone: "+14155558005" }, occurred_at: minutesAgo(90) })).message.conversation_id;
    await as(`/conversations/${b}/assign`, { body: { assigned_to: agent.userId } });
    expect(await json(await as("/conversations/overdue/count"))).toEqual({ count: 3 });
    expect(await json(await org.as(agent)("/conversations/overdue/count?scope=mine"))).toEqual({ count: 1 });
    expect(await json(await as("/conversations/overdue/count?scope=mine"))).toEqual({ count: 0 });
    await as(`/conversations/${c}/archive`, { body: { archived: true } });
    expect(await json(await as("/conversations/overdue/count"))).toEqual({ count: 2 });
    await ingestOk(org, { contact: { phone: "+14155558003" }, direction: "outbound", body: "Sorry for the wait!" });
    expect((await json(await as(`/conversations/${a}`))).overdue).toBe(false);
    expect(await json(await as("/conversations/overdue/count"))).toEqual({ count: 1 });
    await expectProblem(await as("/conversations/overdue/count?scope=all"), 400, "validation_failed");
  });
});
