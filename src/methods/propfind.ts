/**
 * PROPFIND (RFC 4918 §9.1). Depth 0 goes to the resource's upstream (HRW order, owner first); Depth 1 on a
 * collection is merged from every enabled upstream (Depth 1 on a file is answered like Depth 0); Depth infinity on a collection is refused with 403 and
 * the `DAV:propfind-finite-depth` precondition, as is a missing Depth (which means infinity).
 * `DAV:lockdiscovery` and `DAV:supportedlock` come from davgate's lock table (issue #3).
 */
import { Errors } from '../errors.js';
import { parseDepth } from '../dav/destination.js';
import { keyToGatewayHref, upstreamHrefToKey } from '../dav/href.js';
import { multistatusBody, readMultistatusText, renderResponseInto, type ResponseSlice } from '../dav/multistatus-stream.js';
import { LOCK_PROPS, lockPropsXml, parsePropRequest, type PropRequest } from '../locks/props.js';
import { lockDiscoveryXml } from '../locks/xml.js';
import { firstFound } from './candidates.js';
import { hrefMapper, readBody, relay, type DavContext, type MethodHandler } from './context.js';
import { gatewayHrefOf } from './lock.js';
import { isCollectionResponse, listCollection } from './listing.js';

/**
 * Reads and validates the PROPFIND body; empty means allprop (RFC 4918 §9.1).
 * @throws DavgateError 400 for malformed XML or a root other than DAV:propfind
 */
async function readPropfind(ctx: DavContext): Promise<{ body: string; req: PropRequest }> {
  const body = await readBody(ctx);
  // One parse both validates the body and says what it asks for.
  return { body, req: parsePropRequest(body, { maxBytes: ctx.gw.config.limits.maxXmlBodyBytes }) };
}

/** Pushes one response with the gateway's href for `key` and davgate's lock properties for it onto `out`. */
function render(ctx: DavContext, out: string[], r: ResponseSlice, key: string, isCollection: boolean, req: PropRequest, nowMs: number): void {
  const locks = lockPropsXml(req, () => lockDiscoveryXml(ctx.gw.locks.covering(key), nowMs, gatewayHrefOf));
  renderResponseInto(out, r, keyToGatewayHref(key, isCollection), locks);
}

function send207(ctx: DavContext, body: Buffer): void {
  ctx.reply.code(207).header('content-type', 'application/xml; charset=utf-8').send(body);
}

/** PROPFIND handler. */
export const handlePropfind: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const depth = parseDepth(ctx.req.headers['depth'] as string | undefined, ['0', '1', 'infinity'], 'infinity');
  const { body, req } = await readPropfind(ctx);
  const baseHeaders = { 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' };

  const merged = async () => {
    const entries = await listCollection(ctx, path.key, { body, collection: path.trailingSlash });
    const now = Date.now();
    return send207(ctx, multistatusBody(entries, (out, e) => render(ctx, out, e.item, e.key, e.isCollection, req, now)));
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
  const map = hrefMapper(res.upstream);
  const responses = readMultistatusText(await res.body.text(), { mapHref: map, omitDavProps: LOCK_PROPS });
  const isCollection = responses[0] !== undefined && isCollectionResponse(responses[0]);
  // Depth infinity: allowed on a file (it has no members), refused on a collection (RFC 4918 §9.1).
  if (depth === 'infinity' && isCollection) throw Errors.FINITE_DEPTH();
  if (depth === '1' && isCollection) return merged();
  const now = Date.now();
  return send207(
    ctx,
    multistatusBody(responses, (out, r) => {
      const key = upstreamHrefToKey(r.href, res.upstream.base) ?? path.key;
      // A 207 for a URL with a slash is a collection's, even when its href lacks the slash (坚果云).
      render(ctx, out, r, key, isCollectionResponse(r) || (key === path.key && path.trailingSlash), req, now);
    }),
  );
};
