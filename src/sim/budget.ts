/**
 * The request budget of one simulated 坚果云 account: a sliding-window request log.
 *
 * jianguoyun.md §1 ("free accounts ≤ 600 requests per 30 min; paid accounts ≤ 1500 per 30 min") does not say
 * whether the window is sliding or fixed (marked G). The simulator's statement 1 says "within the trailing
 * 30 min", so this is a SLIDING window: a request at time `t` is refused when `budget` requests were already
 * counted in `(t - windowMs, t]`. A sliding window is also the stricter of the two shapes for a client: there is
 * no window boundary at which a burst of twice the budget could slip through.
 *
 * Pure: no timers, the clock is passed in, so tests drive it with a mocked `now`.
 */

/** A sliding-window request log (jianguoyun.md §1, simulator statement 1). */
export class SlidingWindowBudget {
  /** Timestamps (ms) of counted requests, oldest first; entries before `head` are expired. */
  private readonly log: number[] = [];
  private head = 0;

  /**
   * @param budget - requests allowed per window (jianguoyun.md §1: 600 free, 1500 paid)
   * @param windowMs - window length in ms (jianguoyun.md §1: 30 min)
   */
  constructor(
    readonly budget: number,
    readonly windowMs: number,
  ) {}

  /** Drops entries that left the window ending at `t`. */
  private prune(t: number): void {
    const cutoff = t - this.windowMs;
    while (this.head < this.log.length && this.log[this.head]! <= cutoff) this.head++;
    // Compact now and then so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Requests counted in the window ending at `t` (jianguoyun.md §1). */
  used(t: number): number {
    this.prune(t);
    return this.log.length - this.head;
  }

  /** Whether a request arriving at `t` is over budget, i.e. `budget` requests were already counted. */
  exhausted(t: number): boolean {
    return this.used(t) >= this.budget;
  }

  /** Counts one request at `t`. Timestamps must not go backwards; a smaller `t` is recorded as the last one. */
  record(t: number): void {
    const last = this.log[this.log.length - 1];
    this.log.push(last !== undefined && t < last ? last : t);
  }
}
