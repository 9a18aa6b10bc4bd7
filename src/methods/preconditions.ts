/**
 * Preconditions davgate checks itself before any request that changes state (RFC 4918 §10.4, §7, §9.10.6):
 * the `If` header, evaluated against davgate's own lock table and the resources' ETags, and the rule that a
 * write to a locked resource must submit one of its lock tokens. Upstreams never see lock tokens: the `If`
 * header is not forwarded (issue #3).
 */
import { DavgateError, Errors } from '../errors.js';
import { keyToGatewayHref } from '../dav/href.js';
import { davErrorBody } from '../dav/error-body.js';
import { lockTokensOf, parseIfHeader, type IfHeader } from '../dav/if-header.js';
import { evaluateIf, ifHeaderKeys, ifHeaderNeedsEtags, missingLockTokens, type ResourceState } from '../locks/if-eval.js';
import type { ActiveLock } from '../locks/manager.js';
import { parentKey, parsePath } from '../path/canonical.js';
import { parseMultistatus } from '../dav/multistatus.js';
import { DAV_NS, findChild, textOf } from '../dav/xml.js';
import { headerValue } from '../proxy/headers.js';
import { firstFound } from './candidates.js';
import type { DavContext } from './context.js';

/** One resource a request writes. */
export interface WriteTarget {
  /** Canonical key written. */
  readonly key: string;
  /** The write reaches every member too (DELETE or MOVE of a collection, overwriting a collection). */
  readonly deep?: boolean;
  /** The write adds or removes a member of the parent collection (RFC 4918 §7.4: a lock on a collection
   *  protects its membership, so the parent's lock token is needed even with depth 0). */
  readonly membership?: boolean;
}

/** A 423 with the `DAV:lock-token-submitted` precondition naming the lock roots (RFC 4918 §16). */
export class LockedError extends DavgateError {
  constructor(locks: readonly ActiveLock[], precondition: 'lock-token-submitted' | 'no-conflicting-lock' = 'lock-token-submitted') {
    const hrefs = [...new Set(locks.map((l) => keyToGatewayHref(l.root, l.rootIsCollection)))];
    super('DAVGATE_LOCKED', 423, `locked (${precondition})`, { precondition, body: davErrorBody(precondition, hrefs) });
  }
}

/** The parsed `If` header of the request, if any. @throws DavgateError 400 when malformed */
export function ifHeaderOf(ctx: DavContext): IfHeader | undefined {
  const v = headerValue(ctx.req.headers, 'if');
  return v === undefined ? undefined : parseIfHeader(v);
}

/** Maps a Resource-Tag URL of the `If` header to a key of this gateway, or null when it is not ours. */
function resolverFor(ctx: DavContext): (url: string) => string | null {
  const host = (headerValue(ctx.req.headers, 'host') ?? '').toLowerCase();
  return (url) => {
    let u: URL;
    try {
      u = new URL(url, `http://${host || 'gateway.invalid'}/`);
    } catch {
      return null;
    }
    if (!/^https?:$/.test(u.protocol)) return null;
    // An absolute path is ours; an absolute URI or a network-path reference (`//host/…`) must name this host
    // (RFC 4918 §10.4.2: a Resource-Tag is an absolute URI or an absolute path).
    const absolutePath = url.startsWith('/') && !url.startsWith('//');
    if (!absolutePath && u.host.toLowerCase() !== host) return null;
    try {
      return parsePath(u.pathname).key;
    } catch {
      return null;
    }
  };
}

const GETETAG_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>';

/**
 * The current ETag of `key`: its `DAV:getetag` (RFC 4918 §15.6), by PROPFIND Depth 0 on its upstream. Not HEAD:
 * some servers (webdav-server) send no ETag header, and PROPFIND is what 坚果云 answers cheaply too.
 */
