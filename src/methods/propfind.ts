/**
 * PROPFIND (RFC 4918 §9.1). Depth 0 goes to the resource's upstream (HRW order, owner first); Depth 1 on a
 * collection is merged from every enabled upstream; Depth infinity on a collection is refused with 403 and
 * the `DAV:propfind-finite-depth` precondition, as is a missing Depth (which means infinity).
 */
import { Errors } from '../errors.js';
import { parseDepth } from '../dav/destination.js';
import { parseMultistatus, rewriteHrefs, serializeMultistatus } from '../dav/multistatus.js';
import { parseXml, DAV_NS } from '../dav/xml.js';
import { firstFound } from './candidates.js';
import { hrefMapper, ifHeaderFor, readBody, relay, type DavContext, type MethodHandler } from './context.js';
import { listCollection } from './listing.js';

/**
 * Reads and validates the PROPFIND body; empty means allprop (RFC 4918 §9.1).
 * @throws DavgateError 400 for malformed XML or a root other than DAV:propfind
 */
export async function readPropfindBody(ctx: DavContext): Promise<string> {
  const body = await readBody(ctx);
  if (body.trim() === '') return '';
  const root = parseXml(body, { maxBytes: ctx.gw.config.limits.maxXmlBodyBytes });
  if (root.ns !== DAV_NS || root.local !== 'propfind') throw Errors.BAD_XML('root element must be DAV:propfind');
  return body;
}

function send207(ctx: DavContext, xml: string): void {
  ctx.reply.code(207).header('content-type', 'application/xml; charset=utf-8').send(xml);
}

/** PROPFIND handler. */
export const handlePropfind: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const depth = parseDepth(ctx.req.headers['depth'] as string | undefined, ['0', '1', 'infinity'], 'infinity');
  const body = await readPropfindBody(ctx);
  const baseHeaders = { 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' };

  if (depth === '1') {
    const entries = await listCollection(ctx, path.key, { body, collection: path.trailingSlash });
    return send207(ctx, serializeMultistatus(entries.map((e) => e.element)));
  }

  const isRoot = path.key === '/';
  if (isRoot && depth === 'infinity') throw Errors.FINITE_DEPTH();
  const res = await firstFound(ctx, path.key, (u) =>
    gw.send(u, {
      method: 'PROPFIND',
      key: path.key,
      collection: path.trailingSlash,
      headers: { ...baseHeaders, depth: '0', ...ifHeaderFor(ctx, u) },
      body,
      signal: ctx.signal,
    }),
  );
  if (depth === '0' || res.status !== 207) return relay(ctx, res);

  // Depth infinity: allowed on a file (it has no members), refused on a collection (RFC 4918 §9.1).
  const text = await res.body.text();
  const responses = parseMultistatus(text);
  if (isRoot || responses[0]?.isCollection) throw Errors.FINITE_DEPTH();
  const map = hrefMapper(res.upstream);
  return send207(ctx, serializeMultistatus(responses.map((r) => rewriteHrefs(r.element, map))));
};
