/**
 * `DAV:lockdiscovery` and `DAV:supportedlock` in PROPFIND answers come from davgate's lock table, never from
 * an upstream (issue #3): an upstream only knows its own locks, and some fake them. Pure functions over the
 * element tree of `dav/xml.ts`.
 */
import { Errors } from '../errors.js';
import { DAV_NS, findChild, parseXml, type XmlElement } from '../dav/xml.js';

/** What a PROPFIND asked for (RFC 4918 §9.1, §14.20). */
export type PropRequest =
  | { readonly kind: 'allprop' }
  | { readonly kind: 'propname' }
  | { readonly kind: 'prop'; readonly names: ReadonlySet<string> };

const LOCK_PROPS = ['lockdiscovery', 'supportedlock'] as const;

/**
 * Reads a PROPFIND body; empty means allprop (§9.1).
 * @throws DavgateError 400 when the root is not DAV:propfind or names no request type
 */
export function parsePropRequest(body: string): PropRequest {
  if (body.trim() === '') return { kind: 'allprop' };
  const root = parseXml(body);
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

function isLockProp(el: XmlElement): boolean {
  return el.ns === DAV_NS && (LOCK_PROPS as readonly string[]).includes(el.local);
}

function statusOf(propstat: XmlElement): string {
  const st = findChild(propstat, DAV_NS, 'status');
  return st ? st.children.filter((c): c is string => typeof c === 'string').join('') : '';
}

/** Parses `fragment` (elements with the `D:` prefix) into elements. */
export function davFragment(fragment: string): XmlElement[] {
  const wrapper = parseXml(`<D:x xmlns:D="DAV:">${fragment}</D:x>`);
  return wrapper.children.filter((c): c is XmlElement => typeof c !== 'string');
}

/**
 * A copy of one DAV:response with the upstream's lock properties removed and davgate's put in the 200
 * propstat, as far as the request asked for them.
 *
 * @param response - a DAV:response element
 * @param lockdiscovery - davgate's `DAV:lockdiscovery` element for this resource
 * @param supportedlock - davgate's `DAV:supportedlock` element
 */
export function withLockProps(
  response: XmlElement,
  req: PropRequest,
  lockdiscovery: XmlElement,
  supportedlock: XmlElement,
): XmlElement {
  const children: (XmlElement | string)[] = [];
  for (const c of response.children) {
    if (typeof c === 'string' || c.ns !== DAV_NS || c.local !== 'propstat') {
      children.push(c);
      continue;
    }
    const prop = findChild(c, DAV_NS, 'prop');
    if (!prop) {
      children.push(c);
      continue;
    }
    const kept = prop.children.filter((p) => typeof p === 'string' || !isLockProp(p));
    if (!kept.some((p) => typeof p !== 'string')) continue; // nothing else was in this propstat
    children.push({ ...c, children: c.children.map((x) => (x === prop ? { ...prop, children: kept } : x)) });
  }
  const add: XmlElement[] = [];
  const empty = (local: string): XmlElement => ({ ns: DAV_NS, local, attrs: [], children: [] });
  if (wants(req, 'lockdiscovery')) add.push(req.kind === 'propname' ? empty('lockdiscovery') : lockdiscovery);
  if (wants(req, 'supportedlock')) add.push(req.kind === 'propname' ? empty('supportedlock') : supportedlock);
  if (add.length > 0) {
    const i = children.findIndex(
      (c) => typeof c !== 'string' && c.ns === DAV_NS && c.local === 'propstat' && /\s200\s/.test(` ${statusOf(c)} `),
    );
    if (i >= 0) {
      const ps = children[i] as XmlElement;
      const prop = findChild(ps, DAV_NS, 'prop')!;
      children[i] = { ...ps, children: ps.children.map((x) => (x === prop ? { ...prop, children: [...prop.children, ...add] } : x)) };
    } else {
      children.push({
        ns: DAV_NS,
        local: 'propstat',
        attrs: [],
        children: [
          { ns: DAV_NS, local: 'prop', attrs: [], children: add },
          { ns: DAV_NS, local: 'status', attrs: [], children: ['HTTP/1.1 200 OK'] },
        ],
      });
    }
  }
  return { ...response, children };
}
