/**
 * davgate's own lock table (RFC 4918 §6, §7, §9.10, §9.11): exclusive and shared write locks, depth 0 and
 * infinity, timeouts and refresh. Locks are held here rather than on the upstreams because a collection's
 * members live on several accounts, and some upstreams fake LOCK entirely (issue 3).
 *
 * Pure: no I/O; time comes from the injected `now()` (ms epoch). Storage sits behind {@link LockStore} so a
 * persistent backend (SQLite, Redis) can replace {@link MemoryLockStore} without touching the protocol code.
 * An expired lock is never returned by any method, whether or not {@link LockManager.sweep} has run.
 *
 * Scope (§6.1, §7.4): a lock covers its root; a depth-infinity lock also covers everything below the root.
 * A depth-0 lock on a collection protects the collection's own membership (adding or removing a member), which
 * callers check by asking {@link LockManager.covering} about the member's parent; it does not cover members.
 */
import { randomUUID } from 'node:crypto';
import { isSameOrBelow, type CanonicalKey } from '../path/canonical.js';

/** The lock scope (RFC 4918 §6.1, §14.13). Only write locks exist (§14.15), so there is no lock type here. */
export type LockScope = 'exclusive' | 'shared';

/** One granted write lock (RFC 4918 §6, §14.1). Immutable: a refresh stores a new object. */
export interface ActiveLock {
  /** The lock token, `urn:uuid:<v4 UUID>` (RFC 4918 §6.5, RFC 4122); unique among the locks in the store. */
  readonly token: string;
  /** Canonical key of the lock root (§6.7), e.g. `/` or `/a/b`. */
  readonly root: CanonicalKey;
  /** Whether the root was a collection when locked (decides the trailing slash of the DAV:lockroot href). */
  readonly rootIsCollection: boolean;
  /** `'0'` covers the root only; `'infinity'` covers the root and every resource below it (§9.10.3). */
  readonly depth: '0' | 'infinity';
  /** Exclusive or shared (§6.1). */
  readonly scope: LockScope;
  /** The DAV:owner element serialised verbatim as the client gave it (§14.17), or `null` when absent. */
  readonly owner: string | null;
  /** The granted timeout in seconds (§10.7), `null` for Infinite. */
  readonly timeoutS: number | null;
  /** When the lock expires, ms since the epoch by the manager's clock; `null` for never. */
  readonly expiresAt: number | null;
  /** The authenticated user that created the lock (§6.4), or `null` when the gateway runs without auth. */
  readonly principal: string | null;
}

/**
 * Where locks are kept. Small on purpose so a SQLite or Redis backend can be added later. The store holds
 * expired locks until {@link LockManager.sweep} or a removal drops them; it never interprets them.
 */
export interface LockStore {
  /** Every stored lock, expired or not, in any order. The manager copies it before deleting anything. */
  all(): Iterable<ActiveLock>;
  /** The lock with this token, or `undefined`. */
  get(token: string): ActiveLock | undefined;
  /** Inserts or replaces the lock with `lock.token`. */
  put(lock: ActiveLock): void;
  /** Removes the lock with this token; no-op when absent. */
  delete(token: string): void;
}

/** The default {@link LockStore}: a Map in process memory. A restart loses every lock. */
export class MemoryLockStore implements LockStore {
  private readonly byToken = new Map<string, ActiveLock>();

  /** @inheritDoc */
  all(): Iterable<ActiveLock> {
    return this.byToken.values();
  }

  /** @inheritDoc */
  get(token: string): ActiveLock | undefined {
    return this.byToken.get(token);
  }

  /** @inheritDoc */
  put(lock: ActiveLock): void {
    this.byToken.set(lock.token, lock);
  }

  /** @inheritDoc */
  delete(token: string): void {
    this.byToken.delete(token);
  }
}

/** Options of {@link LockManager}. */
export interface LockManagerOptions {
  /**
   * The longest timeout granted, in seconds (> 0). Requests for more, and `Infinite`, get this. `Infinity`
   * lets `Infinite` through as a lock that never expires (not recommended: a client that vanishes keeps it).
   */
  maxTimeoutS: number;
  /** Seconds granted when the request has no usable Timeout header (> 0); capped at `maxTimeoutS`. */
  defaultTimeoutS: number;
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** A LOCK request as {@link LockManager.lock} needs it; the handler has already parsed headers and body. */
export interface LockRequest {
  /** Canonical key of the resource to lock (it becomes the lock root). */
  key: CanonicalKey;
  /** Whether the resource is a collection. */
  rootIsCollection: boolean;
  /** From the Depth header: `'0'` or `'infinity'` (the default for LOCK, §9.10.3). */
  depth: '0' | 'infinity';
  /** From DAV:lockscope. */
  scope: LockScope;
  /** The serialised DAV:owner element, or `null`. */
  owner: string | null;
  /** From {@link parseTimeoutHeader}: seconds, `null` for Infinite, `undefined` when absent or unusable. */
  timeoutS: number | null | undefined;
  /** The authenticated user, or `null`. */
  principal: string | null;
}

/** The outcome of {@link LockManager.lock}: the new lock, or the live locks it conflicts with (§9.10.5). */
export type LockResult = { ok: true; lock: ActiveLock } | { ok: false; conflicts: ActiveLock[] };

function checkPositive(name: string, v: number, allowInfinity: boolean): void {
  if (!(v > 0) || (!allowInfinity && !Number.isFinite(v))) {
    throw new RangeError(`LockManager: ${name} must be a positive number of seconds, got ${v}`);
  }
}

/**
 * The lock table: conflict rules, timeouts, refresh, unlock and the removal that DELETE and MOVE cause.
 * Every query filters out expired locks by `now()`; {@link sweep} reclaims their storage.
 * Lookups scan the whole store (O(number of locks)), which is fine for the handful of locks clients hold.
 */
export class LockManager {
  private readonly store: LockStore;
  private readonly maxTimeoutS: number;
  private readonly defaultTimeoutS: number;
  private readonly now: () => number;