async function etagOf(ctx: DavContext, key: string): Promise<{ exists: boolean; etag: string | null }> {
  try {
    const res = await firstFound(
      ctx,
      key,
      (u) =>
        ctx.gw.send(u, {
          method: 'PROPFIND',
          key,
          headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
          body: GETETAG_PROPFIND,
          signal: ctx.signal,
        }),
      { badRequestMeansAbsent: true },
    );
    if (res.status !== 207) {
      await res.body.dump();
      return { exists: res.status < 400, etag: null };
    }
    const first = parseMultistatus(await res.body.text())[0];
    let etag: string | null = null;
    for (const ps of first?.element.children ?? []) {
      if (typeof ps === 'string' || ps.local !== 'propstat') continue;
      const prop = findChild(ps, DAV_NS, 'prop');
      const el = prop && findChild(prop, DAV_NS, 'getetag');
      const status = findChild(ps, DAV_NS, 'status');
      if (el && status && /\s200\s/.test(` ${textOf(status)} `) && textOf(el).trim() !== '') etag = textOf(el).trim();
    }
    return { exists: true, etag };
  } catch (err) {
    if (err instanceof DavgateError && err.statusCode === 404) return { exists: false, etag: null };
    throw err;
  }
}

/** At most this many resources may be named by one If header: each costs an upstream request. */
export const MAX_IF_RESOURCES = 32;

/**
 * The lock tokens a request submits (every state token of its If header, RFC 4918 §10.4.1), less those of
 * locks another principal created: a lock token is usable only by its creator (§6.4).
 */
export function submittedTokens(ctx: DavContext, h: IfHeader | undefined): Set<string> {
  const out = new Set<string>();
  for (const token of h ? lockTokensOf(h) : []) {
    const lock = ctx.gw.locks.byToken(token);
    if (lock && lock.principal !== null && lock.principal !== ctx.user) continue;
    out.add(token);
  }
  return out;
}

/**
 * Checks the request's `If` header and the locks on every target. With `tokens: false` only the If header is
 * evaluated (LOCK, whose conflicts are the lock table's to judge).
 *
 * @throws DavgateError 412 when the If header evaluates to false (RFC 4918 §10.4.1); {@link LockedError}
 *   (423) when a target is locked and none of its lock tokens was submitted (§9.10.6, §10.4.1);
 *   400 for a malformed If header; 502/503/504 when an ETag could not be fetched
 */
export async function checkPreconditions(
  ctx: DavContext,
  targets: readonly WriteTarget[],
  opts: { tokens?: boolean } = {},
): Promise<void> {
  const { locks } = ctx.gw;
  const h = ifHeaderOf(ctx);
  if (h) {
    const resolve = resolverFor(ctx);
    const states = new Map<string, ResourceState>();
    const needEtags = ifHeaderNeedsEtags(h);
    const keys = ifHeaderKeys(h, ctx.path.key, resolve);
    if (keys.length > MAX_IF_RESOURCES) throw Errors.BAD_HEADER(`If names more than ${MAX_IF_RESOURCES} resources`);
    for (const key of keys) {
      const tag = needEtags ? await etagOf(ctx, key) : { exists: true, etag: null };
      states.set(key, { ...tag, lockTokens: locks.covering(key).map((l) => l.token) });
    }
    const state = (key: string): ResourceState =>
      states.get(key) ?? { exists: false, etag: null, lockTokens: locks.covering(key).map((l) => l.token) };
    if (!evaluateIf(h, ctx.path.key, resolve, state)) throw Errors.PRECONDITION_FAILED('If header evaluated to false');
  }
  if (opts.tokens === false) return;
  const submitted = submittedTokens(ctx, h);
  // Each written resource is judged on its own: the locks covering it, satisfied by their tokens (one shared
  // token serves every shared lock on that resource).
  const resources = new Set<string>();
  for (const t of targets) {
    resources.add(t.key);
    if (t.deep) for (const l of locks.below(t.key)) resources.add(l.root);
  }
  const missingByToken = new Map<string, ActiveLock>();
  for (const key of resources) for (const l of missingLockTokens(locks.covering(key), submitted)) missingByToken.set(l.token, l);
  for (const t of targets) {
    if (!t.membership || t.key === '/') continue;
    // Adding or removing a member changes the parent collection (RFC 4918 §7.4): its depth-0 locks count too
    // (depth-infinity ones already cover the member).
    const parent = parentKey(t.key);
    const parentLocks = locks.covering(parent).filter((l) => l.root === parent && l.depth === '0');
    for (const l of missingLockTokens(parentLocks, submitted)) missingByToken.set(l.token, l);
  }
  const missing = [...missingByToken.values()];
  if (missing.length > 0) {
    ctx.gw.metrics.lockConflicts.inc({ reason: 'token_missing' });
    throw new LockedError(missing);
  }
}
