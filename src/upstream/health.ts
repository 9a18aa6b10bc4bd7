/**
 * Passive health of one upstream as a small state machine with injected time (unit-testable without sockets),
 * after Envoy's outlier detection (a failure percentage over an interval, with a minimum request volume, plus
 * consecutive failures) and Caddy's `fail_duration` (failures remembered for a while, then forgotten).
 *
 * An upstream is marked down when either path trips:
 * - **ratio**: within the last `windowMs`, at least `minRequests` outcomes were recorded and at least
 *   `failureRatio` of them were failures. A few failures among many successes never mark it down, so a busy,
 *   healthy account does not flap on the odd error;
 * - **consecutive**: `failThreshold` failures in a row, so a dead upstream with little traffic (a 坚果云 account
 *   sees a request every few seconds at most) is still detected without waiting for `minRequests`.
 *
 * Only outcomes that say something about the upstream are recorded (see {@link isFailureStatus} and
 * `Upstream.request`): a client abort, a queue rejection, a `503 BlockedTemporarily` cool-down and a reused
 * connection that died before any byte of its answer (RFC 9112 §9.3.1; resent at once) are never recorded.
 *
 * While down, nothing but probes is sent; the first successful probe brings it back with a clean slate (issue 8,
 * "Recovery is slow": the prober probes a down upstream every `health.downIntervalMs`, like HAProxy's
 * `fastinter`).
 */

/**
 * Upstream statuses that count as failures for passive health (house style, after Caddy's
 * `unhealthy_status`): the server-side errors, and the upstream refusing davgate's own credentials.
 * - 500, 502, 503, 504: the account is failing (a 坚果云 `503 BlockedTemporarily` is handled before this, as a
 *   cool-down, not a failure).
 * - 401, 407: the account (or a proxy before it) refuses davgate's credentials. This is never the client's
 *   fault and no other request will do better: an app password that was revoked or stopped working
 *   (jianguoyun.md §6, "years-old app passwords were seen to stop working"; §1, throttled bursts answered 401).
 *   Each further request presents the refused password again, and repeated wrong passwords get the account
 *   locked (jianguoyun.md §6), so the upstream must be taken out like any failing one.
 */
const FAILURE_STATUS: ReadonlySet<number> = new Set([401, 407, 500, 502, 503, 504]);

/**
 * True when an upstream answer with HTTP `status` counts as a failure for passive health (and never as
 * traffic that shows the account alive). Pure. See {@link FAILURE_STATUS} for the list and why.
 */
export function isFailureStatus(status: number): boolean {
  return FAILURE_STATUS.has(status);
}

/** True for the statuses that mean the upstream refuses davgate's credentials (401, 407). Pure. */
export function isCredentialsRefused(status: number): boolean {
  return status === 401 || status === 407;
}

/** A health transition worth logging once. */
export type HealthChange = 'down' | 'up' | null;

/** Which path marked an upstream down (for logs and metrics; bounded). */
export type DownCause = 'consecutive' | 'ratio';

/** Health settings (the `health` section of the config, see `config/schema.ts`). */
export interface HealthOptions {
  /** Consecutive failures that mark the upstream down, whatever the window says (>= 1). */
  readonly failThreshold: number;
  /** Length of the sliding window failures are counted in (ms). */
  readonly windowMs: number;
  /** Outcomes the window must hold before the ratio may mark the upstream down (>= 1). */
  readonly minRequests: number;
  /** Share of failures in the window that marks the upstream down, in (0, 1]. */
  readonly failureRatio: number;
}

/**
 * Buckets the window is split into. The window slides one bucket at a time (a tenth of `windowMs`), so memory
 * stays constant under any load, and an old failure is forgotten at most a tenth of a window late.
 */
const BUCKETS = 10;

/** Passive health state of one upstream. */
export class HealthState {
  #healthy = true;
  #consecutiveFailures = 0;
  #downSince = 0;
  #lastCause: DownCause | undefined;
  readonly #opts: HealthOptions;
  readonly #now: () => number;
  readonly #bucketMs: number;
  /** Ring of per-bucket counts; `#epochs[i]` is the bucket number (time / bucketMs) slot i holds. */
  readonly #requests = new Array<number>(BUCKETS).fill(0);
  readonly #failures = new Array<number>(BUCKETS).fill(0);
  readonly #epochs = new Array<number>(BUCKETS).fill(-1);

  /**
   * @param opts - thresholds; see {@link HealthOptions}
   * @param now - clock (ms); tests pass a fake one
   */
  constructor(opts: HealthOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
    this.#bucketMs = Math.max(1, Math.ceil(opts.windowMs / BUCKETS));
  }

  /** True when the upstream takes traffic. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Consecutive failures counted so far. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Which path marked the upstream down last, or undefined if it never was. */
  get lastDownCause(): DownCause | undefined {
    return this.#lastCause;
  }

  /** How long the upstream has been down (ms); 0 when healthy. */
  downForMs(): number {
    return this.#healthy ? 0 : Math.max(0, this.#now() - this.#downSince);
  }

  /** Outcomes and failures recorded within the last `windowMs` (while healthy; cleared on every transition). */
  window(): { readonly requests: number; readonly failures: number } {
    const current = Math.floor(this.#now() / this.#bucketMs);
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#epochs[i]! > current - BUCKETS) {
        requests += this.#requests[i]!;
        failures += this.#failures[i]!;
      }
    }
    return { requests, failures };
  }

  /** Records an outcome that shows the upstream working; returns `up` when this brings it back. */
  recordSuccess(): HealthChange {
    this.#consecutiveFailures = 0;
    if (this.#healthy) {
      this.#count(false);
      return null;
    }
    // Back with a clean slate: failures from before the outage must not take it down again at once.
    this.#healthy = true;
    this.#clear();
    return 'up';
  }

  /**
   * Records an outcome that shows the upstream at fault; returns `down` when this marks it down. Both paths are
   * checked here only: a success never marks an upstream down.
   */
  recordFailure(): HealthChange {
    this.#consecutiveFailures++;
    // Already down: only probes are sent, and a failed probe changes nothing (the next one is due anyway).
    if (!this.#healthy) return null;
    this.#count(true);
    const cause = this.#tripped();
    if (cause === undefined) return null;
    this.#healthy = false;
    this.#downSince = this.#now();
    this.#lastCause = cause;
    this.#clear();
    return 'down';
  }

  #tripped(): DownCause | undefined {
    if (this.#consecutiveFailures >= this.#opts.failThreshold) return 'consecutive';
    const w = this.window();
    if (w.requests >= this.#opts.minRequests && w.failures >= w.requests * this.#opts.failureRatio) return 'ratio';
    return undefined;
  }

  #count(failure: boolean): void {
    const epoch = Math.floor(this.#now() / this.#bucketMs);
    const i = epoch % BUCKETS;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#requests[i] = 0;
      this.#failures[i] = 0;
    }
    this.#requests[i]!++;
    if (failure) this.#failures[i]!++;
  }

  #clear(): void {
    this.#epochs.fill(-1);
    this.#requests.fill(0);
    this.#failures.fill(0);
  }
}
