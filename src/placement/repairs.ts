/**
 * The repair journal: what davgate owes an upstream that was down while its keys changed.
 *
 * Without it, a write that failed over while the owner was down is undone when the owner comes back
 * (reads ask the owner first and find its older copy), and a DELETE that could not reach a down upstream
 * lets the file reappear later. Both are lost updates. The journal records, per key and upstream, the
 * action that makes the upstream right again, hides that upstream's stale copy from reads meanwhile, and is
 * replayed when the upstream is up (issue #2, "Failover"; a later issue persists it with the placement index).
 *
 * Pure data structure: no I/O. Kept in memory, so a restart during an outage forgets pending repairs.
 */

/** What an upstream must do for one key once it is back. */
export type Repair =
  /** Its copy is stale: replace it with the copy on `source`, then delete that displaced copy. */
  | { readonly action: 'replace-from'; readonly source: string }
  /** The key was deleted while it was down: delete its copy. */
  | { readonly action: 'delete' };

/** One journal entry. */
export interface RepairEntry {
  readonly key: string;
  readonly upstream: string;
  readonly repair: Repair;
}

/** Pending repairs by key, then by upstream id. */
export class RepairJournal {
  readonly #byKey = new Map<string, Map<string, Repair>>();

  /** Number of pending repairs. */
  get size(): number {
    let n = 0;
    for (const m of this.#byKey.values()) n += m.size;
    return n;
  }

  /** Records (or replaces) the repair `upstream` owes for `key`. */
  set(key: string, upstream: string, repair: Repair): void {
    let m = this.#byKey.get(key);
    if (!m) this.#byKey.set(key, (m = new Map()));
    m.set(upstream, repair);
  }

  /** The repair `upstream` owes for `key`, if any. */
  get(key: string, upstream: string): Repair | undefined {
    return this.#byKey.get(key)?.get(upstream);
  }

  /** True when some upstream owes a repair for `key` (one map lookup: asked on every read). */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** True when `upstream`'s copy of `key` must not be served (it is stale or deleted). */
  isStale(key: string, upstream: string): boolean {
    return this.#byKey.get(key)?.has(upstream) ?? false;
  }

  /** Drops the repair `upstream` owes for `key`. */
  clear(key: string, upstream: string): void {
    const m = this.#byKey.get(key);
    if (!m) return;
    m.delete(upstream);
    if (m.size === 0) this.#byKey.delete(key);
  }

  /** Drops every repair for `key` and returns them (the key was rewritten or deleted everywhere). */
  take(key: string): RepairEntry[] {
    const m = this.#byKey.get(key);
    if (!m) return [];
    this.#byKey.delete(key);
    return [...m].map(([upstream, repair]) => ({ key, upstream, repair }));
  }

  /** Drops every repair for keys at or below `prefix` (a collection was deleted or moved away). */
  takeBelow(prefix: string): RepairEntry[] {
    const out: RepairEntry[] = [];
    for (const key of [...this.#byKey.keys()]) {
      if (prefix === '/' || key === prefix || key.startsWith(prefix + '/')) out.push(...this.take(key));
    }
    return out;
  }

  /** Number of repairs `upstream` owes (the prober asks this every round before replaying them). */
  pendingFor(upstream: string): number {
    let n = 0;
    for (const m of this.#byKey.values()) if (m.has(upstream)) n++;
    return n;
  }

  /** The repairs `upstream` owes, oldest first. */
  dueFor(upstream: string): RepairEntry[] {
    const out: RepairEntry[] = [];
    for (const [key, m] of this.#byKey) {
      const r = m.get(upstream);
      if (r) out.push({ key, upstream, repair: r });
    }
    return out;
  }
}
