/**
 * One upstream WebDAV account: it owns its undici Pool, its admission limiter, its health and its counters,
 * and nothing else mutates them (house style, after Caddy's `hosts.go`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/schema.js';
import { DavgateError, Errors, errorCode, fromTransportError, isConnectError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { statusClass } from '../metrics.js';
import { encodeKey } from '../path/canonical.js';
import { LazyBody } from '../proxy/body.js';
import { decideResend, isStaleConnection } from '../proxy/retry.js';
import { connectionFactsOf, createUpstreamPool } from './connection.js';
import { HealthState, isCredentialsRefused, isFailureStatus } from './health.js';
import { Limiter, type Rejection } from './limiter.js';
import { RequestBudget, type Reservation } from './budget.js';
import { traitsOf } from './profile.js';
import type { Pool } from './undici-pool.js';
import { RESOURCETYPE_PROPFIND } from '../dav/multistatus.js';

/** Headers as undici returns them. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** A request to send to one upstream. */
export interface UpstreamRequest {
  readonly method: string;
  /** Canonical key of the target; encoded under the upstream's base path. */
  readonly key: string;
  /** Append a trailing slash (collections). */
  readonly collection?: boolean;
  /** Headers to send (already filtered); davgate adds `authorization` and `host`. */
  readonly headers?: Record<string, string>;
  /**
   * Request body: bytes, a {@link LazyBody} (a fresh stream per attempt, replayable by its rules, see
   * `proxy/body.ts`), or a plain stream (sent once, never replayed).
   */
  readonly body?: string | Buffer | LazyBody | Readable | null;
  /** Aborts the request (client disconnect). */
  readonly signal?: AbortSignal | undefined;
  /** Skip the "marked down" check (health probes). */
  readonly probe?: boolean;
  /**
   * Send to this path (and query) on the upstream's origin instead of the key's path: the next page of a
   * paged listing (`Link: <…>; rel="next"`). Must lie under the base path; see `proxy/paging.ts`.
   */
  readonly rawPath?: string;
}

/** An upstream answer. The admission slot is held until `body` ends or is destroyed. */
export interface UpstreamResponse {
  readonly upstream: Upstream;
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Dispatcher.ResponseData['body'];
}

/** A transport failure, tagged with whether the connection was ever made. */
export class UpstreamTransportError extends DavgateError {
  /** True when nothing reached the upstream (connect refused, DNS, connect timeout). */
  readonly connect: boolean;
  /** True for timeouts (504). */
  readonly timeout: boolean;
  constructor(base: DavgateError, connect: boolean) {
    super(base.code, base.statusCode, base.message, { cause: base.cause });
    this.connect = connect;
    this.timeout = base.statusCode === 504;
  }
}

/** A snapshot for the admin API (no credentials). */
export interface UpstreamStatus {
  readonly id: string;
  readonly url: string;
  readonly description: string | null;
  readonly enabled: boolean;
  readonly healthy: boolean;
  readonly weight: number;
  readonly inFlight: number;
  readonly maxConcurrent: number;
  readonly queue: number;
  /** Latency of the last completed request to response headers (ms), or null. */
  readonly lastLatencyMs: number | null;
  readonly consecutiveFailures: number;
  /** Outcomes and failures counted in the health window (`health.windowMs`). */
  readonly windowRequests: number;
  readonly windowFailures: number;
  /** How long the upstream has been marked down (ms); 0 when healthy. */
  readonly downForMs: number;
  /** The profile (`generic`, `jianguoyun`). */
  readonly profile: string;
  /** True while resting after `503 BlockedTemporarily`, and for how long still (ms). */
  readonly cooling: boolean;
  readonly coolingRemainingMs: number;
  /** Requests left in the budget window, or null without a budget. */
  readonly budgetRemaining: number | null;
}

