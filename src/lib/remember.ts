// The isolate's small caches (memberships, verified tokens, phone normalizations, view
// layouts, a member's views, memoized statements) are Maps with a bound: one way to keep
// the bound.

/** Sets `key` in `map`, first dropping the oldest entry (a Map keeps insertion order) when it holds `max`. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number) {
  if (!map.has(key) && map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/** The value of `key`, made the most recent entry (so remember() drops the least recently used, not just the oldest). */
export function recall<K, V>(map: Map<K, V>, key: K): V | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}