  /**
   * @param store - where locks live
   * @param opts - timeout bounds (seconds) and the clock
   * @throws RangeError when `maxTimeoutS` or `defaultTimeoutS` is not a positive number (naming the option)
   */
  constructor(store: LockStore, opts: LockManagerOptions) {
    checkPositive('maxTimeoutS', opts.maxTimeoutS, true);
    checkPositive('defaultTimeoutS', opts.defaultTimeoutS, false);
    this.store = store;
    this.maxTimeoutS = opts.maxTimeoutS;
    this.defaultTimeoutS = Math.min(opts.defaultTimeoutS, opts.maxTimeoutS);
    this.now = opts.now ?? Date.now;
  }

  private live(): ActiveLock[] {
    const t = this.now();
    const out: ActiveLock[] = [];
    for (const l of this.store.all()) if (l.expiresAt === null || l.expiresAt > t) out.push(l);
    return out;
  }

  private isLive(l: ActiveLock): boolean {
    return l.expiresAt === null || l.expiresAt > this.now();
  }

  /**
   * The live locks whose scope includes `key` (RFC 4918 §6.1, §7.4): rooted at `key`, or rooted at a proper
   * ancestor with depth infinity. These are the locks a write to `key` must hold the token of (§7.1), and the
   * tokens that match `key` in an `If` header (§10.4.4).
   *
   * @param key - canonical key; need not exist (a lock covers unmapped URLs below its root, §7.3)
   * @returns in store order
   */
  covering(key: CanonicalKey): ActiveLock[] {
    return this.live().filter((l) => l.root === key || (l.depth === 'infinity' && isSameOrBelow(key, l.root)));
  }

  /**
   * The live locks rooted strictly below `key`. A depth-infinity LOCK, DELETE or MOVE of `key` must consider
   * them (§9.10.5, §9.6.1).
   *
   * @param key - canonical key
   */
  below(key: CanonicalKey): ActiveLock[] {
    return this.live().filter((l) => l.root !== key && isSameOrBelow(l.root, key));
  }

  private grantS(requested: number | null | undefined): number | null {
    if (requested === undefined || Number.isNaN(requested)) return this.defaultTimeoutS;
    // Infinite is capped by config (issue 3); only maxTimeoutS = Infinity grants it as is.
    const s = Math.min(requested ?? Infinity, this.maxTimeoutS);
    // Second-0 would be born expired; one second is the shortest lock worth granting.
    return s === Infinity ? null : Math.max(1, Math.floor(s));
  }

  private expiry(timeoutS: number | null): number | null {
    return timeoutS === null ? null : this.now() + timeoutS * 1000;
  }

  /**
   * Creates a lock unless it conflicts (RFC 4918 §6.1, §9.10.5): a conflict is a live lock that covers
   * `req.key`, or, for a depth-infinity request, a live lock rooted below `req.key`, where the existing lock or
   * the request is exclusive. Shared with shared never conflicts. Depth-0 locks on ancestors do not cover
   * `req.key` and so never conflict.
   *
   * Timeout (§10.7): a requested number of seconds is capped at `maxTimeoutS` (and raised to at least 1);
   * `undefined` gets `defaultTimeoutS`; `null` (Infinite) gets `maxTimeoutS`.
   *
   * @returns `{ ok: true, lock }` with a fresh `urn:uuid:` token, stored; or `{ ok: false, conflicts }` listing
   *   every conflicting lock (covering ones first), nothing stored
   */
  lock(req: LockRequest): LockResult {
    const candidates = req.depth === 'infinity' ? [...this.covering(req.key), ...this.below(req.key)] : this.covering(req.key);
    const conflicts = candidates.filter((l) => l.scope === 'exclusive' || req.scope === 'exclusive');
    if (conflicts.length > 0) return { ok: false, conflicts };
    let token: string;
    do token = `urn:uuid:${randomUUID()}`;
    while (this.store.get(token) !== undefined);
    const timeoutS = this.grantS(req.timeoutS);
    const lock: ActiveLock = Object.freeze({
      token,
      root: req.key,
      rootIsCollection: req.rootIsCollection,
      depth: req.depth,
      scope: req.scope,
      owner: req.owner,
      timeoutS,
      expiresAt: this.expiry(timeoutS),
      principal: req.principal,
    });
    this.store.put(lock);
    return { ok: true, lock };
  }

