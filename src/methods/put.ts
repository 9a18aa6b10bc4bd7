/**
 * PUT (RFC 9110 §9.3.4, RFC 4918 §9.7). The file goes to the first available HRW candidate (the owner unless
 * it is down). Missing ancestors that exist elsewhere on the gateway are created on that upstream first; a
 * parent missing everywhere gives 409 (RFC 4918 §9.7.1). The body streams and is replayed on the single
 * retry only if none of it was sent. A body without `Content-Length` bound for a 坚果云 upstream, which refuses
 * chunked uploads (jianguoyun.md statement 6), is spooled to a temporary file first and sent with a length.
 * A candidate that throttles the PUT itself (503 BlockedTemporarily: nothing stored) passes the file to the next
 * candidate when the body can be sent again. `If-Match` / `If-None-Match` / `If-Unmodified-Since` are evaluated
 * by davgate when a candidate compares them as exact strings (statement 10), and then not forwarded.
 */
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';
import { LazyBody } from '../proxy/body.js';
import { conditionalHeadersOf, evaluateConditionals, withoutConditionals } from '../proxy/conditionals.js';
import { headerValue, upstreamRequestHeaders } from '../proxy/headers.js';
import { mustSpool, spoolBody, type Spooled } from '../proxy/spool.js';
import { relay, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';
import { outcomeOf } from '../gateway.js';
import type { Upstream } from '../upstream/upstream.js';
import { traitsOf } from '../upstream/profile.js';
import { currentState } from './resource-state.js';

/**
 * Spools the client's body for upstream `u`. On failure (413, 507) the rest of the body is left unread, so the
 * connection cannot carry another request: the answer closes it.
 */
async function spoolFor(ctx: DavContext, source: Readable, u: Upstream): Promise<Spooled> {
  const { spoolMaxBytes, spoolDir } = ctx.gw.config.limits;
  let spooled: Spooled;
  try {
    spooled = await spoolBody(source, { maxBytes: spoolMaxBytes, dir: spoolDir, signal: ctx.signal });
  } catch (err) {
    ctx.reply.header('connection', 'close');
    throw err;
  }
  ctx.gw.metrics.putSpooled.inc({ upstream: u.id });
  ctx.gw.metrics.putSpooledBytes.inc({ upstream: u.id }, spooled.size);
  return spooled;
}

/**
 * Whether a PUT that failed on one candidate may go to the next HRW candidate (issue #2: "A write that creates a
 * new file ... goes to the next HRW candidate when the owner is down"; issue #4: "New files that would have gone
 * there go to the next HRW candidate"). Two things must hold. The candidate stored nothing: it was
 * marked down, the connection was never made, or it is cooling — either refused before sending, or its answer
 * to this very PUT was `503 BlockedTemporarily`, which the vendor sends instead of handling the request
 * (jianguoyun.md §1). And the body can be sent again: none of it left yet, or all of it is kept (spooled, or ≤ the
 * in-memory replay limit; {@link LazyBody.replayable}). Pure.
 *
 * @param err - what the attempt threw
 * @param body - the attempt's body state
 */
export function mayTryNextCandidate(err: unknown, body: { readonly started: boolean; readonly replayable: boolean }): boolean {
  const o = outcomeOf(err);
  const storedNothing = o.kind === 'down' || (o.kind === 'transport' && o.connect) || (o.kind === 'resting' && o.cooling);
  return storedNothing && (!body.started || body.replayable);
}

/** PUT handler. */
export const handlePut: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  if (path.key === '/' || path.trailingSlash) throw Errors.METHOD_NOT_ALLOWED('cannot PUT to a collection');
  await checkPreconditions(ctx, [{ key: path.key, membership: true }]);
  const source = (ctx.req.body as Readable | undefined) ?? ctx.req.raw;
  const length = headerValue(ctx.req.headers, 'content-length');
  let body = new LazyBody(source, 1024 * 1024);
  let headers = upstreamRequestHeaders(ctx.req.headers);
  // RFC 9110 §13: a candidate that compares conditionals as exact strings (坚果云, statement 10) would overwrite
  // a file under `If-None-Match: *` and refuse `If-Match: *`, so davgate evaluates them against the file wherever
  // it is and forwards none. With no conditional header this costs nothing.
  const conditionals = conditionalHeadersOf(ctx.req.headers);
  const evaluateHere = conditionals !== undefined && gw.candidates(path.key).some((u) => !traitsOf(u.profile).rfcConditionals);
  if (evaluateHere) headers = withoutConditionals(headers);
  let spooled: Spooled | undefined;
  const tried = new Set<Upstream>();
  try {
    // One writer of a key at a time, including the replay of its repairs (see Gateway.withKeyLock).
    return await gw.withKeyLock([path.key], async () => {
      if (evaluateHere) {
        // Under the key's lock, so no write through davgate lands between the check and the PUT. A candidate
        // that cannot answer makes this 502/503/504: existence is never guessed.
        const verdict = evaluateConditionals('PUT', conditionals, await currentState(ctx, path.key));
        if (verdict.kind === 'precondition-failed') throw Errors.PRECONDITION_FAILED(`${verdict.header} evaluated to false`);
      }
      for (;;) {
        const { upstream: u } = gw.placeNew(path.key, tried);
        const put = () => gw.send(u, { method: 'PUT', key: path.key, headers, body, signal: ctx.signal });
        let res;
        try {
          await gw.ensureParent(u, path.key, ctx.signal);
          // Spooled once, after the parent check (a 409 never waits for a whole upload); the file then serves
          // any later candidate too, generic or not, and makes the body replayable.
          if (!spooled && mustSpool(length, u.profile)) {
            spooled = await spoolFor(ctx, source, u);
            body = new LazyBody(spooled.open);
            headers = { ...headers, 'content-length': String(spooled.size) };
          }
          res = await put();
          // A 409 after our parent check means a stale cache entry: forget it, recreate the ancestors and, if the
          // body was small enough to keep (or is spooled), send it again.
          if (res.status === 409) {
            gw.forgetCollections();
            if (body.replayable) {
              await res.body.dump();
              await gw.ensureParent(u, path.key, ctx.signal);
              res = await put();
            }
          }
        } catch (err) {
          if (mayTryNextCandidate(err, body)) {
            tried.add(u);
            continue;
          }
          throw err;
        }
        // afterWrite journals what the candidates ranked before `u` owe (down, cooling, or throttled just now):
        // the owner takes this copy back when it can, any older copy elsewhere is deleted. The same mechanism as a
        // PUT placed while the owner is down, so an overwrite that lands elsewhere never leaves an unjournalled copy.
        if (res.status >= 200 && res.status < 300) gw.afterWrite(path.key, u);
        return relay(ctx, res);
      }
    });
  } finally {
    // The upstream has answered (or the request failed), so no attempt reads the file any more.
    await spooled?.dispose();
  }
};
