/**
 * Cross-origin access for browser apps (the Fetch standard's CORS protocol, https://fetch.spec.whatwg.org/#http-cors-protocol).
 * Pure decisions over request headers; `app.ts` applies them in two hooks. Only origins listed in `cors.origins`
 * get CORS headers; with the list empty (the default) davgate sends none at all.
 *
 * WebDAV from a browser always needs credentials (davgate's Basic auth), and the Fetch standard refuses a
 * credentialed response whose `Access-Control-Allow-Origin` is `*` (§3.2.5 "CORS check"). So davgate echoes the
 * request's `Origin` when it is listed, with `Access-Control-Allow-Credentials: true` and `Vary: Origin` (the
 * answer differs by Origin, so shared caches must key on it); `*` is refused in the configuration.
 *
 * A preflight (an `OPTIONS` with `Origin` and `Access-Control-Request-Method`) carries no credentials, whatever the
 * app does (Fetch §4.8 "CORS-preflight fetch"), so a listed origin's preflight is answered 204 before
 * authentication; an unlisted origin's preflight gets no CORS headers and goes the ordinary way (401 without
 * credentials), which the browser treats as a refusal.
 */

/** The methods a preflight allows: every method davgate serves (RFC 4918 §9, RFC 9110 §9). */
export const CORS_ALLOW_METHODS = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK';

/**
 * Request headers a preflight allows: the WebDAV ones (RFC 4918 §10: Depth, Destination, Overwrite, If,
 * Lock-Token, Timeout), Range and the conditionals of RFC 9110 §13–14, Authorization (never covered by a wildcard,
 * Fetch §3.2.5), Content-Type (an XML body's `application/xml` is not CORS-safelisted) and X-Request-Id (davgate
 * echoes it into its logs).
 */
export const CORS_ALLOW_HEADERS =
  'Authorization, Content-Type, Depth, Destination, Overwrite, If, Lock-Token, Timeout, Range, If-Range, If-Match, ' +
  'If-None-Match, If-Modified-Since, If-Unmodified-Since, X-Request-Id';

/**
 * Response headers a page may read beyond the CORS-safelisted ones: ETag, DAV, Lock-Token (LOCK's answer,
 * RFC 4918 §10.5), Content-Range (206/416), Location (201), Retry-After (503), Allow (OPTIONS), WWW-Authenticate
 * and X-Request-Id; Content-Length and Last-Modified are safelisted already and listed for old browsers.
 */
export const CORS_EXPOSE_HEADERS =
  'ETag, DAV, Lock-Token, Content-Range, Location, Content-Length, Last-Modified, Retry-After, Allow, WWW-Authenticate, X-Request-Id';

/**
 * How long a browser may cache a preflight answer (seconds): 10 minutes, so a changed `cors.origins` reaches
 * browsers soon; Chromium caps it at 2 hours anyway.
 */
export const CORS_MAX_AGE_S = 600;

/** What to do about CORS for one request. */
export type CorsDecision =
  /** Not a CORS matter for davgate (no `cors.origins`, no `Origin`, or an origin not listed): add nothing. */
  | { readonly kind: 'none' }
  /** A listed origin's preflight: answer 204 with these headers, before authentication. */
  | { readonly kind: 'preflight'; readonly headers: Readonly<Record<string, string>> }
  /** A listed origin's actual request: handle it as usual and add these headers to the answer. */
  | { readonly kind: 'actual'; readonly headers: Readonly<Record<string, string>> };

/**
 * Decides the CORS treatment of a request. Pure.
 *
 * @param origins - `config.cors.origins`: serialised origins (`https://app.example.com`, `http://127.0.0.1:3000`)
 * @param method - the request method (upper case)
 * @param origin - the request's `Origin` header, if any; compared as an exact string, as browsers send it
 *   serialised (lower-case scheme and host, default port omitted; Fetch §3.1)
 * @param requestMethod - the request's `Access-Control-Request-Method` header, if any
 */
export function corsDecision(
  origins: readonly string[],
  method: string,
  origin: string | undefined,
  requestMethod: string | undefined,
): CorsDecision {
  if (origins.length === 0 || origin === undefined || !origins.includes(origin)) return { kind: 'none' };
  if (method === 'OPTIONS' && requestMethod !== undefined) {
    return {
      kind: 'preflight',
      headers: {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': CORS_ALLOW_METHODS,
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': String(CORS_MAX_AGE_S),
        vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      },
    };
  }
  return {
    kind: 'actual',
    headers: {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': CORS_EXPOSE_HEADERS,
    },
  };
}

/**
 * A `Vary` value with `Origin` added (once), keeping what is there (an upstream's `Accept-Encoding`, say).
 *
 * @param existing - the response's current `Vary`, if any
 */
export function varyWithOrigin(existing: string | number | readonly string[] | undefined): string {
  const parts = (Array.isArray(existing) ? existing.join(',') : existing === undefined ? '' : String(existing))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.includes('*') || parts.some((p) => p.toLowerCase() === 'origin')) return parts.join(', ');
  return [...parts, 'Origin'].join(', ');
}

/**
 * Checks one configured origin and returns its serialised form, or a reason it is refused. An origin is
 * `http://` or `https://` plus a host and an optional port, nothing else (no path, query, credentials or `*`),
 * so it can be compared as a string with the `Origin` header browsers send.
 *
 * @param value - one entry of `cors.origins` / `DAVGATE_CORS_ORIGINS`
 */
export function parseCorsOrigin(value: string): { ok: true; origin: string } | { ok: false; reason: string } {
  const v = value.trim();
  if (v === '*') {
    return { ok: false, reason: '"*" is not allowed: browsers refuse credentialed answers to "*" (Fetch standard), and davgate needs credentials; list each origin' };
  }
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return { ok: false, reason: 'must be an origin such as https://app.example.com or http://127.0.0.1:3000' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, reason: 'must start with http:// or https://' };
  if (u.username !== '' || u.password !== '' || u.pathname !== '/' || u.search !== '' || u.hash !== '' || /[?#]/.test(v)) {
    return { ok: false, reason: 'must be scheme://host[:port] only, without a path, query or credentials' };
  }
  return { ok: true, origin: u.origin };
}