  private liveCovering(token: string, key: CanonicalKey): ActiveLock | undefined {
    const l = this.store.get(token);
    if (l === undefined || !this.isLive(l)) return undefined;
    const covers = l.root === key || (l.depth === 'infinity' && isSameOrBelow(key, l.root));
    return covers ? l : undefined;
  }

  /** The unexpired lock with `token`, if any. */
  byToken(token: string): ActiveLock | undefined {
    const l = this.store.get(token);
    return l && this.isLive(l) ? l : undefined;
  }

  /**
   * Refreshes a lock (RFC 4918 §9.10.2): restarts its timeout from `now()`, granted by the same rules as
   * {@link lock}. Whether the client may (principal, §6.4) is the caller's decision.
   *
   * @param token - the token submitted in the `If` header
   * @param key - the Request-URI's key; it must be within the lock's scope
   * @param timeoutS - from {@link parseTimeoutHeader}
   * @returns the refreshed lock (stored), or `undefined` when no live lock with that token covers `key`
   *   (the handler answers 412 with `DAV:lock-token-matches-request-uri`, §9.10.6)
   */
  refresh(token: string, key: CanonicalKey, timeoutS: number | null | undefined): ActiveLock | undefined {
    const l = this.liveCovering(token, key);
    if (l === undefined) return undefined;
    const granted = this.grantS(timeoutS);
    const next: ActiveLock = Object.freeze({ ...l, timeoutS: granted, expiresAt: this.expiry(granted) });
    this.store.put(next);
    return next;
  }

  /**
   * Removes a lock (RFC 4918 §9.11): the Request-URI must be within its scope (a member of a depth-infinity
   * lock's collection may be used, not only the root). Whether the principal may is the caller's decision.
   *
   * @param token - from the `Lock-Token` header, without `<>`
   * @param key - the Request-URI's key
   * @returns the removed lock, or `undefined` when no live lock with that token covers `key`
   *   (the handler answers 409 with `DAV:lock-token-matches-request-uri`, §9.11.1)
   */
  unlock(token: string, key: CanonicalKey): ActiveLock | undefined {
    const l = this.liveCovering(token, key);
    if (l !== undefined) this.store.delete(token);
    return l;
  }

  /**
   * Ends the locks rooted at or below `key`, as a successful DELETE of `key` or MOVE away from it does
   * (RFC 4918 §7.5, §9.6, §9.9.4). Locks rooted above `key` stay. Expired locks there are dropped too.
   *
   * @returns the live locks removed
   */
  removeAtOrBelow(key: CanonicalKey): ActiveLock[] {
    const t = this.now();
    const removed: ActiveLock[] = [];
    for (const l of [...this.store.all()]) {
      if (!isSameOrBelow(l.root, key)) continue;
      this.store.delete(l.token);
      if (l.expiresAt === null || l.expiresAt > t) removed.push(l);
    }
    return removed;
  }

  /** The number of live (unexpired) locks, for the active-locks gauge. */
  get size(): number {
    return this.live().length;
  }

  /**
   * Deletes expired locks from the store. Queries already ignore them; this only reclaims storage, so call it
   * on a timer.
   *
   * @returns how many were deleted
   */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const l of [...this.store.all()]) {
      if (l.expiresAt !== null && l.expiresAt <= t) {
        this.store.delete(l.token);
        n++;
      }
    }
    return n;
  }
}

/** The largest `Second-N` a client may send (RFC 4918 §10.7: "MUST NOT be greater than 2^32-1"). */
export const MAX_TIMEOUT_VALUE_S = 4294967295;

/**
 * Parses a `Timeout` request header (RFC 4918 §10.7): `TimeOut = "Timeout" ":" 1#TimeType`,
 * `TimeType = ("Second-" DeltaSeconds | "Infinite")`. The client lists its preferences; the first element
 * understood wins. Literals are case-insensitive (RFC 5234 §2.3); empty list elements are skipped
 * (RFC 9110 §5.6.1). A `Second-N` above 2^32-1 is read as 2^32-1 (the manager caps it anyway).
 *
 * @param value - the header value, e.g. `Infinite, Second-4100000000`; `undefined` when absent
 * @returns seconds for `Second-N`, `null` for `Infinite`, `undefined` when absent or nothing is understood.
 *   Never throws: a bad Timeout header is not worth a 400, the server picks the timeout anyway.
 */
export function parseTimeoutHeader(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  for (const raw of value.split(',')) {
    const el = raw.trim();
    if (/^infinite$/i.test(el)) return null;
    const m = /^second-([0-9]+)$/i.exec(el);
    if (m) return Math.min(Number(m[1]), MAX_TIMEOUT_VALUE_S);
  }
  return undefined;
}
