/**
 * LOCK and UNLOCK (RFC 4918 §9.10, §9.11), answered by davgate from its own lock table: a lock on a
 * collection must cover members stored on every upstream, and some upstreams fake locks (坚果云's LOCK
 * enforces nothing). Upstreams never see LOCK, UNLOCK or lock tokens (issue #3).
 *
 * LOCK on an unmapped URL creates an empty file on the key's owner and answers 201 (§7.3, §9.10.4).
 */
import { DavgateError, Errors } from '../errors.js';
import { parseDepth } from '../dav/destination.js';
import { keyToGatewayHref } from '../dav/href.js';
import { lockTokensOf } from '../dav/if-header.js';
import { lockResponseBody, parseLockInfo } from '../locks/xml.js';
import { parseTimeoutHeader, type ActiveLock } from '../locks/manager.js';
import { headerValue } from '../proxy/headers.js';
import { missingLockTokens } from '../locks/if-eval.js';
import { parentKey } from '../path/canonical.js';
import { readBody, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions, ifHeaderOf, LockedError, submittedTokens } from './preconditions.js';

/** Largest `DAV:owner` kept with a lock (bytes): owners are stored verbatim and repeated in every lockdiscovery. */
export const MAX_OWNER_BYTES = 8 * 1024;
/** Most locks held at once, and most locks covering one resource (many shared locks). */
export const MAX_LOCKS = 100_000;
export const MAX_LOCKS_PER_RESOURCE = 64;

/** Lock XML hrefs are gateway hrefs. */
export const gatewayHrefOf = (key: string, collection: boolean): string => keyToGatewayHref(key, collection && key !== '/');

function sendLock(ctx: DavContext, lock: ActiveLock, status: 200 | 201): void {
  ctx.reply
    .code(status)
    .header('lock-token', `<${lock.token}>`)
    .header('content-type', 'application/xml; charset=utf-8')
    .send(lockResponseBody(lock, Date.now(), gatewayHrefOf));
}

/** What is at `key` now, on the gateway. */
async function kindOf(ctx: DavContext): Promise<'file' | 'collection' | 'absent'> {
  try {
    return (await ctx.gw.locate(ctx.path.key, ctx.signal)).kind;
  } catch (err) {
    if (err instanceof DavgateError && err.statusCode === 404) return 'absent';
    throw err;
  }
}

/** Creates an empty file at the request key, as a LOCK on an unmapped URL does (§7.3). */
async function createEmpty(ctx: DavContext): Promise<void> {
  const { gw, path } = ctx;
  const { upstream } = gw.placeNew(path.key);
  await gw.ensureParent(upstream, path.key, ctx.signal);
  const res = await gw.send(upstream, {
    method: 'PUT',
    key: path.key,
    headers: { 'content-length': '0', 'content-type': 'application/octet-stream' },
    body: '',
    signal: ctx.signal,
  });
  await res.body.dump();
  if (res.status < 200 || res.status >= 300) {
    throw new DavgateError('DAVGATE_UPSTREAM_STATUS', res.status === 409 ? 409 : 502, `${upstream.id} answered ${res.status} creating the locked resource`);
  }
  gw.afterWrite(path.key, upstream);
}

