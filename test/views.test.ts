import { describe, expect, it } from "vitest";
import { type Actor, addMember, count, expectCountsExact, expectProblem, ingestOk, json, minutesAgo, newOrg, type TestOrg } from "./helpers";

type View = { id: string; key: string | null; name: string; system: boolean; position: number; filters: Record<string, unknown> };
const views = async (org: TestOrg, who: Actor) => (await json(await org.as(who)("/conversations/views"))).data as View[];
const put = (org: TestOrg, who: Actor, list: unknown[]) => org.as(who)("/conversations/views", { method: "PUT", body: { views: list } });
const asSent = (v: View) => ({ id: v.id, name: v.name, filters: v.filters });

describe("GET /conversations/views", () => {
  it("every member has the four system views, in order, with SPEC 7's filters", async () => {
    const org = await newOrg();
    const list = await views(org, org.owner);
    expect(list.map((v) => [v.key, v.name, v.system, v.position])).toEqual([
      ["unread", "Unread", true, 0],
      ["recents", "Recents", true, 1],
      ["starred", "Starred", true, 2],
      ["all", "All", true, 3],
    ]);
    expect(list.map((v) => v.filters)).toEqual([
      { unread: true, archived: false },
      { archived: false, active_within_days: 30 },
      { starred: true, archived: false },
      { archived: false },
    ]);
    // Created once: a second read answers the same ids.
    expect((await views(org, org.owner)).map((v) => v.id)).toEqual(list.map((v) => v.id));
  });
});

