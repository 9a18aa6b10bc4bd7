/**
 * Front-side authentication: HTTP Basic for WebDAV clients (RFC 7617) and a bearer token for the admin API
 * (RFC 6750). Pure functions over header values; the Fastify hook that calls them lives with the app.
 */
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import type { Config } from './config/schema.js';

/** Outcome of one Basic check: `user` is the authenticated username, or null when auth is off (`mode: none`). */
export type BasicAuthResult = { ok: true; user: string | null } | { ok: false };

/** Checks an `Authorization` header value (undefined when the header is absent). Never rejects. */
export type BasicAuthVerifier = (authorizationHeader: string | undefined) => Promise<BasicAuthResult>;

/** Successful verifications remembered at most this many at once. */
export const AUTH_CACHE_MAX = 1000;
/**
 * …and for this long (ms). A bcrypt compare at cost 12 takes ~200 ms of CPU; WebDAV clients send the same
 * header with every request, so without a cache a folder sync would be CPU-bound on hashing.
 */
export const AUTH_CACHE_TTL_MS = 5 * 60_000;

/** RFC 7617 §2: `Basic` (case-insensitive) followed by a token68 of base64. */
const BASIC = /^basic +([A-Za-z0-9+/]+=*) *$/i;
const BEARER = /^bearer +(\S+) *$/i;

const ALWAYS_OK: BasicAuthVerifier = async () => ({ ok: true, user: null });
const DENIED: BasicAuthResult = Object.freeze({ ok: false });

/**
 * Builds the Basic verifier for `auth`.
 *
 * - `mode: none`: every request passes with `user: null`.
 * - `mode: basic`: the header's `user:password` (UTF-8, as advertised by {@link wwwAuthenticate}) is checked with
 *   `bcrypt.compare` against the user's `passwordHash`. An unknown user is compared against a dummy hash of the
 *   same cost, so response time does not reveal which usernames exist.
 * - Successes are cached for {@link AUTH_CACHE_TTL_MS} in an LRU of {@link AUTH_CACHE_MAX} entries keyed by
 *   SHA-256 of a per-verifier random salt followed by the header (the plaintext is never kept; the salt means the
 *   cache's keys alone do not allow offline guessing either). Failures are never cached. Concurrent checks of
 *   the same header share one bcrypt run.
 *
 * Construction hashes the dummy password once, synchronously (~200 ms at cost 12).
 *
 * @param auth `config.auth`, as validated by `loadConfig` (bcrypt hashes, non-empty users).
 * @returns a verifier that never rejects; malformed headers give `{ ok: false }`.
 */
export function createBasicAuth(auth: Config['auth']): BasicAuthVerifier {
  if (auth.mode === 'none') return ALWAYS_OK;

  const hashes = new Map(auth.users.map((u) => [u.username, u.passwordHash]));
  const cost = auth.users[0] ? bcrypt.getRounds(auth.users[0].passwordHash) : 12;
  const dummyHash = bcrypt.hashSync(randomBytes(16).toString('hex'), cost);
  // A salted one-shot hash rather than an HMAC: the digest is only a lookup key, never checked against
  // anything a client sends, and `crypto.hash` costs a sixth of `createHmac` on every request (issue 8).
  const salt = randomBytes(32).toString('hex');
  const cache = new LRUCache<string, string>({ max: AUTH_CACHE_MAX, ttl: AUTH_CACHE_TTL_MS });
  const inflight = new Map<string, Promise<BasicAuthResult>>();

  async function verify(header: string): Promise<BasicAuthResult> {
    const m = BASIC.exec(header);
    if (!m) return DENIED;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return DENIED;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = hashes.get(user);
    // Always exactly one compare, known user or not.
    const ok = await bcrypt.compare(password, hash ?? dummyHash);
    return ok && hash !== undefined ? { ok: true, user } : DENIED;
  }

  return async (header) => {
    if (header === undefined || header === '') return DENIED;
    const digest = hash('sha256', salt + header, 'base64');
    const cached = cache.get(digest);
    if (cached !== undefined) return { ok: true, user: cached };
    let pending = inflight.get(digest);
    if (!pending) {
      pending = verify(header)
        .catch(() => DENIED)
        .then((r) => {
          if (r.ok && r.user !== null) cache.set(digest, r.user);
          return r;
        })
        .finally(() => inflight.delete(digest));
      inflight.set(digest, pending);
    }
    return pending;
  };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Checks an admin `Authorization: Bearer <token>` header (RFC 6750 §2.1) against the configured token.
 * Compares SHA-256 digests with `crypto.timingSafeEqual`, so neither the content nor the length of the token
 * leaks through timing.
 *
 * @param expected `config.admin.token`; undefined (admin API disabled) always gives false.
 * @param header the raw `Authorization` header value, if any.
 */
export function checkBearer(expected: string | undefined, header: string | undefined): boolean {
  if (expected === undefined || expected === '' || header === undefined) return false;
  const m = BEARER.exec(header);
  if (!m) return false;
  return timingSafeEqual(sha256(m[1]!), sha256(expected));
}

/**
 * The `WWW-Authenticate` challenge for a 401: `Basic realm="<realm>", charset="UTF-8"` (RFC 7617 §2, §2.1).
 * The realm is written as an RFC 9110 §5.6.4 quoted-string: `\` and `"` are backslash-escaped and control
 * characters (which could split the header) are dropped.
 *
 * @param realm `config.auth.realm`, e.g. `davgate`.
 */
export function wwwAuthenticate(realm: string): string {
  // eslint-disable-next-line no-control-regex
  const quoted = realm.replace(/[\u0000-\u001f\u007f]/g, '').replace(/[\\"]/g, (c) => `\\${c}`);
  return `Basic realm="${quoted}", charset="UTF-8"`;
}