/** LOCK handler. */
export const handleLock: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const body = await readBody(ctx);
  const timeoutS = parseTimeoutHeader(headerValue(ctx.req.headers, 'timeout'));

  if (body.trim() === '') {
    // Refresh (§9.10.2): no body, the If header names the lock to refresh; it must hold as a whole (§10.4.1),
    // and only the lock's creator may refresh it (§6.4).
    const h = ifHeaderOf(ctx);
    if (!h || lockTokensOf(h).length === 0) {
      throw Errors.BAD_HEADER('a LOCK without a body refreshes a lock: send its token in an If header');
    }
    await checkPreconditions(ctx, [], { tokens: false });
    for (const token of submittedTokens(ctx, h)) {
      const lock = gw.locks.refresh(token, path.key, timeoutS);
      if (lock) return sendLock(ctx, lock, 200);
    }
    throw Errors.PRECONDITION_FAILED('no lock with the submitted token covers this resource');
  }

  const info = parseLockInfo(body);
  if (info.owner !== null && Buffer.byteLength(info.owner) > MAX_OWNER_BYTES) {
    throw Errors.PAYLOAD_TOO_LARGE(`a lock owner is limited to ${MAX_OWNER_BYTES} bytes`);
  }
  // Bounded table: every lock is kept in memory and listed in lockdiscovery.
  if (gw.locks.size >= MAX_LOCKS) {
    throw new DavgateError('DAVGATE_TOO_MANY_LOCKS', 503, 'too many active locks', { retryAfterS: 60 });
  }
  if (gw.locks.covering(path.key).length >= MAX_LOCKS_PER_RESOURCE) {
    gw.metrics.lockConflicts.inc({ reason: 'conflict' });
    throw new DavgateError('DAVGATE_LOCKED', 423, `at most ${MAX_LOCKS_PER_RESOURCE} locks may cover one resource`, {
      precondition: 'no-conflicting-lock',
    });
  }
  const depth = parseDepth(headerValue(ctx.req.headers, 'depth'), ['0', 'infinity'], 'infinity');
  const kind = await kindOf(ctx);
  // The If header is evaluated like for any write; conflicts with held locks are the lock table's question.
  await checkPreconditions(ctx, [], { tokens: false });
  if (kind === 'absent' && path.key !== '/') {
    // Creating the empty resource adds a member to the parent (RFC 4918 §7.4): a depth-0 lock on the parent
    // needs its token. Locks covering the new resource itself are conflicts, judged by the lock table below.
    const parent = parentKey(path.key);
    const h = ifHeaderOf(ctx);
    const parentLocks = gw.locks.covering(parent).filter((l) => l.root === parent && l.depth === '0');
    const missing = missingLockTokens(parentLocks, submittedTokens(ctx, h));
    if (missing.length > 0) {
      gw.metrics.lockConflicts.inc({ reason: 'token_missing' });
      throw new LockedError(missing);
    }
  }
  const result = gw.locks.lock({
    key: path.key,
    rootIsCollection: kind === 'collection',
    depth,
    scope: info.scope,
    owner: info.owner,
    timeoutS,
    principal: ctx.user,
  });
  if (!result.ok) {
    gw.metrics.lockConflicts.inc({ reason: 'conflict' });
    throw new LockedError(result.conflicts, 'no-conflicting-lock');
  }
  if (kind === 'absent') {
    try {
      await createEmpty(ctx);
    } catch (err) {
      gw.locks.unlock(result.lock.token, path.key);
      throw err;
    }
    return sendLock(ctx, result.lock, 201);
  }
  return sendLock(ctx, result.lock, 200);
};

/** UNLOCK handler (§9.11): 204, or 409 with `DAV:lock-token-matches-request-uri`. */
export const handleUnlock: MethodHandler = async (ctx) => {
  const raw = headerValue(ctx.req.headers, 'lock-token');
  const m = raw === undefined ? null : /^\s*<([^>]+)>\s*$/.exec(raw);
  if (!m) throw Errors.BAD_HEADER('Lock-Token must be a Coded-URL, e.g. <urn:uuid:…>');
  const held = ctx.gw.locks.byToken(m[1]!);
  if (held && held.principal !== null && held.principal !== ctx.user) {
    // Only the lock's creator may remove it (RFC 4918 §6.4, §9.11).
    throw new DavgateError('DAVGATE_NOT_LOCK_OWNER', 403, 'the lock belongs to another user');
  }
  const lock = ctx.gw.locks.unlock(m[1]!, ctx.path.key);
  if (!lock) {
    throw new DavgateError('DAVGATE_LOCK_TOKEN_MISMATCH', 409, 'no lock with this token covers the request URI', {
      precondition: 'lock-token-matches-request-uri',
    });
  }
  ctx.reply.code(204).send();
};
