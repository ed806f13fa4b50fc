import type { ConversationFilter } from "../conversations/queries";
import type { VIEW_KEYS } from "../db/enums";

export type ViewKey = (typeof VIEW_KEYS)[number];
export type ViewFilters = Omit<ConversationFilter, "contact_id">;

/** Every member's four non-deletable views (SPEC 7), in this order. */
export const SYSTEM_VIEWS: { key: ViewKey; name: string; filters: ViewFilters }[] = [
  { key: "unread", name: "Unread", filters: { unread: true, archived: false } },
  { key: "recents", name: "Recents", filters: { archived: false, active_within_days: 30 } },
  { key: "starred", name: "Starred", filters: { starred: true, archived: false } },
  { key: "all", name: "All", filters: { archived: false } },
];

/** Filters compared by meaning: key order and absent-vs-undefined do not matter. */
export function sameFilters(a: Record<string, unknown>, b: Record<string, unknown>) {
  const norm = (f: Record<string, unknown>) =>
    JSON.stringify(
      Object.keys(f)
        .filter((k) => f[k] !== undefined)
        .sort()
        .map((k) => [k, f[k]]),
    );
  return norm(a) === norm(b);
}
