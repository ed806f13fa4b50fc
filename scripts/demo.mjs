// The demo orgs of `npm run dev`: fixed ids, so seeding again changes nothing. The demo
// org lives on SHARD_0 and the second one on SHARD_1 (SPEC 14: both shards are always in
// use); Olivia owns both, so one token reaches either by its X-Org-Id.
export const DEMO = {
  orgId: "01936a00-0000-7000-8000-000000000001",
  name: "Demo Dental",
  shard: "SHARD_0",
  ownerId: "01936a00-0000-7000-8000-0000000000a1",
  agentId: "01936a00-0000-7000-8000-0000000000a2",
  smsChannel: { id: "01936a00-0000-7000-8000-0000000000c1", address: "+14155550100" },
  emailChannel: { id: "01936a00-0000-7000-8000-0000000000c2", address: "inbox@demo.inbox.test" },
  contacts: [
    { id: "01936a00-0000-7000-8000-0000000000d1", name: "Maria Lopez", phone: "+14155550142", email: "maria@example.com" },
    { id: "01936a00-0000-7000-8000-0000000000d2", name: "James Chen", phone: "+16505550177", email: null },
    { id: "01936a00-0000-7000-8000-0000000000d3", name: "Priya Raman", phone: null, email: "priya@example.org" },
  ],
};

export const DEMO2 = {
  orgId: "01936a00-0000-7000-8000-000000000002",
  name: "Demo Plumbing",
  shard: "SHARD_1",
  ownerId: DEMO.ownerId,
  agentId: null,
  smsChannel: { id: "01936a00-0000-7000-8000-0000000000c3", address: "+14155550110" },
  emailChannel: { id: "01936a00-0000-7000-8000-0000000000c4", address: "jobs@plumbing.inbox.test" },
  contacts: [{ id: "01936a00-0000-7000-8000-0000000000d4", name: "Sam Okafor", phone: "+14155550188", email: "sam@example.net" }],
};

