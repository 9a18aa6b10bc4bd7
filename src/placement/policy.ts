/**
 * Selection policies: one question, "in what order should upstreams be tried for this key?".
 * A policy is a small interface plus a name → factory registry (after Caddy's `selectionpolicies.go`).
 * Only `hash` exists today; other strategies arrive with the placement index.
 */
import { LRUCache } from 'lru-cache';
import { rank, type Weighted } from './hrw.js';

/** A selection policy ranks candidate upstreams for a canonical key, best first. Pure. */
export interface SelectionPolicy {
  readonly name: string;
  /** @returns candidates in the order to try them; the first is the owner of a new file. */
  rank<T extends Weighted>(key: string, candidates: readonly T[]): T[];
}

/** Weighted rendezvous hashing (see `hrw.ts`). */
export const hashPolicy: SelectionPolicy = { name: 'hash', rank };

/** The registry of policy names, used by config validation. */
export const POLICIES: Readonly<Record<string, () => SelectionPolicy>> = Object.freeze({
  hash: () => hashPolicy,
});

/** Bounds of {@link createRanker}'s memo: entries, and key characters (a key may be thousands long). */
export const RANK_CACHE_MAX_ENTRIES = 10_000;
export const RANK_CACHE_MAX_KEY_CHARS = 4 * 1024 * 1024;

/**
 * The ranking of a fixed candidate set, memoised per key. A policy is pure and the enabled upstreams never change
 * while a gateway runs, so a key's ranking never changes either; computing it costs one SHA-256 per upstream
 * (`hrw.ts`), which was ~5% of a proxied GET's CPU (issue 8). Least recently used keys are forgotten past
 * {@link RANK_CACHE_MAX_ENTRIES} entries or {@link RANK_CACHE_MAX_KEY_CHARS} characters of keys.
 *
 * @param policy - the selection policy
 * @param candidates - the candidate set, ranked for every key; must not change afterwards
 * @returns `(key) => ranking`, best first; the returned arrays are shared and must not be modified
 */
export function createRanker<T extends Weighted>(policy: SelectionPolicy, candidates: readonly T[]): (key: string) => readonly T[] {
  const memo = new LRUCache<string, readonly T[]>({
    max: RANK_CACHE_MAX_ENTRIES,
    maxSize: RANK_CACHE_MAX_KEY_CHARS,
    // The ranking arrays are small and bounded by the entry count; the key's length is what varies.
    sizeCalculation: (_ranking, key) => key.length + 1,
  });
  return (key) => {
    let ranked = memo.get(key);
    if (ranked === undefined) {
      ranked = Object.freeze(policy.rank(key, candidates));
      memo.set(key, ranked);
    }
    return ranked;
  };
}
