// npm run token -- <user_id> [--days N]: prints a bearer token signed with the local AUTH_JWT_SECRET.
import { signToken } from "./lib.mjs";

const [userId, ...rest] = process.argv.slice(2);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if (!userId || !UUID.test(userId)) {
  console.error("usage: npm run token -- <user_id (UUID)> [--days N]");
  process.exit(2);
}
const daysAt = rest.indexOf("--days");
const days = daysAt >= 0 ? Number(rest[daysAt + 1]) : 30;
console.log(await signToken(userId, { days }));