describe("PUT /conversations/views", () => {
  it("a list read with GET is accepted back as it is (key null, system, position), edited or not", async () => {
    const org = await newOrg();
    const sys = await views(org, org.owner);
    expect((await put(org, org.owner, [...sys.map(asSent), { name: "Mine", filters: { scope: "mine" } }])).status).toBe(200);
    const read = await views(org, org.owner);
    expect(read.find((v) => v.name === "Mine")).toMatchObject({ key: null, system: false, position: 4 });
    const same = await put(org, org.owner, read);
    expect(same.status).toBe(200);
    expect((await json(same)).data).toEqual(read);
    // The usual client move: read, rename one view, save the whole list back.
    const edited = read.map((v) => (v.name === "Mine" ? { ...v, name: "Mine only" } : v));
    const saved = await json(await put(org, org.owner, edited));
    expect(saved.data.map((v: View) => v.name)).toEqual(["Unread", "Recents", "Starred", "All", "Mine only"]);
    // The read-only fields are ignored, not applied: order comes from the list.
    const reversed = [...read].reverse().map((v, i) => ({ ...v, position: i * 0 + 99, system: !v.system }));
    const moved = await json(await put(org, org.owner, reversed));
    expect(moved.data.map((v: View) => [v.name, v.position, v.system])).toEqual([
      ["Mine", 0, false],
      ["All", 1, true],
      ["Starred", 2, true],
      ["Recents", 3, true],
      ["Unread", 4, true],
    ]);
  });

  it("a save that lists only new custom views (no ids) deletes every old custom view", async () => {
    const org = await newOrg();
    const sys = (await views(org, org.owner)).map(asSent);
    await put(org, org.owner, [...sys, { name: "Old one", filters: {} }, { name: "Old two", filters: {} }]);
    const saved = await json(await put(org, org.owner, [...sys, { name: "New", filters: { starred: true } }]));
    expect(saved.data.map((v: View) => v.name)).toEqual(["Unread", "Recents", "Starred", "All", "New"]);
  });

  it("races: six saves at once, each replacing the list, end as some serial order of them (many rounds)", async () => {
    const org = await newOrg();
    const sys = (await views(org, org.owner)).map(asSent);
    for (let round = 0; round < 8; round++) {
      // A custom view that half the saves keep (renamed, by id) and half drop.
      const base = await json(await put(org, org.owner, [...sys, { name: `r${round} kept`, filters: {} }]));
      const kept = base.data.find((v: View) => !v.system) as View;
      const saves = Array.from({ length: 6 }, (_, s) => [
        ...sys,
        ...(s % 2 ? [{ id: kept.id, name: `r${round} kept by s${s}`, filters: {} }] : []),
        ...Array.from({ length: 20 }, (_, i) => ({ name: `r${round} s${s} v${i}`, filters: { starred: true } })),
      ]);
      const answers = await Promise.all(saves.map((list) => put(org, org.owner, list)));
      const saved: View[][] = [];
      for (const [s, res] of answers.entries()) {
        if (res.status === 422) {
          // Only a save that keeps a view another save already dropped can be refused.
          expect(s % 2).toBe(1);
          await expectProblem(res, 422, "invalid_views");
          continue;
        }
        expect(res.status, await res.clone().text()).toBe(200);
        const data = (await json(res)).data as View[];
        // A save answers exactly the list it sent, as it would alone.
        expect(data.map((v) => v.name)).toEqual(saves[s].map((v) => v.name));
        saved.push(data);
      }
      const now = await views(org, org.owner);
      expect(saved.map((d) => JSON.stringify(d))).toContain(JSON.stringify(now));
      expect(new Set(now.map((v) => v.name.toLowerCase())).size).toBe(now.length);
    }
  }, 60_000);

  it("creates, reorders, renames and deletes custom views; system views may move", async () => {
    const org = await newOrg();
    const sys = await views(org, org.owner);
    const created = await json(
      await put(org, org.owner, [{ name: "Mine, open", filters: { scope: "mine", archived: false } }, ...sys.map(asSent), { name: "Everything", filters: {} }]),
    );
    expect(created.data.map((v: View) => v.name)).toEqual(["Mine, open", "Unread", "Recents", "Starred", "All", "Everything"]);
    expect(created.data.map((v: View) => v.position)).toEqual([0, 1, 2, 3, 4, 5]);
    const [mine, ...rest] = created.data as View[];
    const everything = rest[rest.length - 1];
    const second = await json(
      await put(org, org.owner, [
        { key: "all", name: "All", filters: { archived: false } },
        { id: mine.id, name: "My open threads", filters: { scope: "mine", archived: false, unread: true } },
        ...sys.filter((v) => v.key !== "all").map(asSent),
      ]),
    );
    expect(second.data.map((v: View) => v.name)).toEqual(["All", "My open threads", "Unread", "Recents", "Starred"]);
    expect(second.data[1]).toMatchObject({ id: mine.id, filters: { scope: "mine", archived: false, unread: true }, system: false });
    expect(await count("views", "id = ?", everything.id)).toBe(0);
  });

  it("refuses with the right code, nothing changed: required, immutable, then invalid_views", async () => {
    const org = await newOrg();
    const other = await addMember(org, "agent");
    const otherViews = await json(await put(org, other, [...(await views(org, other)).map(asSent), { name: "Agent's", filters: {} }]));
    const sys = await views(org, org.owner);
    const before = JSON.stringify(sys);
    const noAll = sys.filter((v) => v.key !== "all").map(asSent);
    const renamed = sys.map((v) => (v.key === "starred" ? { ...asSent(v), name: "Stars" } : asSent(v)));
    const refiltered = sys.map((v) => (v.key === "unread" ? { ...asSent(v), filters: { unread: true } } : asSent(v)));

    await expectProblem(await put(org, org.owner, noAll), 422, "system_view_required");
    await expectProblem(await put(org, org.owner, [...noAll.map((v, i) => (i === 0 ? { ...v, name: "Changed" } : v))]), 422, "system_view_required");
    await expectProblem(await put(org, org.owner, renamed), 422, "system_view_immutable");
    await expectProblem(await put(org, org.owner, refiltered), 422, "system_view_immutable");
    await expectProblem(await put(org, org.owner, [...renamed, { name: "dup", filters: {} }, { name: "DUP", filters: {} }]), 422, "system_view_immutable");

    const all = sys.map(asSent);
    const dup = await expectProblem(
      await put(org, org.owner, [...all, { name: "Hot", filters: {} }, { name: "hot", filters: { starred: true } }]),
      422,
      "invalid_views",
    );
    expect(dup.errors).toEqual([expect.objectContaining({ path: "views.5.name" })]);
    const twice = await expectProblem(await put(org, org.owner, [...all, asSent(sys[0])]), 422, "invalid_views");
    expect(twice.errors?.[0].path).toBe("views.4");
    const foreign = await expectProblem(await put(org, org.owner, [...all, { id: otherViews.data[4].id, name: "Stolen", filters: {} }]), 422, "invalid_views");
    expect(foreign.errors?.[0].path).toBe("views.4.id");
    const many = Array.from({ length: 47 }, (_, i) => ({ name: `v${i}`, filters: {} }));
    await expectProblem(await put(org, org.owner, [...all, ...many]), 422, "invalid_views");
    await expectProblem(await put(org, org.owner, [...all, { name: "", filters: {} }]), 400, "validation_failed");
    await expectProblem(await put(org, org.owner, [...all, { name: "x".repeat(65), filters: {} }]), 400, "validation_failed");
    await expectProblem(await put(org, org.owner, [...all, { name: "bad", filters: { color: "red" } }]), 400, "validation_failed");
    expect(JSON.stringify(await views(org, org.owner))).toBe(before);
    // 46 custom + 4 system = 50 is allowed.
    expect((await put(org, org.owner, [...all, ...many.slice(0, 46)])).status).toBe(200);
  });

  it("views are private to their member; another member's view id → 404 on the list", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const saved = await json(await put(org, org.owner, [...(await views(org, org.owner)).map(asSent), { name: "Owner only", filters: {} }]));
    const ownerView = saved.data[4].id;
    expect((await views(org, agent)).map((v) => v.name)).toEqual(["Unread", "Recents", "Starred", "All"]);
    await expectProblem(await org.as(agent)(`/conversations?view=${ownerView}`), 404, "not_found");
    expect((await org.as(org.owner)(`/conversations?view=${ownerView}`)).status).toBe(200);
  });
});

