/**
 * The per-upstream admission limit: at most `maxConcurrent` requests in flight, the rest wait in a FIFO
 * queue of bounded length for a bounded time (issue #2, "Queue"). A queued request stays with its upstream;
 * it never spills to another account that does not hold the file.
 *
 * A slot is held until the caller releases it (for a proxied GET, when the response body has been streamed
 * out). A free slot is taken synchronously: no timer, no abort listener and no promise chain on that path,
 * which every request takes (issue 8: p-queue plus a second AbortController per request cost ~4% of a GET's
 * CPU). Only a request that must wait gets a timer and listens for its client's abort.
 */
import { Errors } from '../errors.js';

/** Releases a slot; idempotent. */
export type Release = () => void;

/** Limiter settings. */
export interface LimiterOptions {
  /** Maximum slots held at once (>= 1). */
  readonly maxConcurrent: number;
  /** Maximum requests waiting (>= 0). */
  readonly queueLength: number;
  /** Maximum wait for a slot (ms). */
  readonly queueTimeoutMs: number;
}

/** Why a request was refused admission. */
export type Rejection = 'full' | 'timeout';

/** One request waiting for a slot. */
interface Waiter {
  admit(): void;
  fail(err: Error): void;
}

/** A FIFO admission limiter for one upstream. */
export class Limiter {
  readonly #opts: LimiterOptions;
  #held = 0;
  /** Waiting requests in arrival order (a Set keeps insertion order and drops a leaver in O(1)). */
  readonly #waiters = new Set<Waiter>();
  readonly #idle: (() => void)[] = [];
  /** Called after every change of inFlight/waiting (the owner updates its gauges). */
  onChange: (() => void) | undefined;

  constructor(opts: LimiterOptions) {
    this.#opts = opts;
  }

  /** Slots currently held. */
  get inFlight(): number {
    return this.#held;
  }

  /** Requests currently waiting. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Waits for a slot.
   *
   * @param signal - aborts the wait when the client goes away (the slot is never taken)
   * @param onReject - called with the reason when admission is refused (for metrics)
   * @returns a release function; call it exactly when the upstream exchange is over
   * @throws DavgateError 503 `DAVGATE_QUEUE_FULL` or `DAVGATE_QUEUE_TIMEOUT` (with Retry-After),
   *   or 499 `DAVGATE_CLIENT_CLOSED` when `signal` aborts while waiting; the signal's reason when it had
   *   already aborted on entry
   */
  acquire(signal: AbortSignal | undefined, onReject?: (r: Rejection) => void): Promise<Release> {
    try {
      signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#held < this.#opts.maxConcurrent && this.#waiters.size === 0) {
      this.#held++;
      this.onChange?.();
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiters.size >= this.#opts.queueLength) {
      onReject?.('full');
      return Promise.reject(Errors.QUEUE_FULL(undefined, { retryAfterS: this.#retryAfterS() }));
    }
    return new Promise<Release>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
      };
      const waiter: Waiter = {
        // Called by a release that hands its slot over (already counted in #held).
        admit: () => {
          leave();
          resolve(this.#releaser());
        },
        fail: (err) => {
          leave();
          this.onChange?.();
          reject(err);
        },
      };
      const onAbort = () => waiter.fail(Errors.CLIENT_CLOSED());
      const timer = setTimeout(() => {
        onReject?.('timeout');
        waiter.fail(Errors.QUEUE_TIMEOUT(undefined, { retryAfterS: this.#retryAfterS() }));
      }, this.#opts.queueTimeoutMs);
      timer.unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      this.onChange?.();
    });
  }

  /** Resolves when nothing is in flight or queued. */
  onIdle(): Promise<void> {
    if (this.#held === 0 && this.#waiters.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #retryAfterS(): number {
    return Math.max(1, Math.ceil(this.#opts.queueTimeoutMs / 1000));
  }

  /** The release function of one admitted request: hands the slot to the first waiter, or frees it. */
  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.values().next();
      if (next.done) this.#held--;
      // The slot passes straight to the next waiter, so no newcomer can take it first (FIFO).
      else next.value.admit();
      this.onChange?.();
      if (this.#held === 0 && this.#waiters.size === 0) for (const r of this.#idle.splice(0)) r();
    };
  }
}
