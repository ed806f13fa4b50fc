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
