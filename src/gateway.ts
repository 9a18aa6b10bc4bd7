/**
 * The gateway's shared runtime: the upstreams, the selection policy, and the few cross-upstream questions
 * every method handler asks ("where does this key live?", "is it a collection?", "make sure the parent
 * exists there"). Method handlers in `methods/` compose these; they never touch pools or limiters directly.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { DavgateError, Errors, isRequestFault } from './errors.js';
import { Metrics } from './metrics.js';
import { ancestorKeys, parentKey } from './path/canonical.js';
import { createRanker, POLICIES, type SelectionPolicy } from './placement/policy.js';
import { RepairJournal, type Repair } from './placement/repairs.js';
import { LockManager, MemoryLockStore } from './locks/manager.js';
import { LazyBody } from './proxy/body.js';
import { combineLookup, decideRetry, isSafeMethod, type AttemptOutcome, type LookupAnswer } from './proxy/retry.js';
import { parseMultistatus, RESOURCETYPE_PROPFIND } from './dav/multistatus.js';
import { Upstream, UpstreamTransportError, type UpstreamRequest, type UpstreamResponse } from './upstream/upstream.js';
import { traitsOf } from './upstream/profile.js';

/** What a key is on one upstream. */
export type ResourceKind = 'file' | 'collection' | 'absent';

/** A request for {@link Gateway.send}: like {@link UpstreamRequest} but the body may be a {@link LazyBody}. */
export type SendRequest = Omit<UpstreamRequest, 'body'> & { readonly body?: string | Buffer | LazyBody | null };

/** Where a key was found. */
export interface Located {
  readonly kind: 'file' | 'collection';
  /** The upstream that answered (for a file: the one holding it). */
  readonly upstream: Upstream;
  /** Whether it was found somewhere other than its HRW owner. */
  readonly displaced: boolean;
}


const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** The statuses a failed lookup may report. */
function failureStatus(err: unknown): 502 | 503 | 504 {
  const s = err instanceof DavgateError ? err.statusCode : 502;
  return s === 503 || s === 504 ? s : 502;
}

/** The gateway runtime. Built once per process (or per test) from a validated config. */
export class Gateway {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly policy: SelectionPolicy;
  /** Every configured upstream, in config order. */
  readonly upstreams: readonly Upstream[];
  /** Enabled upstreams, the placement candidates. */
  readonly enabled: readonly Upstream[];
  /**
   * Collections known to exist on an upstream (`<id>\0<key>`), so that PUTs into the same folder do not
   * re-check or re-create ancestors. Cleared wholesale on collection DELETE/MOVE; a stale entry only
   * costs one upstream 409, after which it is dropped.
   */
  readonly #knownCollections = new LRUCache<string, true>({ max: 50_000 });
  /** What upstreams that were down owe for keys that changed meanwhile (see `placement/repairs.ts`). */
  readonly repairs = new RepairJournal();
  /** WebDAV locks, held by davgate for the whole namespace (issue #3); in memory, so a restart releases them. */
  readonly locks: LockManager;
  readonly #repairing = new Map<string, Promise<void>>();
  /** Per-key write serialisation: the tail of each key's queue of writers (see {@link withKeyLock}). */
  readonly #keyTails = new Map<string, Promise<void>>();
  /** Whether an enabled upstream has the jianguoyun profile (its forbidden name characters apply). */
  readonly #vendorNames: boolean;
  /** {@link candidates}, memoised per key (see `createRanker`). */
  readonly #rank: (key: string) => readonly Upstream[];

  constructor(config: Config, log: Logger, metrics = new Metrics()) {
    this.config = config;
    this.log = log;
    this.metrics = metrics;
    this.policy = POLICIES[config.strategy]!();
    this.upstreams = config.upstreams.map((u) => new Upstream(u, config, metrics, log));
    this.enabled = this.upstreams.filter((u) => u.enabled);
    this.#rank = createRanker(this.policy, this.enabled);
    this.#vendorNames = this.enabled.some((u) => traitsOf(u.profile).forbidsWindowsNameChars);
    for (const u of this.upstreams) u.onUp = () => void this.runRepairs(u);
    metrics.pendingRepairsSource = () => this.repairs.size;
    metrics.budgetSource = () =>
      this.upstreams.map((u) => ({
        id: u.id,
        remaining: u.budget ? u.budget.remaining() : null,
        used: u.budget ? u.budget.used() : null,
        cooling: u.cooling,
      }));
    this.locks = new LockManager(new MemoryLockStore(), {
      defaultTimeoutS: config.locks.defaultTimeoutS,
      maxTimeoutS: config.locks.maxTimeoutS,
    });
    metrics.locksActiveSource = () => this.locks.size;
  }