const q = (v) => (v === null || v === undefined ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

/**
 * Idempotent SQL for the demo orgs (INSERT OR IGNORE on fixed ids), by D1 binding: each
 * org, its members and its channels' routes in the control database (DB), its channels
 * and contacts in its shard (`homes`: org id → the shard it lives on now, when known).
 */
export function demoSql(now = Date.now(), homes = {}) {
  const out = { DB: [] };
  for (const d of [DEMO, DEMO2]) {
    // An org the operator moved (SPEC 14) is seeded where it lives now.
    const home = homes[d.orgId] ?? d.shard;
    out[home] ??= [];
    const shard = out[home];
    out.DB.push(
      `INSERT OR IGNORE INTO orgs (id, name, created_at, shard) VALUES (${q(d.orgId)}, ${q(d.name)}, ${now}, ${q(d.shard)});`,
      `INSERT OR IGNORE INTO members (org_id, user_id, role, name, email, created_at, updated_at) VALUES (${q(d.orgId)}, ${q(d.ownerId)}, 'owner', 'Olivia Owner', 'olivia@demo.inbox.test', ${now}, ${now});`,
    );
    if (d.agentId) {
      out.DB.push(
        `INSERT OR IGNORE INTO members (org_id, user_id, role, name, email, created_at, updated_at) VALUES (${q(d.orgId)}, ${q(d.agentId)}, 'agent', 'Alex Agent', 'alex@demo.inbox.test', ${now + 1}, ${now + 1});`,
      );
    }
    [
      ["sms", d.smsChannel],
      ["email", d.emailChannel],
    ].forEach(([kind, ch], i) => {
      out.DB.push(
        `INSERT OR IGNORE INTO channel_routes (kind, address, org_id, channel_id, created_at) VALUES ('${kind}', ${q(ch.address)}, ${q(d.orgId)}, ${q(ch.id)}, ${now + i});`,
      );
      shard.push(
        `INSERT OR IGNORE INTO channels (id, org_id, kind, address, provider, created_at) VALUES (${q(ch.id)}, ${q(d.orgId)}, '${kind}', ${q(ch.address)}, 'log', ${now + i});`,
      );
    });
    d.contacts.forEach((ct, i) => {
      shard.push(
        `INSERT OR IGNORE INTO contacts (id, org_id, name, phone, email, created_at, updated_at) VALUES (${q(ct.id)}, ${q(d.orgId)}, ${q(ct.name)}, ${q(ct.phone)}, ${q(ct.email)}, ${now + i}, ${now + i});`,
      );
    });
  }
  return Object.fromEntries(Object.entries(out).map(([binding, lines]) => [binding, `${lines.join("\n")}\n`]));
}

/**
 * The demo timeline, posted through POST /activities once the server is up, so it
 * takes the same path as any integration; provider ids make a rerun a no-op.
 */
export function demoActivities(now = Date.now()) {
  const [maria, james, priya] = DEMO.contacts;
  const ago = (min) => new Date(now - min * 60_000).toISOString();
  const sms = DEMO.smsChannel.address;
  return [
    {
      contact: { id: maria.id },
      type: "sms",
      direction: "inbound",
      from: maria.phone,
      to: sms,
      body: "Hi! Can I move my cleaning to Tuesday?",
      provider: "demo",
      provider_message_id: "demo-sms-1",
      occurred_at: ago(180),
    },
    {
      contact: { id: maria.id },
      type: "sms",
      direction: "outbound",
      from: sms,
      to: maria.phone,
      body: "Of course. Tuesday 10:00 or 14:30?",
      provider: "demo",
      provider_message_id: "demo-sms-2",
      occurred_at: ago(170),
    },
    {
      contact: { id: maria.id },
      type: "sms",
      direction: "inbound",
      from: maria.phone,
      to: sms,
      body: "14:30 please. Also, does insurance cover the x-ray?",
      provider: "demo",
      provider_message_id: "demo-sms-3",
      occurred_at: ago(25),
    },
    {
      contact: { id: maria.id },
      type: "note",
      body: "Prefers afternoons. Ask about the insurance card at check-in.",
      provider: "demo",
      provider_message_id: "demo-note-1",
      occurred_at: ago(20),
    },
    {
      contact: { id: james.id },
      type: "call",
      direction: "inbound",
      from: james.phone,
      to: sms,
      provider: "demo",
      provider_message_id: "demo-call-1",
      occurred_at: ago(300),
      call: {
        status: "completed",
        duration_seconds: 184,
        transcript:
          "Hi, this is James Chen. I chipped a tooth this morning and it hurts when I drink something cold. Do you have anything today or tomorrow? I can come any time after three. My number is the one I'm calling from. Thanks.",
      },
    },
    {
      contact: { id: james.id },
      type: "call",
      direction: "inbound",
      from: james.phone,
      to: sms,
      provider: "demo",
      provider_message_id: "demo-call-2",
      occurred_at: ago(95),
      call: { status: "no-answer", duration_seconds: 0 },
    },
    {
      contact: { id: priya.id },
      type: "email",
      direction: "inbound",
      from: priya.email,
      to: DEMO.emailChannel.address,
      subject: "New patient forms",
      body: "Hello, I filled in the new patient forms. Do I need to bring anything else on Friday?",
      provider: "demo",
      provider_message_id: "demo-email-1",
      occurred_at: ago(45),
    },
    { contact: { id: priya.id }, type: "note", body: "Referred by Dr. Okafor.", provider: "demo", provider_message_id: "demo-note-2", occurred_at: ago(44) },
  ];
}

/** The second demo org's timeline (on the other shard), posted the same way. */
export function demo2Activities(now = Date.now()) {
  const [sam] = DEMO2.contacts;
  const ago = (min) => new Date(now - min * 60_000).toISOString();
  const sms = DEMO2.smsChannel.address;
  return [
    {
      contact: { id: sam.id },
      type: "sms",
      direction: "inbound",
      from: sam.phone,
      to: sms,
      body: "Water heater is leaking again. Can someone come today?",
      provider: "demo",
      provider_message_id: "demo2-sms-1",
      occurred_at: ago(40),
    },
    {
      contact: { id: sam.id },
      type: "sms",
      direction: "outbound",
      from: sms,
      to: sam.phone,
      body: "Yes, a plumber can be there at 4pm.",
      provider: "demo",
      provider_message_id: "demo2-sms-2",
      occurred_at: ago(35),
    },
  ];
}
