/**
 * PUT (RFC 9110 §9.3.4, RFC 4918 §9.7). The file goes to the first available HRW candidate (the owner unless
 * it is down). Missing ancestors that exist elsewhere on the gateway are created on that upstream first; a
 * parent missing everywhere gives 409 (RFC 4918 §9.7.1). The body streams and is replayed on the single
 * retry only if none of it was sent.
 */
import type { Readable } from 'node:stream';
import { Errors } from '../errors.js';
import { LazyBody } from '../proxy/body.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { relay, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';
import { outcomeOf } from '../gateway.js';
import type { Upstream } from '../upstream/upstream.js';

/** PUT handler. */
export const handlePut: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  if (path.key === '/' || path.trailingSlash) throw Errors.METHOD_NOT_ALLOWED('cannot PUT to a collection');
  await checkPreconditions(ctx, [{ key: path.key, membership: true }]);
  const source = (ctx.req.body as Readable | undefined) ?? ctx.req.raw;
  const body = new LazyBody(source, 1024 * 1024);
  const tried = new Set<Upstream>();
  // One writer of a key at a time, including the replay of its repairs (see Gateway.withKeyLock).
  return gw.withKeyLock([path.key], async () => {
    for (;;) {
      const { upstream: u } = gw.placeNew(path.key, tried);
      const put = () =>
        gw.send(u, {
          method: 'PUT',
          key: path.key,
          headers: upstreamRequestHeaders(ctx.req.headers),
          body,
          signal: ctx.signal,
        });
      let res;
      try {
        await gw.ensureParent(u, path.key, ctx.signal);
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
      // body was small enough to keep, send it again.
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
};
