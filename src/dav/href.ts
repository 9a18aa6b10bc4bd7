/**
 * Pure mapping between upstream hrefs, canonical keys and gateway hrefs (RFC 4918 §8.3: an href in a
 * multistatus is an absolute URI or an absolute path; RFC 3986 §2.1: percent-encoding hex is case-insensitive).
 *
 * Upstream servers spell the same path differently: Apache writes absolute paths with uppercase hex,
 * webdav-server writes absolute URLs, Jianguoyun writes lowercase hex and folders without a trailing slash,
 * some servers send raw UTF-8. Every spelling goes through {@link parsePath}, so each maps to one key.
 */
import { encodeKey, parsePath, type CanonicalKey } from '../path/canonical.js';

// Everything after the authority is taken as the path: WebDAV hrefs name resources, never queries, and
// some servers (webdav-server) write `#` and `?` in names unencoded.
const SCHEME_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/** A `%` not followed by two hex digits is taken literally (a lax server that did not encode it). */
function fixLoosePercents(path: string): string {
  return path.replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
}

function segmentsOrNull(path: string): string[] | null {
  try {
    return [...parsePath(fixLoosePercents(path)).segments];
  } catch {
    return null;
  }
}

/** Segments of each upstream base's path, parsed once (a listing maps every member's href against it). */
const baseSegmentsCache = new WeakMap<URL, string[] | null>();

function baseSegments(base: URL): string[] | null {
  let segs = baseSegmentsCache.get(base);
  if (segs === undefined) baseSegmentsCache.set(base, (segs = segmentsOrNull(base.pathname)));
  return segs;
}

/**
 * Segments made of RFC 3986 unreserved characters only, none starting with a dot, no empty one, an optional
 * trailing slash: such a path decodes to itself, so its key needs no {@link parsePath}.
 */
const PLAIN_PATH = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

/**
 * The key of `h` when it is the usual spelling of a member (`<base path>name`, as a path or an absolute URL
 * on the base's origin, in plain characters), else null (the general path decides). The same key as the
 * general path: a shortcut for the ~100 hrefs of every listed folder.
 */
function plainKeyBelow(h: string, base: URL): CanonicalKey | null {
  const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  let rest: string;
  if (h.startsWith(basePath)) rest = h.slice(basePath.length);
  else if (h.startsWith(base.origin) && h.startsWith(basePath, base.origin.length)) rest = h.slice(base.origin.length + basePath.length);
  else return null;
  if (rest === '') return '/';
  if (!PLAIN_PATH.test(rest)) return null;
  return '/' + (rest.endsWith('/') ? rest.slice(0, -1) : rest);
}

/**
 * Maps an href written by an upstream to a canonical key.
 *
 * @param href - the href text after XML unescaping: `http://host:port/dav/a%20b/` or `/dav/a%20b/`; surrounding
 *   whitespace is ignored; `?` and `#` are part of the path (hrefs carry no query)
 * @param upstreamBase - the upstream's base URL; its pathname is the root of the upstream's namespace
 * @returns the key (`/` for the base itself, with or without trailing slash), or `null` when the href is on
 *   another origin, not under the base, relative, or not a valid path (dot segment, encoded `/`, NUL, bad
 *   UTF-8). Never throws.
 */
export function upstreamHrefToKey(href: string, upstreamBase: URL): CanonicalKey | null {
  const h = href.trim();
  const fast = plainKeyBelow(h, upstreamBase);
  if (fast !== null) return fast;
  let path: string;
  const m = SCHEME_AUTHORITY.exec(h);
  if (m) {
    let origin: string;
    try {
      origin = new URL(`${m[1]}://${m[2]}/`).origin;
    } catch {
      return null;
    }
    if (origin !== upstreamBase.origin) return null;
    path = m[3] === '' ? '/' : m[3]!;
  } else if (h.startsWith('/') && !h.startsWith('//')) {
    path = h;
  } else {
    return null;
  }
  const base = baseSegments(upstreamBase);
  const segs = segmentsOrNull(path);
  if (base === null || segs === null || segs.length < base.length) return null;
  for (let i = 0; i < base.length; i++) if (segs[i] !== base[i]) return null;
  const rest = segs.slice(base.length);
  return rest.length === 0 ? '/' : '/' + rest.join('/');
}

/**
 * The href of a key on the gateway, whose namespace starts at `/`.
 *
 * @param key - canonical key
 * @param collection - append a trailing slash (RFC 4918 §8.3 recommends it for collections)
 * @returns a path-only href with every segment encoded by `encodeSegment`, e.g. `/a%20b/`; the root is `/`
 */
export function keyToGatewayHref(key: CanonicalKey, collection: boolean): string {
  return encodeKey(key, '/', collection);
}

