/**
 * PROPPATCH (RFC 4918 §9.2). On a file it goes to the upstream holding it. On a collection it goes to every
 * available upstream, so whichever upstream later answers a Depth 0 PROPFIND has the same dead properties;
 * the answer relayed is that of the collection's first HRW candidate.
 */
import { Errors } from '../errors.js';
import { parseXml, DAV_NS } from '../dav/xml.js';
import { readBody, relay, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';

/** PROPPATCH handler. */
export const handleProppatch: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const body = await readBody(ctx);
  const root = parseXml(body, { maxBytes: gw.config.limits.maxXmlBodyBytes });
  if (root.ns !== DAV_NS || root.local !== 'propertyupdate') throw Errors.BAD_XML('root element must be DAV:propertyupdate');
  const loc = await gw.locate(path.key, ctx.signal);
  await checkPreconditions(ctx, [{ key: path.key }]);
  const send = (u: typeof loc.upstream) =>
    gw.send(u, {
      method: 'PROPPATCH',
      key: path.key,
      collection: loc.kind === 'collection' && path.key !== '/',
      headers: { 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
      body,
      signal: ctx.signal,
    });
  if (loc.kind === 'file') return relay(ctx, await send(loc.upstream));
  const others = gw.enabled.filter((u) => u.available && u !== loc.upstream);
  const [main, ...rest] = await Promise.allSettled([send(loc.upstream), ...others.map(send)]);
  for (const r of rest) if (r.status === 'fulfilled') await r.value.body.dump();
  if (main!.status === 'rejected') throw main!.reason;
  return relay(ctx, main!.value);
};

/** Re-export for handlers that need the context type. */
export type { DavContext };
