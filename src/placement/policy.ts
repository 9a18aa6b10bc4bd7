/**
 * Selection policies: one question, "in what order should upstreams be tried for this key?".
 * A policy is a small interface plus a name → factory registry (after Caddy's `selectionpolicies.go`).
 * Only `hash` exists today; other strategies arrive with the placement index.
 */
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
