// SPEC 18: where an org may send its events. https:// only, and no host that names this
// machine or a private network by an IP literal or `localhost`, unless
// ALLOW_PRIVATE_WEBHOOK_URLS=true (local dev and tests, where http:// is allowed too).
// A DNS name is taken as it is: from a Worker, fetch() cannot reach private addresses
// behind a public name (Cloudflare's network does not route them).

const v4 = (host: string): number[] | null => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
};

/** A private, loopback, link-local, shared, multicast or unspecified IPv4 address. */
function privateV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

/** The same for an IPv6 literal (as URL writes it, without brackets, lowercased). */
function privateV6(host: string): boolean {
  if (host === "::" || host === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped) return privateV4(v4(mapped[1]) ?? [0]);
  // URL serializes an embedded IPv4 in hex groups: mapped ::ffff:7f00:1, the old
  // compatible form ::7f00:1, and NAT64 64:ff9b::7f00:1 all reach that IPv4 address.
  const hexMapped = /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (hexMapped) {
    const hi = Number.parseInt(hexMapped[1], 16);
    const lo = Number.parseInt(hexMapped[2], 16);
    return privateV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  }
  const first = Number.parseInt(host.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

/** Why `raw` cannot receive webhooks, or null when it can. */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.username || url.password) return "credentials in the URL are not allowed (put a token in the path or query)";
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) return "must be https://";
  if (allowPrivate) return null;
  // A trailing dot names the same host (`localhost.`).
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "localhost is not allowed";
  const ip4 = v4(host);
  if (ip4 && privateV4(ip4)) return "a private, loopback or link-local address is not allowed";
  if (host.startsWith("[") && privateV6(host.slice(1, -1))) return "a private, loopback or link-local address is not allowed";
  return null;
}
