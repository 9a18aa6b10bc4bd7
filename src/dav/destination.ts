/**
 * The `Destination`, `Overwrite` and `Depth` request headers (RFC 4918 §10.3, §10.6, §10.2).
 *
 * The gateway's namespace starts at `/`, so a Destination path is a gateway path and goes through
 * {@link parsePath} like a request path.
 */
import { Errors } from '../errors.js';
import { parsePath, type CanonicalKey } from '../path/canonical.js';

/** A parsed Destination. */
export interface ParsedDestination {
  /** Canonical key of the destination. */
  key: CanonicalKey;
  /** Whether the destination path ended in `/` (a hint that the client means a collection). */
  trailingSlash: boolean;
}

const ABSOLUTE_URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/;

/** Lower-cases a host[:port] and drops `:80`/`:443`, so `Example.com:80` equals `example.com`. */
function normalizeHostPort(hostPort: string): string {
  return hostPort.toLowerCase().replace(/:(80|443)$/, '');
}

/**
 * Parses a Destination header (RFC 4918 §10.3: `Destination = Simple-ref`, an absolute URI or an absolute
 * path). A query and a fragment are removed.
 *
 * @param value - the header value, e.g. `http://gw:8080/a%20b/` or `/a%20b/`
 * @param requestHost - the request's Host header (`host[:port]`), compared with an absolute URI's authority
 *   case-insensitively, with ports 80 and 443 treated as absent
 * @returns the destination key and whether it had a trailing slash
 * @throws DavgateError `DAVGATE_BAD_HEADER` (400) when missing, empty, relative, a network-path (`//…`),
 *   a scheme other than http/https, or containing whitespace/control characters;
 *   `DAVGATE_BAD_PATH` (400) for a path {@link parsePath} refuses;
 *   `DAVGATE_FOREIGN_DESTINATION` (502) when an absolute URI names another host, or the request has no Host
 */
export function parseDestination(value: string | undefined, requestHost: string | undefined): ParsedDestination {
  if (value === undefined || value.trim() === '') throw Errors.BAD_HEADER('Destination missing');
  const v = value.trim();
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(v)) throw Errors.BAD_HEADER('Destination contains whitespace or control characters');
  let path: string;
  const m = ABSOLUTE_URI.exec(v);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') throw Errors.BAD_HEADER(`Destination scheme ${scheme} not supported`);
    const authority = m[2]!.replace(/^[^@]*@/, ''); // user info never names the server
    if (authority === '') throw Errors.BAD_HEADER('Destination without host');
    if (requestHost === undefined || normalizeHostPort(authority) !== normalizeHostPort(requestHost.trim())) {
      throw Errors.FOREIGN_DESTINATION();
    }
    path = m[3] === '' ? '/' : m[3]!;
  } else if (v.startsWith('/') && !v.startsWith('//')) {
    path = v.replace(/[?#].*$/s, '');
  } else {
    throw Errors.BAD_HEADER('Destination must be an absolute URI or an absolute path');
  }
  const parsed = parsePath(path);
  return { key: parsed.key, trailingSlash: parsed.trailingSlash };
}

/**
 * Parses the Overwrite header (RFC 4918 §10.6).
 *
 * @param value - `T`, `F` (case-sensitive) or absent
 * @returns true for absent or `T`, false for `F`
 * @throws DavgateError `DAVGATE_BAD_HEADER` (400) for any other value
 */
export function parseOverwrite(value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.trim();
  if (v === 'T') return true;
  if (v === 'F') return false;
  throw Errors.BAD_HEADER(`Overwrite must be T or F, got ${JSON.stringify(value)}`);
}

/** A Depth header value (RFC 4918 §10.2). */
export type Depth = '0' | '1' | 'infinity';

/**
 * Parses the Depth header (RFC 4918 §10.2). `infinity` is matched case-insensitively (an ABNF literal).
 * A method that answers Depth infinity with 403 (PROPFIND, §9.1) should allow it here and check after.
 *
 * @param value - the header value, or absent
 * @param allowed - the values the method accepts
 * @param defaultValue - returned when the header is absent (RFC 4918 gives a per-method default)
 * @returns the depth
 * @throws DavgateError `DAVGATE_BAD_HEADER` (400) for a value not in `allowed`
 */
export function parseDepth<D extends Depth>(value: string | undefined, allowed: readonly D[], defaultValue: D): D {
  if (value === undefined) return defaultValue;
  const v = value.trim().toLowerCase();
  const hit = allowed.find((a) => a === v);
  if (hit === undefined) throw Errors.BAD_HEADER(`Depth must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return hit;
}
