/**
 * The error registry: every error davgate answers with has a stable `code`, an HTTP status and a short
 * reason. Transport errors from undici are mapped to gateway errors in one place ({@link fromTransportError}).
 *
 * Follows RFC 9110 §15.6 (502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout) and the pattern of
 * fastify's `createError(code, message, statusCode)`.
 */

/** An error that maps to one HTTP answer. `retryAfterS`, when set, becomes a `Retry-After` header (seconds). */
export class DavgateError extends Error {
  /** Stable machine-readable code, e.g. `DAVGATE_QUEUE_FULL`. */
  readonly code: string;
  /** HTTP status to answer with. */
  readonly statusCode: number;
  /** Seconds for `Retry-After`, if any. */
  readonly retryAfterS: number | undefined;
  /** Optional RFC 4918 precondition element name (in the DAV: namespace) for the error body. */
  readonly precondition: string | undefined;
  /** Optional full response body (XML) replacing the default one, e.g. a DAV:error naming lock roots. */
  readonly body: string | undefined;

  constructor(
    code: string,
    statusCode: number,
    message: string,
    opts: { retryAfterS?: number; precondition?: string; body?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DavgateError';
    this.code = code;
    this.statusCode = statusCode;
    this.retryAfterS = opts.retryAfterS;
    this.precondition = opts.precondition;
    this.body = opts.body;
  }
}

type Factory = (detail?: string, opts?: { retryAfterS?: number; cause?: unknown }) => DavgateError;

function define(code: string, statusCode: number, message: string, precondition?: string): Factory {
  return (detail, opts = {}) =>
    new DavgateError(code, statusCode, detail ? `${message}: ${detail}` : message, {
      ...opts,
      ...(precondition ? { precondition } : {}),
    });
}

/** Every error davgate produces itself. Keys are the stable codes without the `DAVGATE_` prefix. */
export const Errors = {
  /** 400: a path that is not a valid gateway path (dot segments, encoded slash, NUL, bad UTF-8). */
  BAD_PATH: define('DAVGATE_BAD_PATH', 400, 'invalid path'),
  /** 400: a malformed header (Depth, Overwrite, Destination, If). */
  BAD_HEADER: define('DAVGATE_BAD_HEADER', 400, 'invalid header'),
  /** 400: a malformed XML request body. */
  BAD_XML: define('DAVGATE_BAD_XML', 400, 'invalid XML body'),
  /** 401: missing or wrong front-side credentials. */
  UNAUTHORIZED: define('DAVGATE_UNAUTHORIZED', 401, 'authentication required'),
  /** 403: PROPFIND Depth infinity on a collection (RFC 4918 §9.1). */
  FINITE_DEPTH: define('DAVGATE_FINITE_DEPTH', 403, 'Depth: infinity is not supported', 'propfind-finite-depth'),
  /** 403: COPY/MOVE onto itself (RFC 4918 §9.8.5). */
  SAME_RESOURCE: define('DAVGATE_SAME_RESOURCE', 403, 'source and destination are the same resource'),
  /** 502: Destination names another host (RFC 4918 §9.8.5 allows 502 for a cross-server destination). */
  FOREIGN_DESTINATION: define('DAVGATE_FOREIGN_DESTINATION', 502, 'Destination is on another server'),
  /**
   * 414: the request path is longer than `limits.maxPathBytes`, a name in it longer than `limits.maxNameBytes`,
   * or an upstream refused the URI as too long (RFC 9110 §15.5.15).
   */
  URI_TOO_LONG: define('DAVGATE_URI_TOO_LONG', 414, 'URI too long'),
  /** 404: not found on any candidate upstream. */
  NOT_FOUND: define('DAVGATE_NOT_FOUND', 404, 'not found'),
  /** 405: method not allowed here. */
  METHOD_NOT_ALLOWED: define('DAVGATE_METHOD_NOT_ALLOWED', 405, 'method not allowed'),
  /** 409: a parent collection is missing (RFC 4918 §9.3.1, §9.7.1). */
  CONFLICT: define('DAVGATE_CONFLICT', 409, 'conflict'),
  /** 412: a precondition failed (Overwrite: F on an existing destination, RFC 4918 §10.6). */
  PRECONDITION_FAILED: define('DAVGATE_PRECONDITION_FAILED', 412, 'precondition failed'),
  /** 413: request body too large. */
  PAYLOAD_TOO_LARGE: define('DAVGATE_PAYLOAD_TOO_LARGE', 413, 'request body too large'),
  /** 415: unsupported request body (e.g. a body on MKCOL, RFC 4918 §9.3.1). */
  UNSUPPORTED_MEDIA_TYPE: define('DAVGATE_UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported request body'),
  /**
   * 507: davgate could not store a request body it has to hold (the PUT spool: disk full, quota, unwritable
   * `limits.spoolDir`). RFC 4918 §11.5: "unable to store the representation needed to complete the request".
   */
  INSUFFICIENT_STORAGE: define('DAVGATE_INSUFFICIENT_STORAGE', 507, 'insufficient storage'),
  /**
   * 501: the request has a transfer coding other than `chunked` (e.g. `gzip, chunked`). RFC 9112 §6.1: a server
   * that receives a transfer coding it does not understand responds 501; storing the still-coded bytes would
   * corrupt the file.
   */
  UNSUPPORTED_TRANSFER_CODING: define('DAVGATE_UNSUPPORTED_TRANSFER_CODING', 501, 'transfer coding not implemented'),
  /** 502: the upstream refused or reset the connection, or answered something unusable. */
  BAD_GATEWAY: define('DAVGATE_BAD_GATEWAY', 502, 'upstream unreachable'),
  /** 503: the upstream's queue is full. */
  QUEUE_FULL: define('DAVGATE_QUEUE_FULL', 503, 'upstream queue full'),
  /** 503: the request waited in the upstream queue past `limits.queueTimeoutMs`. */
  QUEUE_TIMEOUT: define('DAVGATE_QUEUE_TIMEOUT', 503, 'timed out waiting for an upstream slot'),
  /** 503: the upstream is marked down. */
  UPSTREAM_DOWN: define('DAVGATE_UPSTREAM_DOWN', 503, 'upstream is down'),
  /** 503: the account answered `503 BlockedTemporarily` and rests for a while (jianguoyun.md §1). */
  UPSTREAM_COOLING: define('DAVGATE_UPSTREAM_COOLING', 503, 'upstream account is throttled, cooling down'),
  /** 503: the account's request budget has no room within the queue timeout (jianguoyun.md §1). */
  BUDGET_EXHAUSTED: define('DAVGATE_BUDGET_EXHAUSTED', 503, 'upstream request budget exhausted'),
  /** 503: no upstream is available at all. */
  NO_UPSTREAM: define('DAVGATE_NO_UPSTREAM', 503, 'no upstream available'),
  /** 503: a listing could not be completed on every upstream; a partial listing is never sent. */
  INCOMPLETE_LISTING: define('DAVGATE_INCOMPLETE_LISTING', 503, 'listing incomplete, try again'),
  /** 503: the gateway is shutting down. */
  SHUTTING_DOWN: define('DAVGATE_SHUTTING_DOWN', 503, 'gateway is shutting down'),
  /** 504: the upstream did not answer in time. */
  GATEWAY_TIMEOUT: define('DAVGATE_GATEWAY_TIMEOUT', 504, 'upstream timed out'),
  /** 499 (logged only): the client went away. */
  CLIENT_CLOSED: define('DAVGATE_CLIENT_CLOSED', 499, 'client closed request'),
} as const;

/**
 * Whether an error is the request's own fault rather than an upstream's: the client went away (499), or the URI
 * is too long (414, `limits.maxPathBytes` or an upstream's own limit; the other candidates would refuse it too).
 * Lookups over several upstreams end at once on such an error instead of reading it as an outage (502).
 */
export function isRequestFault(err: unknown): boolean {
  return err instanceof DavgateError && (err.statusCode === 499 || err.statusCode === 414);
}

/** undici error codes that mean the request never left davgate (safe to retry on any method). */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET_NOT_CONNECTED',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** The transport error code of an undici/Node error, following `cause` chains. */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR') return code;
    e = (e as { cause?: unknown }).cause;
  }
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** True when the error means the connection was never established, so nothing was sent upstream. */
export function isConnectError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && CONNECT_CODES.has(code);
}

/**
 * Maps a transport error to the gateway answer: a timeout gives 504, anything else 502 (as Caddy does).
 * The upstream id is named, never its URL or credentials.
 */
export function fromTransportError(err: unknown, upstreamId: string): DavgateError {
  if (err instanceof DavgateError) return err;
  const code = errorCode(err) ?? 'unknown';
  if (TIMEOUT_CODES.has(code)) return Errors.GATEWAY_TIMEOUT(`${upstreamId} (${code})`, { cause: err });
  return Errors.BAD_GATEWAY(`${upstreamId} (${code})`, { cause: err });
}