describe("GET /conversations/views/counts", () => {
  it("equals the walked list length for every view after mixed ingests, reads, stars, archives and assignments", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(agent);
    const sys = await views(org, agent);
    await put(org, agent, [
      ...sys.map(asSent),
      { name: "Mine", filters: { scope: "mine" } },
      { name: "Everything", filters: {} },
      { name: "Overdue", filters: { overdue: true } },
      { name: "Unassigned open", filters: { assigned_to: "unassigned", archived: false } },
      { name: "Stale", filters: { active_within_days: 1, unread: false } },
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 14; i++) {
      const { message } = await ingestOk(org, { contact: { phone: `+1415555${4000 + i}` }, occurred_at: minutesAgo(i % 3 === 0 ? 3 * 24 * 60 + i : 120 - i) });
      ids.push(message.conversation_id);
    }
    await ingestOk(org, { contact: { phone: "+14155554001" }, direction: "outbound" });
    for (const [i, id] of ids.entries()) {
      if (i % 2 === 0) await as(`/conversations/${id}/read`, { method: "POST" });
      if (i % 3 === 1) await as(`/conversations/${id}/star`, { method: "POST" });
      if (i % 4 === 3) await as(`/conversations/${id}/archive`, { body: { archived: true } });
      if (i % 5 === 2) await as(`/conversations/${id}/assign`, { body: { assigned_to: agent.userId } });
      if (i === 10) await as(`/conversations/${id}/unread`, { method: "POST" });
    }
    await ingestOk(org, { contact: { phone: "+14155554003" } }); // unarchives and adds unread
    const { data: counts } = await json(await as("/conversations/views/counts"));
    const mine = await views(org, agent);
    expect(counts.map((c: { view_id: string }) => c.view_id)).toEqual(mine.map((v) => v.id));
    for (const v of mine) {
      const walked: { unread_count: number }[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: { unread_count: number }[]; next_cursor: string | null } = await json(
          await as(`/conversations?view=${v.id}&limit=4${cursor ? `&cursor=${cursor}` : ""}`),
        );
        walked.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      const c = counts.find((x: { view_id: string }) => x.view_id === v.id);
      expect({ view: v.name, total: c.total, unread: c.unread }).toEqual({
        view: v.name,
        total: walked.length,
        unread: walked.filter((w) => w.unread_count > 0).length,
      });
    }
    // Not a vacuous check: the views differ.
    expect(new Set(counts.map((c: { total: number }) => c.total)).size).toBeGreaterThan(3);
  });

  it("a member with 50 views (the most), label views among them, gets every count: statements cut under D1's 100 bound parameters, each equal to its list", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(org.owner);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++)
      ids.push((await ingestOk(org, { contact: { phone: `+1415555${4300 + i}` }, occurred_at: minutesAgo(i * 700) })).message.conversation_id);
    const labels: string[] = [];
    for (const name of ["a", "b", "c"]) labels.push((await json(await as("/labels", { body: { name } }))).id);
    for (const [i, id] of ids.entries()) {
      await as(`/conversations/${id}/labels`, { method: "PUT", body: { label_ids: labels.filter((_, l) => (i >> l) & 1) } });
      if (i % 3 === 0) await as(`/conversations/${id}/archive`, { body: { archived: true } });
      if (i % 2 === 0) await as(`/conversations/${id}/read`, { method: "POST" });
      if (i % 4 === 1) await as(`/conversations/${id}/assign`, { body: { assigned_to: agent.userId } });
      if (i === 5) await as(`/conversations/${id}/star`, { method: "POST" });
    }
    const custom = [];
    for (let i = 0; custom.length < 46; i++) {
      const l = labels[i % 3];
      const variants: Record<string, unknown>[] = [
        { label_ids: [l] },
        { label_ids: [l], archived: i % 2 === 0 },
        { label_ids: [l], unread: true, archived: false },
        { label_ids: [l, labels[(i + 1) % 3]], archived: false },
        { label_ids: [l], assigned_to: agent.userId },
        { label_ids: [l], snoozed: false, unread: i % 2 === 1 },
        { label_ids: [l], active_within_days: 1 + (i % 5) },
        { starred: true },
        { assigned_to: "unassigned", unread: true },
        { active_within_days: 1 + (i % 3), archived: false },
      ];
      custom.push({ name: `V${i}`, filters: variants[i % variants.length] });
    }
    const res = await put(org, org.owner, [...(await views(org, org.owner)).map(asSent), ...custom]);
    expect(res.status, await res.clone().text()).toBe(200);
    const counts = await as("/conversations/views/counts");
    expect(counts.status, await counts.clone().text()).toBe(200);
    expect((await json(counts)).data).toHaveLength(50);
    await expectCountsExact(org);
  });

  it("stays exact through sends and a member's removal (their threads fold into unassigned)", async () => {
    const org = await newOrg();
    const agent = await addMember(org, "agent");
    const as = org.as(org.owner);
    await as("/channels", { body: { kind: "sms", address: "+14155559123", provider: "log" } });
    const sys = await views(org, org.owner);
    await put(org, org.owner, [
      ...sys.map(asSent),
      { name: "Agent's", filters: { assigned_to: agent.userId } },
      { name: "Unassigned", filters: { assigned_to: "unassigned" } },
      { name: "Everything", filters: {} },
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await ingestOk(org, { contact: { phone: `+1415555${5000 + i}` } })).message.conversation_id);
    for (const id of ids.slice(0, 4)) await as(`/conversations/${id}/assign`, { body: { assigned_to: agent.userId } });
    await as(`/conversations/${ids[0]}/messages`, { body: { type: "sms", body: "On it" } });
    await as(`/conversations/${ids[1]}/messages`, { body: { type: "note", body: "note only" } });
    const check = async () => {
      const { data: counts } = await json(await as("/conversations/views/counts"));
      for (const v of await views(org, org.owner)) {
        const { data } = await json(await as(`/conversations?view=${v.id}&limit=100`));
        const c = counts.find((x: { view_id: string }) => x.view_id === v.id);
        expect({ view: v.name, total: c.total, unread: c.unread }).toEqual({
          view: v.name,
          total: data.length,
          unread: data.filter((x: { unread_count: number }) => x.unread_count > 0).length,
        });
      }
      return counts;
    };
    const before = await check();
    expect(before.find((c: { key: string | null; total: number }) => c.key === "unread").total).toBe(5);
    expect((await as(`/members/${agent.userId}`, { method: "DELETE" })).status).toBe(204);
    const after = await check();
    expect(after.find((_c: { total: number; unread: number; key: string | null }, i: number) => i === 6).total).toBe(6);
  });

  it("Recents and other windowed views stay exact at the window's edge (day tallies plus the boundary day)", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const sys = await views(org, org.owner);
    await put(org, org.owner, [
      ...sys.map(asSent),
      { name: "Unread this month", filters: { unread: true, active_within_days: 30 } },
      { name: "31 days, any state", filters: { active_within_days: 31 } },
      { name: "Archived recently", filters: { archived: true, active_within_days: 30 } },
    ]);
    // 29 threads two hours apart around the 30-day cutoff, so the cutoff's UTC day
    // holds some inside the window and some outside it, whatever the time of day.
    const ids: string[] = [];
    for (let k = -14; k <= 14; k++) {
      const { message } = await ingestOk(org, { contact: { phone: `+1415555${6100 + k}` }, occurred_at: minutesAgo(30 * 24 * 60 + k * 120) });
      ids.push(message.conversation_id);
    }
    for (const [i, id] of ids.entries()) {
      if (i % 3 === 0) await as(`/conversations/${id}/read`, { method: "POST" });
      if (i % 4 === 1) await as(`/conversations/${id}/archive`, { body: { archived: true } });
    }
    // An old thread comes back to life (its day moves), an outbound note moves another to today.
    await ingestOk(org, { contact: { phone: "+14155556114" }, occurred_at: minutesAgo(5) });
    await ingestOk(org, { contact: { phone: "+14155556113" }, direction: "outbound", occurred_at: minutesAgo(3) });
    // A note written in the app moves an old thread to today as well.
    expect((await as(`/conversations/${ids[26]}/messages`, { body: { type: "note", body: "called back" } })).status).toBe(201);
    // An older event for a recent thread does not move it back.
    await ingestOk(org, { contact: { phone: "+14155556114" }, occurred_at: minutesAgo(40 * 24 * 60) });
    const { data: counts } = await json(await as("/conversations/views/counts"));
    const mine = await views(org, org.owner);
    for (const v of mine) {
      const { data } = await json(await as(`/conversations?view=${v.id}&limit=100`));
      const c = counts.find((x: { view_id: string }) => x.view_id === v.id);
      expect({ view: v.name, total: c.total, unread: c.unread }).toEqual({
        view: v.name,
        total: data.length,
        unread: data.filter((x: { unread_count: number }) => x.unread_count > 0).length,
      });
    }
    const recents = counts.find((c: { key: string | null }) => c.key === "recents");
    expect(recents.total).toBeGreaterThan(5);
    expect(recents.total).toBeLessThan(29);
  });

  it("follows a PUT at once: new, changed and reordered views are counted from their new filters", async () => {
    const org = await newOrg();
    const as = org.as(org.owner);
    const { message } = await ingestOk(org);
    await as(`/conversations/${message.conversation_id}/star`, { method: "POST" });
    await ingestOk(org, { contact: { phone: "+14155557001" } });
    const sys = await views(org, org.owner);
    const first = await json(await as("/conversations/views/counts"));
    expect(first.data.map((c: { key: string }) => c.key)).toEqual(["unread", "recents", "starred", "all"]);
    expect((await put(org, org.owner, [...sys.map(asSent).reverse(), { name: "Starred, unread", filters: { starred: true, unread: true } }])).status).toBe(200);
    const second = await json(await as("/conversations/views/counts"));
    expect(second.data.map((c: { key: string | null; total: number }) => [c.key, c.total])).toEqual([
      ["all", 2],
      ["starred", 1],
      ["recents", 2],
      ["unread", 2],
      [null, 1],
    ]);
    const custom = (await views(org, org.owner)).find((v) => v.key === null)!;
    expect(
      (
        await put(org, org.owner, [
          ...(await views(org, org.owner)).filter((v) => v.key).map(asSent),
          { id: custom.id, name: "Starred, read", filters: { starred: true, unread: false } },
        ])
      ).status,
    ).toBe(200);
    const third = await json(await as("/conversations/views/counts"));
    expect(third.data.find((c: { view_id: string }) => c.view_id === custom.id).total).toBe(0);
  });

  it("explicit params override a view's filters", async () => {
    const org = await newOrg();
    const sys = await views(org, org.owner);
    const starred = sys.find((v) => v.key === "starred")!;
    const { message } = await ingestOk(org);
    await org.as(org.owner)(`/conversations/${message.conversation_id}/star`, { method: "POST" });
    await org.as(org.owner)(`/conversations/${message.conversation_id}/archive`, { body: { archived: true } });
    expect((await json(await org.as(org.owner)(`/conversations?view=${starred.id}`))).data).toHaveLength(0);
    expect((await json(await org.as(org.owner)(`/conversations?view=${starred.id}&archived=true`))).data).toHaveLength(1);
  });
});
