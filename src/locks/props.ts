/**
 * `DAV:lockdiscovery` and `DAV:supportedlock` in PROPFIND answers come from davgate's lock table, never from
 * an upstream (issue #3): an upstream only knows its own locks, and some fake them. Pure functions.
 */
import { Errors } from '../errors.js';
import { DAV_NS, findChild, parseXml, type ParseXmlOptions } from '../dav/xml.js';
import { supportedLockXml } from './xml.js';

/** What a PROPFIND asked for (RFC 4918 §9.1, §14.20). */
export type PropRequest =
  | { readonly kind: 'allprop' }
  | { readonly kind: 'propname' }
  | { readonly kind: 'prop'; readonly names: ReadonlySet<string> };

/**
 * DAV: properties whose upstream values never reach a client (local names): davgate's lock table answers
 * them. The multistatus reader leaves them out of every upstream response (`omitDavProps`).
 */
export const LOCK_PROPS: ReadonlySet<string> = new Set(['lockdiscovery', 'supportedlock']);

/**
 * Reads a PROPFIND body; empty means allprop (§9.1).
 * @param opts - limits for the parser (`maxBytes`…), see `parseXml`
 * @throws DavgateError 400 when the body is malformed XML, the root is not DAV:propfind or names no request
 *   type; 413 `DAVGATE_PAYLOAD_TOO_LARGE` above `opts.maxBytes`
 */
export function parsePropRequest(body: string, opts: ParseXmlOptions = {}): PropRequest {
  if (body.trim() === '') return { kind: 'allprop' };
  const root = parseXml(body, opts);
  if (root.ns !== DAV_NS || root.local !== 'propfind') throw Errors.BAD_XML('root element must be DAV:propfind');
  if (findChild(root, DAV_NS, 'propname')) return { kind: 'propname' };
  // allprop with an include list still returns every live property davgate adds.
  if (findChild(root, DAV_NS, 'allprop')) return { kind: 'allprop' };
  const prop = findChild(root, DAV_NS, 'prop');
  if (!prop) throw Errors.BAD_XML('DAV:propfind needs DAV:prop, DAV:allprop or DAV:propname');
  const names = new Set<string>();
  for (const c of prop.children) if (typeof c !== 'string') names.add(`${c.ns} ${c.local}`);
  return { kind: 'prop', names };
}

/** Whether the request asks for a DAV: property by local name. */
function wants(req: PropRequest, local: string): boolean {
  return req.kind !== 'prop' || req.names.has(`${DAV_NS} ${local}`);
}

/**
 * davgate's lock properties for one response, as far as the request asked for them: for `DAV:propname`
 * their empty elements, else their values, lockdiscovery first. Written with the `D:` prefix and no
 * declaration, for `renderResponse` of `dav/multistatus-stream.ts`.
 *
 * @param req - what the PROPFIND asked for
 * @param lockdiscovery - davgate's `DAV:lockdiscovery` for the resource (`lockDiscoveryXml`); called only when
 *   asked for
 * @returns `''` when neither is asked for
 */
export function lockPropsXml(req: PropRequest, lockdiscovery: () => string): string {
  if (req.kind === 'propname') return '<D:lockdiscovery/><D:supportedlock/>';
  return (wants(req, 'lockdiscovery') ? lockdiscovery() : '') + (wants(req, 'supportedlock') ? supportedLockXml() : '');
}
