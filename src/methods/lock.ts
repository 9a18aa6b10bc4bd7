/**
 * LOCK and UNLOCK (RFC 4918 §9.10, §9.11), passed to the resource's upstream for now; a later issue moves
 * locks into davgate so that a collection lock holds across upstreams. LOCK on an unmapped URL creates an
 * empty resource (§7.3), which goes to the key's owner like a new file. The lockroot href in the answer is
 * rewritten like every other href.
 */
import { DavgateError, Errors } from '../errors.js';
import { parseXml, DAV_NS } from '../dav/xml.js';
import { headerValue } from '../proxy/headers.js';
import type { Upstream } from '../upstream/upstream.js';
import { ifHeaderFor, readBody, relay, type DavContext, type MethodHandler } from './context.js';

async function target(ctx: DavContext): Promise<{ u: Upstream; collection: boolean }> {
  const { gw, path } = ctx;
  try {
    const loc = await gw.locate(path.key, ctx.signal);
    return { u: loc.upstream, collection: loc.kind === 'collection' };
  } catch (err) {
    if (!(err instanceof DavgateError) || err.statusCode !== 404 || ctx.method !== 'LOCK') throw err;
    const { upstream } = gw.placeNew(path.key);
    await gw.ensureParent(upstream, path.key, ctx.signal);
    return { u: upstream, collection: false };
  }
}

function passHeaders(ctx: DavContext, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headerValue(ctx.req.headers, n);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** LOCK handler. */
export const handleLock: MethodHandler = async (ctx) => {
  const body = await readBody(ctx);
  if (body.trim() !== '') {
    const root = parseXml(body, { maxBytes: ctx.gw.config.limits.maxXmlBodyBytes });
    if (root.ns !== DAV_NS || root.local !== 'lockinfo') throw Errors.BAD_XML('root element must be DAV:lockinfo');
  }
  const { u, collection } = await target(ctx);
  const res = await ctx.gw.send(u, {
    method: 'LOCK',
    key: ctx.path.key,
    collection: collection && ctx.path.key !== '/',
    headers: {
      ...passHeaders(ctx, ['depth', 'timeout']),
      ...(body ? { 'content-type': 'application/xml; charset=utf-8' } : {}),
      'accept-encoding': 'identity',
      ...ifHeaderFor(ctx, u),
    },
    body: body || null,
    signal: ctx.signal,
  });
  if (res.status === 201) ctx.gw.afterWrite(ctx.path.key, u);
  return relay(ctx, res);
};

/** UNLOCK handler. */
export const handleUnlock: MethodHandler = async (ctx) => {
  if (headerValue(ctx.req.headers, 'lock-token') === undefined) throw Errors.BAD_HEADER('Lock-Token missing');
  const { u, collection } = await target(ctx);
  const res = await ctx.gw.send(u, {
    method: 'UNLOCK',
    key: ctx.path.key,
    collection: collection && ctx.path.key !== '/',
    headers: { ...passHeaders(ctx, ['lock-token']), ...ifHeaderFor(ctx, u) },
    signal: ctx.signal,
  });
  return relay(ctx, res);
};
