/**
 * The per-upstream admission limit: at most `maxConcurrent` requests in flight, the rest wait in a FIFO
 * queue of bounded length for a bounded time (issue #2, "Queue"). A queued request stays with its upstream;
 * it never spills to another account that does not hold the file.
 *
 * Built on p-queue: each admitted request is a p-queue task that stays "running" until the caller releases
 * its slot (for a proxied GET that is when the response body has been streamed out).
 */
import PQueue from 'p-queue';
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

/** A FIFO admission limiter for one upstream. */
export class Limiter {
  readonly #queue: PQueue;
  readonly #opts: LimiterOptions;
  /** Exact counts, updated synchronously (p-queue's pending/size lag a microtask behind a release). */
  #held = 0;
  #waiting = 0;
  /** Called after every change of inFlight/waiting (the owner updates its gauges). */
  onChange: (() => void) | undefined;

  constructor(opts: LimiterOptions) {
    this.#opts = opts;
    this.#queue = new PQueue({ concurrency: opts.maxConcurrent });
  }

  /** Slots currently held. */
  get inFlight(): number {
    return this.#held;
  }

  /** Requests currently waiting. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Waits for a slot.
   *
   * @param signal - aborts the wait when the client goes away (the slot is never taken)
   * @param onReject - called with the reason when admission is refused (for metrics)
   * @returns a release function; call it exactly when the upstream exchange is over
   * @throws DavgateError 503 `DAVGATE_QUEUE_FULL` or `DAVGATE_QUEUE_TIMEOUT` (with Retry-After),
   *   or 499 `DAVGATE_CLIENT_CLOSED` when `signal` aborts while waiting
   */
  async acquire(signal: AbortSignal | undefined, onReject?: (r: Rejection) => void): Promise<Release> {
    const retryAfterS = Math.max(1, Math.ceil(this.#opts.queueTimeoutMs / 1000));
    if (this.#held >= this.#opts.maxConcurrent && this.#waiting >= this.#opts.queueLength) {
      onReject?.('full');
      throw Errors.QUEUE_FULL(undefined, { retryAfterS });
    }
    signal?.throwIfAborted();
    // A controller of our own: p-queue reads its signal both while queued and while running, and we only
    // want the wait to be bounded, never the request itself.
    const waitCtl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      waitCtl.abort();
    }, this.#opts.queueTimeoutMs);
    timer.unref?.();
    const onClientAbort = () => waitCtl.abort();
    signal?.addEventListener('abort', onClientAbort, { once: true });

    let releaseTask!: () => void;
    const done = new Promise<void>((resolve) => (releaseTask = resolve));
    let admitted!: () => void;
    const started = new Promise<void>((resolve) => (admitted = resolve));
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onClientAbort);
    };

    this.#waiting++;
    let counted = true;
    const unqueue = () => {
      if (counted) {
        counted = false;
        this.#waiting--;
      }
    };
    this.onChange?.();
    const task = this.#queue.add(
      async () => {
        cleanup();
        unqueue();
        this.#held++;
        this.onChange?.();
        admitted();
        await done;
      },
      { signal: waitCtl.signal },
    );
    try {
      await Promise.race([started, task]);
    } catch {
      cleanup();
      unqueue();
      this.onChange?.();
      if (timedOut) {
        onReject?.('timeout');
        throw Errors.QUEUE_TIMEOUT(undefined, { retryAfterS });
      }
      throw Errors.CLIENT_CLOSED();
    }
    task.catch(() => undefined);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held--;
      releaseTask();
      this.onChange?.();
    };
  }

  /** Resolves when nothing is in flight or queued. */
  onIdle(): Promise<void> {
    return this.#queue.onIdle();
  }
}
