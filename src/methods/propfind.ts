/**
 * PROPFIND (RFC 4918 §9.1). Depth 0 goes to the resource's upstream (HRW order, owner first); Depth 1 on a
 * collection is merged from every enabled upstream (Depth 1 on a file is answered like Depth 0); Depth infinity on a collection is refused with 403 and
 * the `DAV:propfind-finite-depth` precondition, as is a missing Depth (which means infinity).
 * `DAV:lockdiscovery` and `DAV:supportedlock` come from davgate's lock table (issue #3).
 */
import { Errors } from '../errors.js';
import { parseDepth } from '../dav/destination.js';
import { keyToGatewayHref, upstreamHrefToKey } from '../dav/href.js';
import { parseMultistatus, rewriteHrefs, serializeMultistatus, withResponseHref } from '../dav/multistatus.js';
import { parseXml, type XmlElement } from '../dav/xml.js';
import { davFragment, parsePropRequest, withLockProps, type PropRequest } from '../locks/props.js';
import { lockDiscoveryXml, supportedLockXml } from '../locks/xml.js';
import { firstFound } from './candidates.js';
import { hrefMapper, readBody, relay, type DavContext, type MethodHandler } from './context.js';
import { gatewayHrefOf } from './lock.js';
import { listCollection } from './listing.js';

const SUPPORTED_LOCK = davFragment(supportedLockXml())[0]!;

/**
 * Reads and validates the PROPFIND body; empty means allprop (RFC 4918 §9.1).
 * @throws DavgateError 400 for malformed XML or a root other than DAV:propfind
 */
async function readPropfind(ctx: DavContext): Promise<{ body: string; req: PropRequest }> {
  const body = await readBody(ctx);
  if (body.trim() !== '') parseXml(body, { maxBytes: ctx.gw.config.limits.maxXmlBodyBytes });
  return { body, req: parsePropRequest(body) };
}

/** One response with davgate's lock properties for `key`. */
function withLocks(ctx: DavContext, el: XmlElement, key: string, req: PropRequest): XmlElement {
  const discovery = davFragment(lockDiscoveryXml(ctx.gw.locks.covering(key), Date.now(), gatewayHrefOf))[0]!;
  return withLockProps(el, req, discovery, SUPPORTED_LOCK);
}

function send207(ctx: DavContext, xml: string): void {
  ctx.reply.code(207).header('content-type', 'application/xml; charset=utf-8').send(xml);
}

/** PROPFIND handler. */
export const handlePropfind: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const depth = parseDepth(ctx.req.headers['depth'] as string | undefined, ['0', '1', 'infinity'], 'infinity');
  const { body, req } = await readPropfind(ctx);
  const baseHeaders = { 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' };

  const merged = async () => {
    const entries = await listCollection(ctx, path.key, { body, collection: path.trailingSlash });
    return send207(ctx, serializeMultistatus(entries.map((e) => withLocks(ctx, e.element, e.key, req))));
  };
  // A listing asks every account. Without a trailing slash the URL may be a file (rclone reads each file it
  // uploaded this way): unless davgate knows a collection there, ask the owner first, and a file's answer is
  // the whole Depth 1 answer (a file has no members, RFC 4918 §9.1) for one request instead of one per account.
  if (depth === '1' && (path.trailingSlash || path.key === '/' || gw.enabled.some((u) => gw.knowsCollection(u, path.key)))) {
    return merged();
  }

  const isRoot = path.key === '/';
  if (isRoot && depth === 'infinity') throw Errors.FINITE_DEPTH();
  const res = await firstFound(ctx, path.key, (u) =>
    gw.send(u, {
      method: 'PROPFIND',
      key: path.key,
      collection: path.trailingSlash,
      headers: { ...baseHeaders, depth: '0' },
      body,
      signal: ctx.signal,
    }),
    // The body was validated above, so an upstream 400 is about the path (below a file), not the request.
    { badRequestMeansAbsent: true },
  );
  if (res.status !== 207) return relay(ctx, res);
  const responses = parseMultistatus(await res.body.text());
  // Depth infinity: allowed on a file (it has no members), refused on a collection (RFC 4918 §9.1).
  if (depth === 'infinity' && responses[0]?.isCollection) throw Errors.FINITE_DEPTH();
  if (depth === '1' && responses[0]?.isCollection) return merged();
  const map = hrefMapper(res.upstream);
  return send207(
    ctx,
    serializeMultistatus(
      responses.map((r) => {
        const key = upstreamHrefToKey(r.href, res.upstream.base) ?? path.key;
        const el = withResponseHref(rewriteHrefs(r.element, map), keyToGatewayHref(key, r.isCollection));
        return withLocks(ctx, el, key, req);
      }),
    ),
  );
};