  /**
   * Candidates to read `key` from, in HRW order, with upstreams whose copy is known to be stale (a write or
   * delete happened while they were down and has not been repaired yet) moved last. Callers must skip an
   * upstream that is still stale when they reach it ({@link RepairJournal.isStale}): by then a repair may
   * have made it fresh and removed the displaced copy that was read first.
   */
  readCandidates(key: string): readonly Upstream[] {
    const ranked = this.candidates(key);
    if (!this.repairs.has(key)) return ranked;
    return [...ranked.filter((u) => !this.repairs.isStale(key, u.id)), ...ranked.filter((u) => this.repairs.isStale(key, u.id))];
  }

  /**
   * Journals a successful write of `key` on `u` (PUT, or the destination of COPY/MOVE). Upstreams ranked before
   * `u` were down (that is why `u` was chosen): the owner must take this copy back when it returns, and any
   * other skipped candidate must drop whatever older copy it may hold. A displaced copy elsewhere is now stale.
   */
  afterWrite(key: string, u: Upstream): void {
    const old = this.repairs.take(key);
    // Displaced copies that were waiting to be moved home are superseded by this write.
    for (const e of old) {
      if (e.repair.action === 'replace-from' && e.repair.source !== u.id) this.#dropCopy(key, e.repair.source);
    }
    // Whoever owed a repair still holds a stale copy (unless it is `u`, which is fresh now).
    for (const e of old) if (e.upstream !== u.id) this.repairs.set(key, e.upstream, { action: 'delete' });
    const ranked = this.candidates(key);
    const i = ranked.indexOf(u);
    for (let j = 0; j < i; j++) {
      const skipped = ranked[j]!;
      this.repairs.set(key, skipped.id, j === 0 ? { action: 'replace-from', source: u.id } : { action: 'delete' });
    }
  }

  /**
   * Journals that `key` was deleted (or moved away) while `unreached` could not be asked: they must delete
   * their copies when they return. Upstreams that were owed a newer copy now owe a delete instead.
   */
  afterDelete(key: string, unreached: readonly Upstream[]): void {
    for (const e of this.repairs.take(key)) this.repairs.set(key, e.upstream, { action: 'delete' });
    for (const u of unreached) this.repairs.set(key, u.id, { action: 'delete' });
  }

