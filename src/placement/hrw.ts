/**
 * Weighted rendezvous (highest random weight) hashing.
 *
 * The hash, so that any tool can compute placement (documented in the README):
 *   1. `d = SHA-256(utf8(upstreamId) || 0x00 || utf8(key))` where `key` is the canonical key
 *      (see `path/canonical.ts`: decoded, leading `/`, no trailing slash, e.g. `/music/a b.mp3`);
 *   2. `u = (first 8 bytes of d, big-endian, >> 11) + 0.5) / 2^53`, a uniform number in (0, 1);
 *   3. `score = -weight / ln(u)`;
 *   4. candidates are ranked by score, highest first; ties (practically impossible) break by id.
 * This is the logarithmic method of Schindelhauer & Schomaker ("Weighted distributed hash tables", 2005):
 * an upstream of weight w owns a share w / Σw of the keys, and adding or removing one upstream moves only
 * the keys it gains or loses.
 */
import { createHash } from 'node:crypto';

/** Something that can be ranked: an id and a positive weight. */
export interface Weighted {
  readonly id: string;
  readonly weight: number;
}

const TWO_POW_53 = 2 ** 53;

/** The HRW score of `key` on upstream `id` with `weight` (higher wins). Pure. */
export function hrwScore(id: string, weight: number, key: string): number {
  const d = createHash('sha256').update(id, 'utf8').update('\0').update(key, 'utf8').digest();
  const hi = d.readUInt32BE(0);
  const lo = d.readUInt32BE(4);
  // Top 53 bits of the first 64: hi (32 bits) then the top 21 bits of lo.
  const top53 = hi * 2 ** 21 + (lo >>> 11);
  const u = (top53 + 0.5) / TWO_POW_53;
  return -weight / Math.log(u);
}

/**
 * Ranks `candidates` for `key`, best first. The first element is the key's owner.
 *
 * @param key - canonical key
 * @param candidates - the enabled upstreams; not modified
 * @returns a new array, highest score first
 */
export function rank<T extends Weighted>(key: string, candidates: readonly T[]): T[] {
  return candidates
    .map((c) => ({ c, s: hrwScore(c.id, c.weight, key) }))
    .sort((a, b) => b.s - a.s || (a.c.id < b.c.id ? -1 : a.c.id > b.c.id ? 1 : 0))
    .map((x) => x.c);
}