/** One upstream account. */
export class Upstream {
  readonly id: string;
  readonly weight: number;
  readonly enabled: boolean;
  readonly maxConcurrent: number;
  readonly description: string | undefined;
  /** Base URL (origin + base path ending in `/`), without credentials. */
  readonly base: URL;
  readonly health: HealthState;
  readonly #pool: Pool;
  readonly #limiter: Limiter;
  readonly #authorization: string | undefined;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #lastLatencyMs: number | null = null;
  /** The account's request budget, if it has one (profile jianguoyun, or `budget:` in the config). */
  readonly budget: RequestBudget | undefined;
  readonly profile: UpstreamConfig['profile'];
  readonly #coolingMs: number;
  readonly #queueTimeoutMs: number;
  /** Connections in the pool; also the most stale-connection resends one request may need. */
  readonly #connections: number;
  /** Probe interval while down (ms): `health.downIntervalMs`, or `health.intervalMs` (see {@link slowWhileDown}). */
  readonly #downIntervalMs: number;
  readonly #intervalMs: number;
  /** The last failure that marked it down (or kept it down) was refused credentials (401/407). */
  #credentialsRefused = false;
  /** End of the current cool-down (ms epoch); 0 when not cooling. */
  #coolingUntil = 0;
  #lastTrafficOkAt = 0;
  /** Called once each time the upstream comes back up (the gateway replays its repair journal). */
  onUp: (() => void) | undefined;