  /** Deletes a now-stale displaced copy, or journals the delete when its upstream is down. */
  #dropCopy(key: string, upstreamId: string): void {
    const u = this.upstreams.find((x) => x.id === upstreamId);
    if (!u) return;
    if (!u.available) return this.repairs.set(key, u.id, { action: 'delete' });
    void this.send(u, { method: 'DELETE', key })
      .then((r) => r.body.dump())
      .catch(() => this.repairs.set(key, upstreamId, { action: 'delete' }));
  }

  /**
   * Replays the repairs `u` owes, one at a time. Called when `u` comes back up and on every prober round.
   * A repair that fails stays in the journal for the next round.
   */
  runRepairs(u: Upstream): Promise<void> {
    const running = this.#repairing.get(u.id);
    if (running) return running;
    if (!u.available || this.repairs.dueFor(u.id).length === 0) return Promise.resolve();
    const run = (async () => {
      for (const e of this.repairs.dueFor(u.id)) {
        if (!u.available) break;
        try {
          // Serialised with client writes of the same key, and re-checked under that lock: a client may have
          // rewritten or deleted the key since the list was taken, which supersedes this repair.
          await this.withKeyLock([e.key], async () => {
            if (this.repairs.get(e.key, u.id) !== e.repair) return;
            await this.#repairOne(u, e.key, e.repair);
          });
          this.metrics.repairs.inc({ upstream: u.id, result: 'ok' });
        } catch (err) {
          this.metrics.repairs.inc({ upstream: u.id, result: 'fail' });
          this.log.warn({ upstream: u.id, err: (err as Error).message }, 'repair failed; will retry');
        }
      }
    })().finally(() => this.#repairing.delete(u.id));
    this.#repairing.set(u.id, run);
    return run;
  }

  /** Replays one repair; on success its journal entry is cleared. Called under the key's lock. */
  async #repairOne(u: Upstream, key: string, repair: Repair): Promise<void> {
    if (repair.action === 'delete') {
      const r = await this.send(u, { method: 'DELETE', key });
      await r.body.dump();
      if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE answered ${r.status}`);
      this.repairs.clear(key, u.id);
      return;
    }
    const source = this.upstreams.find((x) => x.id === repair.source);
    if (!source?.available) throw new Error(`source ${repair.source} unavailable`);
    try {
      await this.ensureParent(u, key);
      await this.transfer(source, key, u, key);
    } catch (err) {
      // The displaced copy or its folder is gone (deleted or moved through davgate meanwhile): nothing to restore.
      if (err instanceof DavgateError && (err.statusCode === 404 || err.statusCode === 409)) {
        this.repairs.clear(key, u.id);
        return;
      }
      throw err;
    }
    // The owner is fresh before the displaced copy goes, so a reader that finds the copy gone finds the owner.
    this.repairs.clear(key, u.id);
    const del = await this.send(source, { method: 'DELETE', key });
    await del.body.dump();
  }

  /**
   * Runs `fn` while holding the write locks of `keys` (taken in sorted order, so two callers never deadlock).
   * Client writes of a key and the replay of its repairs are serialised with it, so a repair can never copy
   * older bytes over a write that finished while it ran. Reads take no lock.
   */
  async withKeyLock<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const k of [...new Set(keys)].sort()) releases.push(await this.#acquireKey(k));
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  #acquireKey(key: string): Promise<() => void> {
    const prev = this.#keyTails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#keyTails.set(key, tail);
    return prev.then(() => () => {
      release();
      if (this.#keyTails.get(key) === tail) this.#keyTails.delete(key);
    });
  }

  /**
   * Streams `srcKey` from `src` into a PUT of `dstKey` on `dst` (cross-upstream COPY/MOVE and repairs).
   * The GET body is handed over once: the PUT is never retried after bytes left.
   *
   * @throws DavgateError 404 when the source is gone, or the status of whichever side failed
   */
  async transfer(src: Upstream, srcKey: string, dst: Upstream, dstKey: string, signal?: AbortSignal): Promise<void> {
    const get = await this.send(src, { method: 'GET', key: srcKey, headers: { 'accept-encoding': 'identity' }, signal });
    if (get.status !== 200) {
      await get.body.dump();
      throw new DavgateError('DAVGATE_UPSTREAM_STATUS', get.status === 404 ? 404 : 502, `${src.id} answered ${get.status} to GET`);
    }
    const headers: Record<string, string> = {};
    const len = get.headers['content-length'];
    const type = get.headers['content-type'];
    if (typeof len === 'string') headers['content-length'] = len;
    if (typeof type === 'string') headers['content-type'] = type;
    let put: UpstreamResponse;
    try {
      put = await dst.request({ method: 'PUT', key: dstKey, headers, body: get.body, signal });
    } catch (err) {
      get.body.destroy();
      throw err;
    }
    await put.body.dump();
    if (put.status !== 201 && put.status !== 204 && put.status !== 200) {
      // A refusal of the destination (423 Locked, 412, 403, 409, 507…) is the answer the client needs;
      // only credentials problems and upstream 5xx become a gateway error.
      const status = put.status >= 400 && put.status < 500 && put.status !== 401 && put.status !== 407 ? put.status : 502;
      throw new DavgateError('DAVGATE_UPSTREAM_STATUS', status, `${dst.id} answered ${put.status} to PUT`);
    }
  }

  /**
   * Refuses names some enabled upstream cannot store, before any upstream call: 坚果云 forbids
   * `: * ? " < > |` (jianguoyun.md §5), and a file may land on any candidate.
   *
   * @throws DavgateError 400 `DAVGATE_BAD_PATH` naming the characters
   */
  checkNames(segments: readonly string[]): void {
    if (!this.#vendorNames) return;
    for (const seg of segments) {
      if (/[:*?"<>|]/.test(seg)) {
        throw Errors.BAD_PATH('names cannot contain : * ? " < > | (a 坚果云 upstream refuses them)');
      }
    }
  }

  /** Enabled upstreams ranked for `key`, best first (the first is the owner of a new file). Shared: do not modify. */
  candidates(key: string): readonly Upstream[] {
    return this.#rank(key);
  }

  /**
   * The first available candidate for a new file, skipping `exclude` (candidates that just failed), and
   * whether it is not the owner (a failover).
   *
   * @throws DavgateError 503 `DAVGATE_NO_UPSTREAM` (Retry-After) when no candidate is left
   */
  placeNew(key: string, exclude: ReadonlySet<Upstream> = new Set()): { upstream: Upstream; failover: boolean } {
    const ranked = this.candidates(key);
    const i = ranked.findIndex((u) => u.available && !exclude.has(u));
    if (i < 0) {
      const retryAfterS = Math.max(1, Math.ceil(Math.min(...ranked.map((u) => u.unavailableForMs())) / 1000));
      throw Errors.NO_UPSTREAM(undefined, { retryAfterS: Number.isFinite(retryAfterS) ? retryAfterS : 5 });
    }
    if (i > 0) this.metrics.failovers.inc({ upstream: ranked[0]!.id, reason: 'owner_down' });
    return { upstream: ranked[i]!, failover: i > 0 };
  }

  /**
   * Sends a request with the single retry the rules allow ({@link decideRetry}): a connect error, or a transport
   * error of a safe method, is retried once after `failover.retryBackoffMs`, provided no body byte was sent and
   * the upstream is not marked down. A marked-down upstream is never waited on (its error goes back at once,
   * for the caller to fail over or answer 503), and a reused connection that died before any answer byte is
   * resent at once by `Upstream.request` itself.
   *
   * @throws DavgateError as {@link Upstream.request} does
   */
  async send(u: Upstream, req: SendRequest): Promise<UpstreamResponse> {
    const res = await this.#sendWithRetry(u, req);
    // The upstream's URI limit is below davgate's limits.maxPathBytes: the client's path is too long, which is
    // the client's 414 (RFC 9110 §15.5.15), not an upstream failure (502).
    if (res.status === 414) {
      await res.body.dump();
      throw Errors.URI_TOO_LONG(`${u.id} refused the path as too long; lower limits.maxPathBytes to match it`);
    }
    // Apache (mod_dir) answers a collection URL without its trailing slash with a redirect to the slashed URL,
    // for every method. davgate often cannot know beforehand that a key is a collection, so follow exactly
    // that redirect once. GET/HEAD are not followed: a collection's GET is answered from the merged listing.
    if (
      (res.status === 301 || res.status === 308 || res.status === 302 || res.status === 307) &&
      !req.collection &&
      req.key !== '/' &&
      req.method !== 'GET' &&
      req.method !== 'HEAD' &&
      !(req.body instanceof LazyBody)
    ) {
      const location = typeof res.headers['location'] === 'string' ? res.headers['location'] : '';
      let target = '';
      try {
        target = new URL(location, u.base).href;
      } catch {
        /* not a redirect we follow */
      }
      if (target === u.urlFor(req.key, true)) {
        await res.body.dump();
        this.#knownCollections.set(`${u.id}\0${req.key}`, true);
        return this.#sendWithRetry(u, { ...req, collection: true });
      }
    }
    return res;
  }

  async #sendWithRetry(u: Upstream, req: SendRequest): Promise<UpstreamResponse> {
    for (let retriesDone = 0; ; retriesDone++) {
      const lazy = req.body instanceof LazyBody ? req.body : undefined;
      try {
        // A LazyBody goes as is: Upstream.request takes a fresh stream of it per attempt (and may resend it).
        return await u.request(req);
      } catch (err) {
        const outcome = outcomeOf(err);
        const decision = decideRetry({
          outcome,
          retriesDone,
          bodyStarted: lazy !== undefined && lazy.started && !lazy.replayable,
          safe: isSafeMethod(req.method),
        });
        if (decision === 'final') throw err;
        // If this very failure marked the upstream down, the retry is refused at once (503 with Retry-After,
        // nothing sent): a marked-down upstream is never waited on.
        if (u.health.healthy) {
          this.metrics.failovers.inc({ upstream: u.id, reason: 'retry' });
          await delay(this.config.failover.retryBackoffMs);
        }
      }
    }
  }

  /**
   * What `key` is on one upstream, by PROPFIND Depth 0 asking only for `resourcetype`.
   *
   * @throws DavgateError 502/503/504 when the upstream cannot answer (never reported as absence)
   */
  async stat(u: Upstream, key: string, signal?: AbortSignal): Promise<ResourceKind> {
    if (key === '/') return 'collection';
    const cacheKey = `${u.id}\0${key}`;
    const res = await this.send(u, {
      method: 'PROPFIND',
      key,
      collection: this.#knownCollections.has(cacheKey),
      headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
      body: RESOURCETYPE_PROPFIND,
      signal,
    });
    // 409 (a missing parent) and 400 (Apache: a path below a regular file, ENOTDIR) mean the path cannot
    // exist there; davgate's own PROPFIND is always well-formed, so a 400 is never about the request.
    if (res.status === 404 || res.status === 409 || res.status === 410 || res.status === 400) {
      await res.body.dump();
      this.#knownCollections.delete(cacheKey);
      return 'absent';
    }
    if (res.status !== 207) {
      await res.body.dump();
      throw Errors.BAD_GATEWAY(`${u.id} answered ${res.status} to PROPFIND`);
    }
    const text = await res.body.text();
    const responses = parseMultistatus(text);
    const isCollection = responses[0]?.isCollection ?? false;
    if (isCollection) this.#knownCollections.set(cacheKey, true);
    return isCollection ? 'collection' : 'file';
  }

  /**
   * Finds `key`: asks candidates in HRW order, owner first, and stops at the first that has it. A candidate
   * that cannot answer makes the result 502/503/504 unless a later one has the key: an outage is never a 404.
   *
   * @throws DavgateError 404 when every candidate answered "not found"; 502/503/504 otherwise
   */
  async locate(key: string, signal?: AbortSignal): Promise<Located> {
    const ranked = this.readCandidates(key);
    if (key === '/') {
      const u = ranked.find((x) => x.available) ?? ranked[0];
      if (!u) throw Errors.NO_UPSTREAM();
      return { kind: 'collection', upstream: u, displaced: false };
    }
    const answers: LookupAnswer[] = [];
    let retryAfterS: number | undefined;
    for (const [i, u] of ranked.entries()) {
      if (this.repairs.isStale(key, u.id)) {
        answers.push({ kind: 'absent' });
        continue;
      }
      try {
        const kind = await this.stat(u, key, signal);
        if (kind !== 'absent') {
          if (i > 0) this.metrics.failovers.inc({ upstream: ranked[0]!.id, reason: 'found_on_candidate' });
          return { kind, upstream: u, displaced: i > 0 };
        }
        answers.push({ kind: 'absent' });
      } catch (err) {
        if (isRequestFault(err)) throw err;
        if (err instanceof DavgateError && err.retryAfterS) retryAfterS = Math.max(retryAfterS ?? 0, err.retryAfterS);
        answers.push({ kind: 'failed', status: failureStatus(err) });
      }
    }
    const verdict = combineLookup(answers);
    if (verdict.kind === 'not-found') throw Errors.NOT_FOUND();
    if (verdict.kind === 'unavailable') {
      throw new DavgateError('DAVGATE_UNAVAILABLE', verdict.status, 'an upstream that may hold this resource is unavailable', {
        retryAfterS: retryAfterS ?? 5,
      });
    }
    throw new Error('unreachable');
  }

  /**
   * What `key` is on each of `ups` (default: every enabled upstream), asked in parallel.
   * Failures are returned, not thrown, so callers can decide (e.g. 207 for partial DELETE).
   */
  async statAll(
    key: string,
    signal?: AbortSignal,
    ups: readonly Upstream[] = this.enabled,
  ): Promise<{ upstream: Upstream; kind?: ResourceKind; error?: DavgateError }[]> {
    return Promise.all(
      ups.map(async (u) => {
        try {
          const kind = await this.stat(u, key, signal);
          // A copy the journal marks stale is not the resource (it will be repaired).
          return { upstream: u, kind: kind === 'file' && this.repairs.isStale(key, u.id) ? ('absent' as const) : kind };
        } catch (err) {
          if (isRequestFault(err)) throw err;
          return { upstream: u, error: err instanceof DavgateError ? err : Errors.BAD_GATEWAY(u.id, { cause: err }) };
        }
      }),
    );
  }

  /** True when `key` is a collection somewhere on the gateway (the root always is). */
  async collectionExists(key: string, signal?: AbortSignal): Promise<boolean> {
    if (key === '/') return true;
    for (const u of this.enabled) if (this.#knownCollections.has(`${u.id}\0${key}`)) return true;
    try {
      return (await this.locate(key, signal)).kind === 'collection';
    } catch (err) {
      if (err instanceof DavgateError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /**
   * Makes sure the parent collection of `key` exists on `u`. If it exists on the gateway but not yet on `u`,
   * the missing ancestors are created there level by level (issue #2: "first creates the missing ancestors").
   *
   * @throws DavgateError 409 when the parent does not exist anywhere on the gateway (RFC 4918 §9.7.1)
   */
  async ensureParent(u: Upstream, key: string, signal?: AbortSignal): Promise<void> {
    const parent = parentKey(key);
    if (parent === '/' || this.#knownCollections.has(`${u.id}\0${parent}`)) return;
    const here = await this.stat(u, parent, signal);
    if (here === 'collection') return;
    if (here === 'file') throw Errors.CONFLICT('parent is not a collection');
    if (!(await this.collectionExists(parent, signal))) throw Errors.CONFLICT('parent collection does not exist');
    await this.createCollectionOn(u, parent, signal);
  }

  /**
   * Creates collection `key` and any missing ancestors on `u` (MKCOL per level; 405 "exists" is fine).
   * @throws DavgateError when an upstream MKCOL fails otherwise
   */
  async createCollectionOn(u: Upstream, key: string, signal?: AbortSignal): Promise<number> {
    let status = 405;
    for (const k of [...ancestorKeys(key), key]) {
      if (this.#knownCollections.has(`${u.id}\0${k}`)) continue;
      const res = await this.send(u, { method: 'MKCOL', key: k, collection: true, signal });
      await res.body.dump();
      if (res.status === 201 || res.status === 200 || res.status === 204 || res.status === 405) {
        this.#knownCollections.set(`${u.id}\0${k}`, true);
        if (k === key) status = res.status === 405 ? 405 : 201;
        continue;
      }
      // Two MKCOLs of one collection can race (rclone creates folders from parallel transfers); Apache then
      // answers the loser 403 "File exists". If the collection is there now, that is success.
      if (res.status !== 409 && res.status < 500 && (await this.stat(u, k, signal)) === 'collection') {
        this.#knownCollections.set(`${u.id}\0${k}`, true);
        if (k === key) status = 405;
        continue;
      }
      if (res.status >= 500) throw new DavgateError('DAVGATE_UPSTREAM_ERROR', res.status, `${u.id} answered ${res.status} to MKCOL`);
      throw new DavgateError('DAVGATE_UPSTREAM_ERROR', res.status === 409 ? 409 : 502, `${u.id} answered ${res.status} to MKCOL`);
    }
    return status;
  }

  /**
   * Whether davgate remembers `key` as a collection on `u` (it made or saw it there since the last collection
   * DELETE/MOVE); no upstream request. Lets MKCOL answer 405 for known folders without asking every account.
   */
  knowsCollection(u: Upstream, key: string): boolean {
    return this.#knownCollections.has(`${u.id}\0${key}`);
  }

  /** Remembers that `key` is a collection on `u` (after a successful MKCOL/COPY/MOVE there). */
  noteCollection(u: Upstream, key: string): void {
    this.#knownCollections.set(`${u.id}\0${key}`, true);
  }

  /** Forgets every cached collection (after a collection DELETE or MOVE). */
  forgetCollections(): void {
    this.#knownCollections.clear();
  }

  /** Closes every upstream pool. */
  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.close()));
  }
}

/** Classifies a thrown error as a retry outcome. */
export function outcomeOf(err: unknown): AttemptOutcome {
  if (err instanceof UpstreamTransportError) return { kind: 'transport', connect: err.connect, timeout: err.timeout };
  if (err instanceof DavgateError) {
    if (err.code === 'DAVGATE_UPSTREAM_DOWN') return { kind: 'down' };
    // Budget and cool-down refusals, and queue ones, are final: retrying soon cannot help.
    if (err.code === 'DAVGATE_BUDGET_EXHAUSTED') return { kind: 'resting', cooling: false };
    if (err.code === 'DAVGATE_UPSTREAM_COOLING') return { kind: 'resting', cooling: true };
    if (err.code === 'DAVGATE_QUEUE_FULL' || err.code === 'DAVGATE_QUEUE_TIMEOUT' || err.code === 'DAVGATE_UPSTREAM_STATUS') {
      return { kind: 'queue' };
    }
    if (err.statusCode === 499) return { kind: 'client-aborted' };
  }
  return { kind: 'transport', connect: false, timeout: false };
}
