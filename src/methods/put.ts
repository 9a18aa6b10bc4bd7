/**
 * PUT (RFC 9110 §9.3.4, RFC 4918 §9.7). The file goes to the first available HRW candidate (the owner unless
 * it is down). Missing ancestors that exist elsewhere on the gateway are created on that upstream first; a
 * parent missing everywhere gives 409 (RFC 4918 §9.7.1). The body streams and is replayed on the single
 * retry only if none of it was sent. A body without `Content-Length` bound for a 坚果云 upstream, which refuses
 * chunked uploads (jianguoyun.md statement 6), is spooled to a temporary file first and sent with a length.
 */
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';
import { LazyBody } from '../proxy/body.js';
import { headerValue, upstreamRequestHeaders } from '../proxy/headers.js';
import { mustSpool, spoolBody, type Spooled } from '../proxy/spool.js';
import { relay, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';
import { outcomeOf } from '../gateway.js';
import type { Upstream } from '../upstream/upstream.js';

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

/** PUT handler. */
export const handlePut: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  if (path.key === '/' || path.trailingSlash) throw Errors.METHOD_NOT_ALLOWED('cannot PUT to a collection');
  await checkPreconditions(ctx, [{ key: path.key, membership: true }]);
  const source = (ctx.req.body as Readable | undefined) ?? ctx.req.raw;
  const length = headerValue(ctx.req.headers, 'content-length');
  let body = new LazyBody(source, 1024 * 1024);
  let headers = upstreamRequestHeaders(ctx.req.headers);
  let spooled: Spooled | undefined;
  const tried = new Set<Upstream>();
  try {
    // One writer of a key at a time, including the replay of its repairs (see Gateway.withKeyLock).
    return await gw.withKeyLock([path.key], async () => {
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
        } catch (err) {
          // Nothing reached this candidate and no body byte left: the next candidate takes the file
          // (issue #2: "A write that creates a new file ... goes to the next HRW candidate when the owner is down").
          const o = outcomeOf(err);
          if (!body.started && (o.kind === 'down' || (o.kind === 'transport' && o.connect))) {
            tried.add(u);
            continue;
          }
          throw err;
        }
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
        if (res.status >= 200 && res.status < 300) gw.afterWrite(path.key, u);
        return relay(ctx, res);
      }
    });
  } finally {
    // The upstream has answered (or the request failed), so no attempt reads the file any more.
    await spooled?.dispose();
  }
};