  constructor(cfg: UpstreamConfig, config: Config, metrics: Metrics, log: Logger) {
    this.id = cfg.id;
    this.weight = cfg.weight;
    this.enabled = cfg.enabled;
    this.maxConcurrent = cfg.maxConcurrent;
    this.description = cfg.description;
    this.profile = cfg.profile;
    this.budget = cfg.budget ? new RequestBudget(cfg.budget) : undefined;
    this.#coolingMs = cfg.coolingMs;
    this.#queueTimeoutMs = config.limits.queueTimeoutMs;
    this.base = new URL(cfg.url);
    this.#metrics = metrics;
    this.#log = log.child({ upstream: cfg.id });
    this.#authorization =
      cfg.username !== undefined
        ? 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`, 'utf8').toString('base64')
        : undefined;
    this.health = new HealthState(config.health);
    this.#downIntervalMs = config.health.downIntervalMs;
    this.#intervalMs = config.health.intervalMs;
    this.#limiter = new Limiter({
      maxConcurrent: cfg.maxConcurrent,
      queueLength: config.limits.queueLength,
      queueTimeoutMs: config.limits.queueTimeoutMs,
    });
    this.#limiter.onChange = () => this.#gauge();
    // One extra connection beyond the limit lets a health probe through while the limit is saturated.
    this.#connections = cfg.maxConcurrent + 1;
    this.#pool = createUpstreamPool(this.base.origin, {
      connections: this.#connections,
      connectTimeoutMs: config.limits.connectTimeoutMs,
      headersTimeoutMs: config.limits.headersTimeoutMs,
      bodyTimeoutMs: config.limits.bodyTimeoutMs,
    });
    metrics.upstreamMaxConcurrent.set({ upstream: this.id }, cfg.maxConcurrent);
    metrics.upstreamUp.set({ upstream: this.id }, 1);
    metrics.upstreamInFlight.set({ upstream: this.id }, 0);
    metrics.upstreamQueueLength.set({ upstream: this.id }, 0);
  }

  /** True when the upstream takes traffic now (enabled and healthy). */
  get available(): boolean {
    return this.enabled && this.health.healthy && !this.cooling;
  }

  /**
   * True while the account rests after `503 BlockedTemporarily`: throttling is a cool-down, not an outage
   * (issue #4), so the upstream is not marked down, but nothing is sent to it, probes included.
   */
  get cooling(): boolean {
    return Date.now() < this.#coolingUntil;
  }

  /** Remaining cool-down (ms). */
  coolingRemainingMs(): number {
    return Math.max(0, this.#coolingUntil - Date.now());
  }

  /** The absolute upstream URL of a key. */
  urlFor(key: string, collection = false): string {
    return this.base.origin + encodeKey(key, this.base.pathname, collection);
  }

  /** The encoded upstream path of a key. */
  pathFor(key: string, collection = false): string {
    return encodeKey(key, this.base.pathname, collection);
  }

  /** Admin snapshot. */
  status(): UpstreamStatus {
    const window = this.health.window();
    return {
      id: this.id,
      url: this.base.href,
      description: this.description ?? null,
      enabled: this.enabled,
      healthy: this.health.healthy,
      weight: this.weight,
      inFlight: this.#limiter.inFlight,
      maxConcurrent: this.maxConcurrent,
      queue: this.#limiter.waiting,
      lastLatencyMs: this.#lastLatencyMs,
      consecutiveFailures: this.health.consecutiveFailures,
      windowRequests: window.requests,
      windowFailures: window.failures,
      downForMs: this.health.downForMs(),
      profile: this.profile,
      cooling: this.cooling,
      coolingRemainingMs: this.coolingRemainingMs(),
      budgetRemaining: this.budget ? this.budget.remaining() : null,
    };
  }

  /**
   * Sends one request: waits for an admission slot, then dispatches on the pool. The slot is released when
   * the response body ends, errors or is destroyed, so callers must consume or `dump()` every body.
   *
   * Cooling and health are checked on entry and again after the admission queue and after every budget wait,
   * right before sending; a request refused then, or abandoned by its client while waiting, hands its budget
   * booking back (nothing reached the account).
   *
   * @throws DavgateError 503 `DAVGATE_UPSTREAM_DOWN` (marked down; Retry-After = cool-down left),
   *   503 `DAVGATE_UPSTREAM_COOLING` (throttled; Retry-After = rest left), 503 `DAVGATE_BUDGET_EXHAUSTED`,
   *   503 queue errors, 499 `DAVGATE_CLIENT_CLOSED`, or {@link UpstreamTransportError} (502/504).
   */
  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (!this.enabled) throw Errors.UPSTREAM_DOWN(`${this.id} is disabled`);
    const refused = this.#refusal(req);
    if (refused) throw refused;
    const release = await this.#limiter.acquire(req.signal, (r: Rejection) =>
      this.#metrics.queueRejections.inc({ upstream: this.id, reason: r }),
    );
    this.#gauge();
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      release();
      this.#gauge();
    };
    // The account may have started cooling (or been marked down) while this request queued: re-check after
    // every wait, right before sending, so that one BlockedTemporarily is not followed by the whole queue
    // (the vendor counts refused requests too and a retry prolongs the block, jianguoyun.md §1).
    const refusedAfterQueue = this.#refusal(req);
    if (refusedAfterQueue) {
      done();
      throw refusedAfterQueue;
    }
    let booking: Reservation | undefined;
    if (this.budget) {
      // Every request counts against the account's budget (listing pages, ancestor MKCOLs, probes too).
      const r = this.budget.reserve(this.#queueTimeoutMs);
      if ('refusedForMs' in r) {
        done();
        this.#metrics.queueRejections.inc({ upstream: this.id, reason: 'budget' });
        throw Errors.BUDGET_EXHAUSTED(this.id, { retryAfterS: Math.max(1, Math.ceil(r.refusedForMs / 1000)) });
      }
      // Wait for the booked time; `send` records the request as sent only if going now keeps the budget over
      // the requests that really went out, else it asks for a little more waiting.
      let wait = r.waitMs;
      for (;;) {
        if (wait > 0) {
          this.#metrics.budgetWait.inc({ upstream: this.id }, wait / 1000);
          try {
            await sleep(wait, undefined, req.signal ? { signal: req.signal } : undefined);
          } catch (err) {
            // Nothing was sent: the booking goes back to the budget with the admission slot.
            this.budget.release(r);
            done();
            throw Errors.CLIENT_CLOSED(undefined, { cause: err });
          }
        }
        const refusedAfterWait = req.signal?.aborted ? Errors.CLIENT_CLOSED() : this.#refusal(req);
        if (refusedAfterWait) {
          this.budget.release(r);
          done();
          throw refusedAfterWait;
        }
        wait = this.budget.send(r);
        if (wait === 0) break;
      }
      booking = r;
    }
    const headers: Record<string, string> = { ...req.headers };
    if (this.#authorization) headers['authorization'] = this.#authorization;
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    for (let resends = 0; ; resends++) {
      try {
        res = await this.#pool.request({
          path: req.rawPath ?? this.pathFor(req.key, req.collection ?? false),
          method: req.method as Dispatcher.HttpMethod,
          headers,
          body: attemptBody(req.body),
          signal: req.signal,
        });
        break;
      } catch (err) {
        if (!req.signal?.aborted) {
          const facts = connectionFactsOf(err);
          const attempt = {
            code: errorCode(err),
            reused: facts?.reused ?? false,
            responseStarted: facts?.responseStarted ?? false,
          };
          // A reused keep-alive connection died before any byte of the answer (an idle connection a NAT box
          // forgot, or the server closed): not the upstream's fault, so resend at once, on another connection,
          // within the same admission slot and budget booking (the account never saw it; RFC 9112 §9.3.1).
          if (isStaleConnection(attempt)) {
            const decision = decideResend({
              ...attempt,
              replayable: isReplayable(req.body),
              resendsDone: resends,
              maxResends: this.#connections,
            });
            this.#metrics.staleConnections.inc({ upstream: this.id, result: decision === 'resend' ? 'resent' : 'failed' });
            if (decision === 'resend') continue;
            this.#log.debug({ event: 'stale_connection', code: attempt.code, resends }, 'stale connection: not resent');
            this.#transportFailed(req, booking, done);
            throw new UpstreamTransportError(fromTransportError(err, this.id), false);
          }
        }
        this.#transportFailed(req, booking, done);
        if (req.signal?.aborted) throw Errors.CLIENT_CLOSED(undefined, { cause: err });
        const connect = isConnectError(err);
        const mapped = fromTransportError(err, this.id);
        this.#fail(connect ? 'connect' : mapped.statusCode === 504 ? 'timeout' : 'transport', err);
        throw new UpstreamTransportError(mapped, connect);
      }
    }
    // The account counted the request before it answered: count it from now on (see budget.ts).
    if (booking) this.budget?.answered(booking);
    const latencyMs = performance.now() - started;
    this.#lastLatencyMs = Math.round(latencyMs * 10) / 10;
    this.#metrics.upstreamDuration.observe({ upstream: this.id }, latencyMs / 1000);
    this.#metrics.upstreamRequests.inc({
      method: req.method,
      upstream: this.id,
      status_class: statusClass(res.statusCode),
    });
    if (res.statusCode === 503 && traitsOf(this.profile).throttlesWith503) {
      // 坚果云 throttles with 503 and a BlockedTemporarily body, without Retry-After (jianguoyun.md §1).
      const text = await res.body.text().catch(() => '');
      done();
      if (text.includes('BlockedTemporarily')) {
        this.#coolingUntil = Date.now() + this.#coolingMs;
        this.#metrics.throttles.inc({ upstream: this.id });
        this.#log.warn({ event: 'upstream_cooling', coolingMs: this.#coolingMs }, `upstream ${this.id} throttled: cooling down`);
        throw Errors.UPSTREAM_COOLING(this.id, { retryAfterS: Math.ceil(this.#coolingMs / 1000) });
      }
      this.#fail('status_5xx', undefined, 503);
      throw new DavgateError('DAVGATE_UPSTREAM_STATUS', 503, `${this.id} answered 503`, { retryAfterS: 5 });
    }
    // A refused credential (401/407) is a failure too, never "traffic alive": see isFailureStatus.
    if (isFailureStatus(res.statusCode)) {
      this.#fail(isCredentialsRefused(res.statusCode) ? 'credentials' : 'status_5xx', undefined, res.statusCode);
    } else {
      this.#succeed();
      if (!req.probe) this.#lastTrafficOkAt = Date.now();
    }
    res.body.once('close', done);
    res.body.once('end', done);
    res.body.once('error', done);
    return { upstream: this, status: res.statusCode, headers: res.headers, body: res.body };
  }

  /**
   * Why a request must not be sent now, or undefined: the account is cooling after `503 BlockedTemporarily`
   * (`DAVGATE_UPSTREAM_COOLING`, Retry-After = rest left), or it is marked down and this is not a probe
   * (`DAVGATE_UPSTREAM_DOWN`, Retry-After = cool-down left). Asked on entry and again after every wait.
   */
  #refusal(req: UpstreamRequest): DavgateError | undefined {
    if (this.cooling) {
      return Errors.UPSTREAM_COOLING(this.id, { retryAfterS: Math.max(1, Math.ceil(this.coolingRemainingMs() / 1000)) });
    }
    if (!req.probe && !this.health.healthy) {
      // The next probe, which may bring it back, is at most one down-probe interval away.
      return Errors.UPSTREAM_DOWN(this.id, { retryAfterS: Math.max(1, Math.ceil(this.downProbeIntervalMs() / 1000)) });
    }
    return undefined;
  }

  /**
   * How long until this upstream may take traffic again (ms): the rest left while cooling, one down-probe
   * interval while down, 0 when available. For `Retry-After` on answers that need it.
   */
  unavailableForMs(): number {
    if (this.cooling) return this.coolingRemainingMs();
    if (!this.health.healthy) return this.downProbeIntervalMs();
    return 0;
  }

  /**
   * True while down, when the upstream must be probed at the slow `health.intervalMs` rather than the fast
   * `health.downIntervalMs` (see `prober.ts`, {@link slowWhileDown}).
   */
  get slowProbeWhileDown(): boolean {
    return slowWhileDown({ budgeted: this.budget !== undefined, credentialsRefused: this.#credentialsRefused });
  }

  /** How often this upstream is probed while down (ms). */
  downProbeIntervalMs(): number {
    return this.slowProbeWhileDown ? this.#intervalMs : this.#downIntervalMs;
  }

  /** Bookkeeping of a request that ended in a transport error: budget, admission slot, metrics. */
  #transportFailed(req: UpstreamRequest, booking: Reservation | undefined, done: () => void): void {
    // The account may have counted it (the budget counts it until now, the latest it can have arrived).
    if (booking) this.budget?.answered(booking);
    done();
    if (!req.signal?.aborted) {
      this.#metrics.upstreamRequests.inc({ method: req.method, upstream: this.id, status_class: 'error' });
    }
  }

  /**
   * When real traffic (not a probe) last got a healthy answer from this upstream (ms epoch; 0 = never). The
   * prober skips an upstream that answered recently: a probe would only spend its request budget (issue 4).
   */
  get lastTrafficOkAt(): number {
    return this.#lastTrafficOkAt;
  }

  /** Records an answer that shows the upstream working (real traffic or a probe). */
  #succeed(): void {
    const downForMs = this.health.downForMs();
    if (this.health.recordSuccess() === 'up') {
      this.#credentialsRefused = false;
      this.#metrics.upstreamUp.set({ upstream: this.id }, 1);
      this.#metrics.healthTransitions.inc({ upstream: this.id, to: 'up' });
      this.#log.info({ event: 'upstream_up', downForMs }, `upstream ${this.id} is up`);
      queueMicrotask(() => this.onUp?.());
    }
  }

  /**
   * Records a failure that shows the upstream at fault (README "Health": refused connections, timeouts,
   * other transport errors on a fresh connection, 5xx, refused credentials).
   */
  #fail(reason: HealthFailureReason, err: unknown, status?: number): void {
    this.#metrics.healthFailures.inc({ upstream: this.id, reason });
    this.#credentialsRefused = reason === 'credentials';
    if (this.health.recordFailure() === 'down') {
      this.#metrics.upstreamUp.set({ upstream: this.id }, 0);
      this.#metrics.healthTransitions.inc({ upstream: this.id, to: 'down' });
      this.#log.warn(
        { event: 'upstream_down', reason, cause: this.health.lastDownCause, status, code: errorCode(err) },
        `upstream ${this.id} marked down`,
      );
    }
  }

  #gauge(): void {
    this.#metrics.upstreamInFlight.set({ upstream: this.id }, this.#limiter.inFlight);
    this.#metrics.upstreamQueueLength.set({ upstream: this.id }, this.#limiter.waiting);
  }

  /**
   * Active probe: PROPFIND Depth 0 of the base path. Success (207/200) brings a down upstream back.
   * @returns true when the probe succeeded
   */
  async probe(timeoutMs: number): Promise<boolean> {
    try {
      const res = await this.request({
        method: 'PROPFIND',
        key: '/',
        headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8' },
        body: RESOURCETYPE_PROPFIND,
        signal: AbortSignal.timeout(timeoutMs),
        probe: true,
      });
      await res.body.dump();
      const ok = res.status === 207 || res.status === 200;
      this.#metrics.healthProbes.inc({ upstream: this.id, result: ok ? 'ok' : 'fail' });
      // request() already counted a failure status; any other non-207 answer fails the probe here.
      if (!ok && !isFailureStatus(res.status)) this.#fail('probe', undefined, res.status);
      return ok;
    } catch {
      // Transport failures were counted by request(). The probe's own timeout is not: it may have expired in
      // the admission queue behind real traffic, which says nothing about the upstream.
      this.#metrics.healthProbes.inc({ upstream: this.id, result: 'fail' });
      return false;
    }
  }

  /** Waits for in-flight requests to finish. */
  idle(): Promise<void> {
    return this.#limiter.onIdle();
  }

  /** Closes the pool (after in-flight requests end). */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** Destroys the pool at once. */
  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}

/** Why a failure was counted against an upstream's health (a bounded metric label). */
export type HealthFailureReason = 'connect' | 'timeout' | 'transport' | 'status_5xx' | 'credentials' | 'probe';

/**
 * Whether a down upstream is probed at the slow `health.intervalMs` instead of the fast `downIntervalMs`. Pure.
 * - An account with a request budget: a probe every 2 s would cost 900 requests per 30 minutes, more than a
 *   whole 坚果云 free budget of 600 (jianguoyun.md §1).
 * - Refused credentials: every probe presents the refused password again, and repeated wrong passwords get an
 *   account locked (jianguoyun.md §6); a fixed password is noticed at the slow interval.
 */
export function slowWhileDown(s: { readonly budgeted: boolean; readonly credentialsRefused: boolean }): boolean {
  return s.budgeted || s.credentialsRefused;
}

/** The body to hand undici for one attempt: a fresh stream of a {@link LazyBody}, or the body as given. */
function attemptBody(body: UpstreamRequest['body']): string | Buffer | Readable | null {
  if (body instanceof LazyBody) return body.attempt();
  return body ?? null;
}

/**
 * Whether a request body can be sent again after an attempt failed: no body, bytes, or a {@link LazyBody} that
 * is still unread or kept whole (`proxy/body.ts`). A plain stream never is. Pure.
 */
function isReplayable(body: UpstreamRequest['body']): boolean {
  if (body === undefined || body === null || typeof body === 'string' || Buffer.isBuffer(body)) return true;
  if (body instanceof LazyBody) return !body.started || body.replayable;
  return false;
}
