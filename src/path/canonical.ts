/**
 * Canonical gateway keys: one request path, however it is spelled, maps to exactly one key.
 *
 * Rules (issue #2, "Placement"):
 * - the path is percent-decoded exactly once, as UTF-8 (RFC 3986 §2.1: `%5B` and `%5b` are equivalent);
 * - a trailing slash is stripped, empty segments (`//`) collapse;
 * - comparison is case-sensitive;
 * - `.` and `..` segments, `%2F` inside a segment, NUL and other control characters, `\` and invalid
 *   UTF-8 are refused with 400 before any upstream call;
 * - `+` stays a plus (it means space only in form bodies, not in paths).
 *
 * A key is `/` for the root or `/seg/seg` with decoded segments and no trailing slash.
 */
import { Errors } from '../errors.js';

/** A canonical key: `/` or `/a/b` with decoded segments. */
export type CanonicalKey = string;

/** The result of parsing a request path. */
export interface ParsedPath {
  /** The canonical key, e.g. `/music/a b.mp3`. */
  readonly key: CanonicalKey;
  /** Decoded segments, empty for the root. */
  readonly segments: readonly string[];
  /** Whether the request spelled the path with a trailing slash (a hint that the client means a collection). */
  readonly trailingSlash: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeSegment(raw: string): string {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; ) {
    const ch = raw.charCodeAt(i);
    if (ch === 0x25 /* % */) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw Errors.BAD_PATH('malformed percent-encoding');
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      // Non-ASCII characters can arrive raw from lax clients; take them as UTF-8.
      const cp = raw.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
      i += s.length;
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw Errors.BAD_PATH('percent-encoding is not valid UTF-8');
  }
}

/**
 * Parses the path part of a request URL (no query) into its canonical key.
 *
 * @param rawPath - the path as received, e.g. `/a%20b/`; a query string must already be removed.
 * @returns the canonical key, segments and whether a trailing slash was present.
 * @throws DavgateError `DAVGATE_BAD_PATH` (400) for dot segments, an encoded `/`, a control character, a
 *   backslash, bad UTF-8, or a
 *   path that does not start with `/`.
 */
export function parsePath(rawPath: string): ParsedPath {
  if (!rawPath.startsWith('/')) throw Errors.BAD_PATH('path must start with /');
  const trailingSlash = rawPath.length > 1 && rawPath.endsWith('/');
  const segments: string[] = [];
  for (const rawSeg of rawPath.split('/')) {
    if (rawSeg === '') continue;
    const seg = decodeSegment(rawSeg);
    if (seg === '.' || seg === '..') throw Errors.BAD_PATH('dot segments are not allowed');
    if (seg.includes('/')) throw Errors.BAD_PATH('encoded slash inside a segment');
    // C0 controls and DEL cannot be written in an XML 1.0 multistatus, so such a name would make every later
    // listing of its folder fail (and a failed listing is a 503 until someone deletes the file).
    if (/[\u0000-\u001f\u007f]/.test(seg)) throw Errors.BAD_PATH('control character in path');
    // Some upstreams (webdav-server, Windows-backed servers) treat `\` as a separator and resolve `..`
    // after it, which would let `a\..\b` escape placement; no portable name contains it.
    if (seg.includes('\\')) throw Errors.BAD_PATH('backslash in path');
    segments.push(seg);
  }
  return { key: segments.length === 0 ? '/' : '/' + segments.join('/'), segments, trailingSlash };
}

/** Limits on a path's length, from `config.limits`. */
export interface PathLimits {
  /** Longest path, percent-encoded as {@link encodeKey} writes it below a base path (bytes). */
  readonly maxPathBytes: number;
  /** Longest name (segment), UTF-8 decoded (bytes). */
  readonly maxNameBytes: number;
}

/**
 * Why a parsed path is too long for `limits`, or undefined when it is not. Names longer than NAME_MAX are
 * refused by file-system-backed upstreams (Apache answers 403), and a long URI with 414 or a reset, so davgate
 * refuses them itself, with a reason, before any upstream call. Cheap: the encoded length is computed only when the
 * decoded one, at up to 3 encoded bytes per byte, could pass the limit. Pure.
 *
 * @param segments - decoded segments ({@link ParsedPath.segments})
 * @param limits - `config.limits`
 */
export function pathLengthProblem(segments: readonly string[], limits: PathLimits): string | undefined {
  let decoded = 0;
  for (const seg of segments) {
    const bytes = Buffer.byteLength(seg, 'utf8');
    if (bytes > limits.maxNameBytes) return `a name is ${bytes} bytes long, the limit is ${limits.maxNameBytes} (limits.maxNameBytes)`;
    decoded += bytes + 1;
  }
  if (decoded * 3 <= limits.maxPathBytes) return undefined;
  let encoded = 0;
  for (const seg of segments) encoded += encodeSegment(seg).length + 1;
  if (encoded > limits.maxPathBytes) return `the path is ${encoded} bytes long encoded, the limit is ${limits.maxPathBytes} (limits.maxPathBytes)`;
  return undefined;
}

/** The segments of a canonical key (`/` gives `[]`). */
export function keySegments(key: CanonicalKey): string[] {
  return key === '/' ? [] : key.slice(1).split('/');
}

/** The parent key of a key; the root's parent is the root. */
export function parentKey(key: CanonicalKey): CanonicalKey {
  if (key === '/') return '/';
  const i = key.lastIndexOf('/');
  return i <= 0 ? '/' : key.slice(0, i);
}

/** The last segment of a key (`''` for the root). */
export function baseName(key: CanonicalKey): string {
  return key === '/' ? '' : key.slice(key.lastIndexOf('/') + 1);
}

/** Joins a collection key and a member name. */
export function childKey(parent: CanonicalKey, name: string): CanonicalKey {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** The keys of every proper ancestor, root excluded, shortest first: `/a/b/c` gives `['/a', '/a/b']`. */
export function ancestorKeys(key: CanonicalKey): CanonicalKey[] {
  const segs = keySegments(key);
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) out.push('/' + segs.slice(0, i).join('/'));
  return out;
}

/** True when `key` is `base` or lies below it. */
export function isSameOrBelow(key: CanonicalKey, base: CanonicalKey): boolean {
  return base === '/' || key === base || key.startsWith(base + '/');
}

/**
 * Percent-encodes one segment for a URL path. Everything outside RFC 3986 unreserved characters and a few
 * sub-delims that every server accepts in a path is encoded, so `#`, `?`, `%`, space and non-ASCII
 * always travel encoded.
 */
export function encodeSegment(seg: string): string {
  return encodeURIComponent(seg).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** A key whose characters {@link encodeSegment} leaves alone (RFC 3986 unreserved) besides its slashes. */
const PLAIN_KEY = /^[A-Za-z0-9._~/-]+$/;

/**
 * Encodes a canonical key as a URL path under `basePath` (which must end in `/`).
 *
 * @param key - canonical key
 * @param basePath - e.g. `/dav/music/` for an upstream, `/` for the gateway
 * @param collection - append a trailing slash (collections), except for the root which already has one
 */
export function encodeKey(key: CanonicalKey, basePath: string, collection = false): string {
  // Unreserved characters only (the usual name): every segment encodes to itself.
  if (key.length > 1 && PLAIN_KEY.test(key)) return basePath + key.slice(1) + (collection ? '/' : '');
  const segs = keySegments(key);
  if (segs.length === 0) return basePath;
  return basePath + segs.map(encodeSegment).join('/') + (collection ? '/' : '');
}
