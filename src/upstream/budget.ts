/**
 * A request budget: at most `requests` requests in any window of `windowMs`, at least `minSpacingMs` apart
 * (坚果云: 600 per 30 min on a free plan, 1500 paid, throttled with `503 BlockedTemporarily` past it;
 * jianguoyun.md §1, §2). Requests reserve a send time in arrival order: the caller waits until then. Pure
 * bookkeeping with an injected clock; the waiting is the caller's.
 */

/** Budget settings. */
export interface BudgetOptions {
  readonly requests: number;
  readonly windowMs: number;
  readonly minSpacingMs: number;
}

/** The per-upstream request budget. */
export class RequestBudget {
  readonly #opts: BudgetOptions;
  readonly #now: () => number;
  /** Reserved send times (ms epoch), ascending; only those within the last window are kept. */
  #sends: number[] = [];

  constructor(opts: BudgetOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
  }

  #prune(now: number): void {
    const from = now - this.#opts.windowMs;
    let i = 0;
    while (i < this.#sends.length && this.#sends[i]! <= from) i++;
    if (i > 0) this.#sends = this.#sends.slice(i);
  }

  /** Requests sent or reserved within the current window. */
  used(): number {
    this.#prune(this.#now());
    return this.#sends.filter((t) => t <= this.#now()).length;
  }

  /** Requests left in the current window (never negative). */
  remaining(): number {
    this.#prune(this.#now());
    return Math.max(0, this.#opts.requests - this.#sends.length);
  }

  /**
   * Reserves the earliest send time that keeps the budget and the spacing.
   *
   * @param maxWaitMs - give up (reserve nothing) if the wait would be longer
   * @returns the wait in ms (0 = send now), or `{ refusedForMs }` with the time until budget returns
   */
  reserve(maxWaitMs: number): number | { refusedForMs: number } {
    const now = this.#now();
    this.#prune(now);
    const { requests, windowMs, minSpacingMs } = this.#opts;
    let t = now;
    const last = this.#sends[this.#sends.length - 1];
    if (last !== undefined) t = Math.max(t, last + minSpacingMs);
    // The (requests)-th most recent send must have left the window by t.
    if (this.#sends.length >= requests) t = Math.max(t, this.#sends[this.#sends.length - requests]! + windowMs);
    const wait = t - now;
    if (wait > maxWaitMs) return { refusedForMs: wait };
    this.#sends.push(t);
    return wait;
  }
}
