/**
 * Passive health of one upstream as a small state machine with injected time (unit-testable without
 * sockets). `failThreshold` consecutive failures (transport errors, or the statuses of {@link isFailureStatus}:
 * 5xx and refused credentials) mark the upstream down for `cooldownMs`; while down, no traffic is sent. After
 * the cool-down only a successful probe (or request) brings it back, so a dead account is not hammered by real
 * traffic (issue #2, "Health").
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

/** A health transition worth logging once. */
export type HealthChange = 'down' | 'up' | null;

/** Health settings. */
export interface HealthOptions {
  readonly failThreshold: number;
  readonly cooldownMs: number;
}

/** Passive health state of one upstream. */
export class HealthState {
  #healthy = true;
  #consecutiveFailures = 0;
  #downUntil = 0;
  readonly #opts: HealthOptions;
  readonly #now: () => number;

  constructor(opts: HealthOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
  }

  /** True when the upstream takes traffic. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Consecutive failures counted so far. */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Milliseconds until the cool-down ends (0 when healthy or already over). */
  cooldownRemainingMs(): number {
    return this.#healthy ? 0 : Math.max(0, this.#downUntil - this.#now());
  }

  /** True when down and the cool-down is over, so a probe may be sent. */
  probeDue(): boolean {
    return !this.#healthy && this.#now() >= this.#downUntil;
  }

  /** Records a success; returns `up` when this brings the upstream back. */
  recordSuccess(): HealthChange {
    this.#consecutiveFailures = 0;
    if (this.#healthy) return null;
    this.#healthy = true;
    return 'up';
  }

  /** Records a failure; returns `down` when this crosses the threshold. */
  recordFailure(): HealthChange {
    this.#consecutiveFailures++;
    if (!this.#healthy) {
      this.#downUntil = this.#now() + this.#opts.cooldownMs;
      return null;
    }
    if (this.#consecutiveFailures < this.#opts.failThreshold) return null;
    this.#healthy = false;
    this.#downUntil = this.#now() + this.#opts.cooldownMs;
    return 'down';
  }
}
