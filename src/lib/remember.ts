// The isolate's small caches (memberships, verified tokens, phone normalizations, view
// layouts, a member's views) are Maps with a bound: one way to keep the bound.

/** Sets `key` in `map`, first dropping the oldest entry (a Map keeps insertion order) when it holds `max`. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number) {
  if (!map.has(key) && map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
