// The demo org of `npm run dev`: fixed ids, so seeding again changes nothing.
export const DEMO = {
  orgId: "01936a00-0000-7000-8000-000000000001",
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

const q = (v) => (v === null || v === undefined ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

/** Idempotent SQL for the demo org (INSERT OR IGNORE on fixed ids). */
export function demoSql(now = Date.now()) {
  const d = DEMO;
  const lines = [
    `INSERT OR IGNORE INTO orgs (id, name, created_at) VALUES (${q(d.orgId)}, 'Demo Dental', ${now});`,
    `INSERT OR IGNORE INTO members (org_id, user_id, role, name, email, created_at, updated_at) VALUES (${q(d.orgId)}, ${q(d.ownerId)}, 'owner', 'Olivia Owner', 'olivia@demo.inbox.test', ${now}, ${now});`,
    `INSERT OR IGNORE INTO members (org_id, user_id, role, name, email, created_at, updated_at) VALUES (${q(d.orgId)}, ${q(d.agentId)}, 'agent', 'Alex Agent', 'alex@demo.inbox.test', ${now + 1}, ${now + 1});`,
    `INSERT OR IGNORE INTO channels (id, org_id, kind, address, provider, created_at) VALUES (${q(d.smsChannel.id)}, ${q(d.orgId)}, 'sms', ${q(d.smsChannel.address)}, 'log', ${now});`,
    `INSERT OR IGNORE INTO channels (id, org_id, kind, address, provider, created_at) VALUES (${q(d.emailChannel.id)}, ${q(d.orgId)}, 'email', ${q(d.emailChannel.address)}, 'log', ${now + 1});`,
  ];
  d.contacts.forEach((ct, i) =>
    lines.push(
      `INSERT OR IGNORE INTO contacts (id, org_id, name, phone, email, created_at, updated_at) VALUES (${q(ct.id)}, ${q(d.orgId)}, ${q(ct.name)}, ${q(ct.phone)}, ${q(ct.email)}, ${now + i}, ${now + i});`,
    ),
  );
  return lines.join("\n") + "\n";
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
    { contact: { id: maria.id }, type: "sms", direction: "inbound", from: maria.phone, to: sms, body: "Hi! Can I move my cleaning to Tuesday?", provider: "demo", provider_message_id: "demo-sms-1", occurred_at: ago(180) },
    { contact: { id: maria.id }, type: "sms", direction: "outbound", from: sms, to: maria.phone, body: "Of course. Tuesday 10:00 or 14:30?", provider: "demo", provider_message_id: "demo-sms-2", occurred_at: ago(170) },
    { contact: { id: maria.id }, type: "sms", direction: "inbound", from: maria.phone, to: sms, body: "14:30 please. Also, does insurance cover the x-ray?", provider: "demo", provider_message_id: "demo-sms-3", occurred_at: ago(25) },
    { contact: { id: maria.id }, type: "note", body: "Prefers afternoons. Ask about the insurance card at check-in.", provider: "demo", provider_message_id: "demo-note-1", occurred_at: ago(20) },
    {
      contact: { id: james.id }, type: "call", direction: "inbound", from: james.phone, to: sms, provider: "demo", provider_message_id: "demo-call-1", occurred_at: ago(300),
      call: { status: "completed", duration_seconds: 184, transcript: "Hi, this is James Chen. I chipped a tooth this morning and it hurts when I drink something cold. Do you have anything today or tomorrow? I can come any time after three. My number is the one I'm calling from. Thanks." },
    },
    { contact: { id: james.id }, type: "call", direction: "inbound", from: james.phone, to: sms, provider: "demo", provider_message_id: "demo-call-2", occurred_at: ago(95), call: { status: "no-answer", duration_seconds: 0 } },
    { contact: { id: priya.id }, type: "email", direction: "inbound", from: priya.email, to: DEMO.emailChannel.address, subject: "New patient forms", body: "Hello, I filled in the new patient forms. Do I need to bring anything else on Friday?", provider: "demo", provider_message_id: "demo-email-1", occurred_at: ago(45) },
    { contact: { id: priya.id }, type: "note", body: "Referred by Dr. Okafor.", provider: "demo", provider_message_id: "demo-note-2", occurred_at: ago(44) },
  ];
}
