/**
 * A request budget: at most `requests` requests in any window of `windowMs`, at least `minSpacingMs` apart
 * (坚果云: 600 per 30 min on a free plan, 1500 paid, throttled with `503 BlockedTemporarily` past it;
 * jianguoyun.md §1, §2). Pure bookkeeping with an injected clock; the waiting is the caller's.
 *
 * The account counts requests when they arrive (jianguoyun.md statement 1), which davgate cannot see. It sees
 * two bounds: a request arrives after davgate sent it and before davgate gets its answer. So two logs are kept:
 * - **counted**: one time per request that really went out. It is the send time while the request is in
 *   flight and becomes the time of the answer once that comes ({@link RequestBudget.answered}), so it is never
 *   earlier than the arrival the account counted. A request is added only by {@link RequestBudget.send}, right
 *   before it is sent, and only if sending then keeps fewer than `requests` counted in the window: the next
 *   window's requests are held back from the latest moment the account may have counted the old ones, however
 *   late they left or long they took to arrive (busy event loop, slow connection).
 * - **booked**: send times promised to requests that are waiting. They count as sends when later requests are
 *   planned, so waiters queue up in arrival order instead of all waking at once; a booking that is never sent
 *   (the client gave up, the account started cooling) is handed back with {@link RequestBudget.release}.
 *
 * Spacing (`minSpacingMs`) is between send times, as the vendor's client spaces request starts (Bottleneck
 * `minTime`, jianguoyun.md §2).
 */

/** Budget settings. */
export interface BudgetOptions {
  /** Requests allowed per window (jianguoyun.md §1: 600 free, 1500 paid; davgate keeps to 90 % of it). */
  readonly requests: number;
  /** Window length in ms (jianguoyun.md §1: 30 min, sliding). */
  readonly windowMs: number;
  /** Least time between two sends in ms (the vendor's own client: 200 ms, jianguoyun.md §2). */
  readonly minSpacingMs: number;
}

/**
 * A send time booked by {@link RequestBudget.reserve}. The caller waits `waitMs`, then calls
 * {@link RequestBudget.send} right before sending, or {@link RequestBudget.release} if it never sends.
 */
export interface Reservation {
  /** How long to wait before sending (ms; 0 = at once). */
  readonly waitMs: number;
  /** The booked send time (ms epoch); moved later when {@link RequestBudget.send} asks for more waiting. */
  readonly at: number;
}

/** Internal, mutable view of a {@link Reservation}. */
interface Booking {
  waitMs: number;
  /** The booked send time; once sent, the time it is counted at in the counted log. */
  at: number;
  state: 'booked' | 'sent' | 'answered' | 'released';
}

/** Inserts `t` into the ascending array `a`. */
function insertSorted(a: number[], t: number): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > t) i--;
  a.splice(i, 0, t);
}

/** Removes one occurrence of `t` from `a` (equal times are interchangeable). */
function removeOne(a: number[], t: number): void {
  const i = a.lastIndexOf(t);
  if (i >= 0) a.splice(i, 1);
}

/** The per-upstream request budget. */
export class RequestBudget {
  readonly #opts: BudgetOptions;
  readonly #now: () => number;
  /** One time per request sent (send time, then answer time; ms epoch), ascending; pruned to the window. */
  #counted: number[] = [];
  /** When the last request was really sent (ms epoch), for the spacing; -Infinity before the first. */
  #lastSentAt = -Infinity;
  /** Booked send times of requests still waiting (ms epoch), ascending. */
  #booked: number[] = [];

  constructor(opts: BudgetOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
  }

  #prune(now: number): void {
    const from = now - this.#opts.windowMs;
    let i = 0;
    while (i < this.#counted.length && this.#counted[i]! <= from) i++;
    if (i > 0) this.#counted = this.#counted.slice(i);
  }

  /**
   * The earliest time at or after `now` at which one more send keeps the limits, given the ascending `times`
   * of requests counted in the window and the latest send start `lastStart` (for the spacing).
   */
  #earliest(times: readonly number[], lastStart: number, now: number): number {
    const { requests, windowMs, minSpacingMs } = this.#opts;
    let t = Math.max(now, lastStart + minSpacingMs);
    // The (requests)-th most recent one must have left the window (t - windowMs, t] by t.
    if (times.length >= requests) t = Math.max(t, times[times.length - requests]! + windowMs);
    return t;
  }

  /** Requests really sent and counted within the current window. */
  used(): number {
    this.#prune(this.#now());
    return this.#counted.length;
  }

  /** Requests left in the current window, counting the booked ones as spent (never negative). */
  remaining(): number {
    this.#prune(this.#now());
    return Math.max(0, this.#opts.requests - this.#counted.length - this.#booked.length);
  }

  /**
   * Books the earliest send time that keeps the budget and the spacing, counting earlier bookings as sends.
   *
   * @param maxWaitMs - give up (book nothing) if the wait would be longer
   * @returns the booking (wait in ms, 0 = send now), or `{ refusedForMs }` with the time until budget returns
   */
  reserve(maxWaitMs: number): Reservation | { refusedForMs: number } {
    const now = this.#now();
    this.#prune(now);
    const all = [...this.#counted, ...this.#booked].sort((a, b) => a - b);
    const lastBooked = this.#booked[this.#booked.length - 1] ?? -Infinity;
    const t = this.#earliest(all, Math.max(this.#lastSentAt, lastBooked), now);
    const wait = t - now;
    if (wait > maxWaitMs) return { refusedForMs: wait };
    insertSorted(this.#booked, t);
    const b: Booking = { waitMs: wait, at: t, state: 'booked' };
    return b;
  }

  /**
   * Call right before sending a booked request. If sending now keeps the limits over the requests really
   * sent (counted log, spacing from the last real send), the request is counted from now and 0 is returned.
   * Otherwise (earlier requests left, or were answered, later than planned; or a timer fired early) the booking
   * moves to the earliest time that does and the extra wait in ms is returned: wait, then call again. A
   * booking already sent or released returns 0 and counts nothing more.
   */
  send(r: Reservation): number {
    const b = r as Booking;
    if (b.state !== 'booked') return 0;
    const now = this.#now();
    this.#prune(now);
    const t = this.#earliest(this.#counted, this.#lastSentAt, now);
    removeOne(this.#booked, b.at);
    if (t > now) {
      b.at = t;
      b.waitMs = t - now;
      insertSorted(this.#booked, t);
      return t - now;
    }
    b.state = 'sent';
    b.at = now;
    this.#lastSentAt = Math.max(this.#lastSentAt, now);
    insertSorted(this.#counted, now);
    return 0;
  }

  /**
   * Call when the answer to a sent request arrives (or its transport fails): the account counted the request
   * at some moment before now, so from now on it is counted at now, the latest that moment can be. Only the
   * first call after {@link RequestBudget.send} has an effect.
   */
  answered(r: Reservation): void {
    const b = r as Booking;
    if (b.state !== 'sent') return;
    b.state = 'answered';
    const now = this.#now();
    // Prune first: an entry that already left the window is gone, and no other with its time is left to remove.
    this.#prune(now);
    removeOne(this.#counted, b.at);
    b.at = Math.max(now, b.at);
    insertSorted(this.#counted, b.at);
  }

  /**
   * Hands back a booking that will not be sent (the client gave up, or the account started cooling while it
   * waited): nothing reached the account, so it must not count. A booking already sent or released is left
   * alone (idempotent).
   */
  release(r: Reservation): void {
    const b = r as Booking;
    if (b.state !== 'booked') return;
    b.state = 'released';
    removeOne(this.#booked, b.at);
  }
}
