/**
 * Header hygiene, in a fixed and visible order (after fastify-reply-from): first drop hop-by-hop headers
 * and every header named in `Connection` (RFC 9110 §7.6.1), then drop what must never cross the gateway
 * (the client's credentials, cookies, `Expect`), then the caller sets upstream-specific headers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../upstream/upstream.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus HTTP/2 pseudo-headers' HTTP/1 twins. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers that never go upstream: `host` (undici sets the upstream's), the client's `authorization`
 * (davgate adds the upstream's own credentials), cookies, `expect` (davgate answers `100 Continue` itself),
 * headers davgate rewrites (`destination` is set by the method handler), and the lock headers: davgate holds
 * the locks, so `If`, `Lock-Token` and `Timeout` never reach an upstream (issue #3).
 */
const NEVER_FORWARD = new Set([
  'host',
  'authorization',
  'cookie',
  'expect',
  'destination',
  'if',
  'lock-token',
  'timeout',
  'x-request-id',
]);

const NO_TOKENS: ReadonlySet<string> = new Set();

/** The lower-case header names a `Connection` value lists (RFC 9110 §7.6.1). Runs on every request and response. */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NO_TOKENS;
  const out = new Set<string>();
  for (const v of typeof value === 'string' ? [value] : value) {
    for (const t of v.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) out.add(name);
    }
  }
  return out;
}

/**
 * The client's headers that may go upstream.
 *
 * @param headers - the client's request headers (lower-case names, as Node gives them)
 * @param keep - if given, only these (lower-case) names are kept after hygiene
 * @returns a new object of single string values (repeated headers joined with `, `)
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, keep?: readonly string[]): Record<string, string> {
  const named = connectionTokens(headers['connection']);
  const allow = keep ? new Set(keep) : undefined;
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || named.has(name) || NEVER_FORWARD.has(name)) continue;
    if (allow && !allow.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Response headers never passed back to the client: hop-by-hop, the upstream's `DAV` and `Allow` (davgate
 * answers capabilities itself), its auth challenges (an upstream 401 is davgate's problem, not the client's),
 * cookies, its CORS headers, and `content-length` for bodies davgate rewrites (set by the caller instead).
 */
const NEVER_RETURN = new Set([
  'dav',
  'allow',
  'www-authenticate',
  'set-cookie',
  'ms-author-via',
  'server',
  'x-powered-by',
  'date',
  'keep-alive',
]);

/**
 * The upstream's response headers that may reach the client, with `Location` and `Content-Location`
 * rewritten into the gateway's namespace.
 *
 * @param headers - upstream response headers
 * @param rewriteUrl - maps an upstream URL or path to a gateway path; returns null when it is not the
 *   upstream's (the header is then dropped, so no upstream origin ever reaches a client)
 * @param drop - more lower-case names to drop (e.g. `content-length` when the body is rewritten)
 */
export function clientResponseHeaders(
  headers: HeaderMap,
  rewriteUrl: (url: string) => string | null,
  drop: readonly string[] = [],
): Record<string, string | string[]> {
  const named = connectionTokens(headers['connection']);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || named.has(name) || NEVER_RETURN.has(name) || drop.includes(name)) continue;
    // CORS is the gateway's policy to set, not an upstream's.
    if (name.startsWith('access-control-')) continue;
    if (name === 'location' || name === 'content-location') {
      const v = Array.isArray(value) ? value[0]! : value;
      const mapped = rewriteUrl(v);
      if (mapped !== null) out[name] = mapped;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** First value of a header. */
export function headerValue(headers: HeaderMap | IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
