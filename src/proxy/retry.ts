/**
 * Whether to try a request again, and what a set of per-candidate results means. Pure functions, unit-tested
 * as decision tables (test/unit/proxy-retry.test.ts).
 *
 * The rules follow Caddy's `tryAgain`: a dial error is always retryable because nothing left the gateway;
 * any other transport error only for a safe method whose body (if any) was never sent; an answer from the
 * upstream is final. A client that went away is never retried and never counted against the upstream.
 *
 * Two cases never wait for `failover.retryBackoffMs` (issue 8):
 * - a marked-down upstream is not waited on: the caller fails over or answers 503 with `Retry-After` at once;
 * - a reused keep-alive connection that died before any byte of its answer is a stale connection, not a
 *   failing upstream: `Upstream.request` resends at once on another connection ({@link decideResend}).
 */

/** What happened on one attempt against one upstream. */
export type AttemptOutcome =
  /** The upstream answered with a status. */
  | { readonly kind: 'response'; readonly status: number }
  /** A transport error. `connect`: the connection was never established (nothing was sent). */
  | { readonly kind: 'transport'; readonly connect: boolean; readonly timeout: boolean }
  /** Not attempted: the upstream is marked down. */
  | { readonly kind: 'down' }
  /** Not attempted: the upstream's queue was full or the wait timed out. */
  | { readonly kind: 'queue' }
  /**
   * Not attempted, or refused unhandled: the account is resting — out of request budget, or cooling after
   * `503 BlockedTemporarily` (`cooling`; jianguoyun.md §1). It holds its files and stored nothing.
   */
  | { readonly kind: 'resting'; readonly cooling: boolean }
  /** The client went away. */
  | { readonly kind: 'client-aborted' };

/** Input of {@link decideRetry}. */
export interface RetryInput {
  readonly outcome: AttemptOutcome;
  /** Retries already made for this request on this upstream (0 on the first failure). */
  readonly retriesDone: number;
  /**
   * Whether bytes of the request body were handed to a transport and not kept, so it cannot be sent again (a
   * spooled body, or one kept whole in memory, is replayable: `LazyBody.replayable` in `proxy/body.ts`).
   */
  readonly bodyStarted: boolean;
  /** Whether the method is safe to repeat after a partial send (GET, HEAD, PROPFIND, OPTIONS). */
  readonly safe: boolean;
}

/**
 * `retry`: wait `failover.retryBackoffMs` then try the same upstream again; `final`: use the outcome (fail over
 * to the next candidate, or answer).
 */
export type RetryDecision = 'retry' | 'final';

/** The one retry budget per request (issue #2: "may be retried once after a short backoff"). */
export const MAX_RETRIES = 1;

/**
 * Decides whether to retry a request on the same upstream.
 *
 * Decision table:
 * | outcome                     | condition                              | decision |
 * |-----------------------------|----------------------------------------|----------|
 * | response (any status)       |                                        | final    |
 * | client-aborted              |                                        | final    |
 * | queue full / timeout        |                                        | final    |
 * | resting (budget, cooling)   |                                        | final    |
 * | down (marked down)          |                                        | final    |
 * | transport, connect          | retriesDone < 1, body not started      | retry    |
 * | transport, not connect      | retriesDone < 1, safe, body not started| retry    |
 * | anything else               |                                        | final    |
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { outcome, retriesDone, bodyStarted, safe } = input;
  if (retriesDone >= MAX_RETRIES || bodyStarted) return 'final';
  switch (outcome.kind) {
    // 'down' is final: a marked-down upstream is never waited on; the caller fails over or answers 503 at once.
    case 'transport':
      return outcome.connect || safe ? 'retry' : 'final';
    default:
      return 'final';
  }
}

/**
 * Transport error codes of a connection that died under a request (`errorCode` in `errors.ts`): a reset
 * (`ECONNRESET`), a write to a closed socket (`EPIPE`), or undici's `UND_ERR_SOCKET` ("other side closed",
 * "closed"). Timeouts are not among them: a slow upstream is not a stale connection.
 */
const STALE_CONNECTION_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** Input of {@link decideResend}: one failed attempt, as the upstream's pool saw it. */
export interface ResendInput {
  /** The transport error code (`errorCode` in `errors.ts`). */
  readonly code: string | undefined;
  /** The request was written on a connection that had carried an earlier request. */
  readonly reused: boolean;
  /** Some byte of the answer had arrived. */
  readonly responseStarted: boolean;
  /** The body can be sent again: none, bytes, a spooled file, or a stream of which nothing was read. */
  readonly replayable: boolean;
  /** Resends already made for this request. */
  readonly resendsDone: number;
  /** Most resends allowed: each kills one stale connection, so the pool's connection count is enough. */
  readonly maxResends: number;
}

/**
 * Whether a failed attempt died on a stale connection: a reused keep-alive connection that broke before any
 * byte of its answer (RFC 9112 §9.3.1: "a client [...] MAY open a new connection and automatically retransmit
 * an aborted sequence of requests"). Such a failure never counts against the upstream's health. Pure.
 */
export function isStaleConnection(input: Pick<ResendInput, 'code' | 'reused' | 'responseStarted'>): boolean {
  return input.reused && !input.responseStarted && input.code !== undefined && STALE_CONNECTION_CODES.has(input.code);
}

/**
 * Decides whether to resend at once, on another connection, a request whose reused connection died before any
 * byte of its answer. No backoff: the upstream did nothing wrong.
 *
 * Decision table:
 * | stale connection | body replayable | resendsDone < maxResends | decision |
 * |------------------|-----------------|--------------------------|----------|
 * | no               |                 |                          | fail     |
 * | yes              | no              |                          | fail     |
 * | yes              | yes             | no                       | fail     |
 * | yes              | yes             | yes                      | resend   |
 *
 * `fail` hands the error to {@link decideRetry}; a stale-connection failure is still not counted against health.
 */
export function decideResend(input: ResendInput): 'resend' | 'fail' {
  if (!isStaleConnection(input) || !input.replayable) return 'fail';
  return input.resendsDone < input.maxResends ? 'resend' : 'fail';
}

/** The methods davgate may repeat after a transport error that was not a connect error. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'PROPFIND' || method === 'OPTIONS';
}

/** How a lookup across candidates ended. */
export type LookupVerdict =
  /** Found on the candidate at `index`. */
  | { readonly kind: 'found'; readonly index: number }
  /** Every candidate answered "not found": a true 404. */
  | { readonly kind: 'not-found' }
  /** Not found where asked, but some candidate could not answer: never a 404 (an outage is not absence). */
  | { readonly kind: 'unavailable'; readonly status: 502 | 503 | 504 };

/** One candidate's answer to a lookup: `found`, `absent` (404), or a failure with the status to report. */
export type LookupAnswer =
  | { readonly kind: 'found' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'failed'; readonly status: 502 | 503 | 504 };

/**
 * Combines per-candidate answers (in HRW order) into one verdict: the first `found` wins; otherwise a 404 only
 * if every candidate positively answered 404; otherwise the first failure's status. Sync clients delete
 * files on a 404, so an outage must never look like absence (issue #2, "Error mapping").
 */
export function combineLookup(answers: readonly LookupAnswer[]): LookupVerdict {
  let failure: 502 | 503 | 504 | undefined;
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i]!;
    if (a.kind === 'found') return { kind: 'found', index: i };
    if (a.kind === 'failed' && failure === undefined) failure = a.status;
  }
  return failure === undefined ? { kind: 'not-found' } : { kind: 'unavailable', status: failure };
}
