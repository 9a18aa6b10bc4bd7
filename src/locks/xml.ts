/**
 * Lock XML (RFC 4918 §14, §15.8, §15.10): the DAV:lockdiscovery and DAV:supportedlock property values, the
 * LOCK response body (§9.10.1) and the DAV:lockinfo request body (§14.11).
 *
 * Every fragment uses the `D:` prefix for `DAV:`. The fragments ({@link activeLockXml},
 * {@link lockDiscoveryXml}, {@link supportedLockXml}) do NOT declare it: they go inside a multistatus or prop
 * element that declares `xmlns:D="DAV:"`. {@link lockResponseBody} is a whole document and declares it.
 * A stored owner is a self-contained element (it declares its own namespaces, see {@link parseLockInfo}), so
 * it is valid wherever it is inserted.
 */
import { Errors } from '../errors.js';
import { DAV_NS, escapeText, findChild, parseXml, serializeXml, type ParseXmlOptions, type XmlElement } from '../dav/xml.js';
import type { ActiveLock, LockScope } from './manager.js';

const XML_DECL = '<?xml version="1.0" encoding="utf-8"?>';

/**
 * Maps a canonical key to the href written in the body, e.g. `keyToGatewayHref` from `src/dav/href.ts`.
 * The result is written XML-escaped, not re-encoded.
 */
export type LockHrefOf = (key: string, collection: boolean) => string;

/**
 * The DAV:timeout value of a lock at `nowMs` (RFC 4918 §10.7, §14.29): `Infinite`, or `Second-N` with N the
 * seconds left, rounded up so a fresh lock shows exactly its granted timeout; never negative.
 */
function timeoutValue(lock: ActiveLock, nowMs: number): string {
  if (lock.expiresAt === null) return 'Infinite';
  return `Second-${Math.max(0, Math.ceil((lock.expiresAt - nowMs) / 1000))}`;
}

/**
 * One DAV:activelock (RFC 4918 §14.1), children in the order of its DTD: lockscope, locktype (always write),
 * depth, owner (verbatim, omitted when null), timeout, locktoken/href, lockroot/href (§14.12).
 * Does not declare `xmlns:D`.
 *
 * @param lock - a live lock
 * @param nowMs - the current time, ms epoch (for the remaining timeout)
 * @param hrefOf - key to href; called with the lock root and `rootIsCollection`
 * @returns e.g. `<D:activelock><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>
 *   <D:depth>infinity</D:depth><D:timeout>Second-600</D:timeout><D:locktoken><D:href>urn:uuid:…</D:href>
 *   </D:locktoken><D:lockroot><D:href>/a/</D:href></D:lockroot></D:activelock>` (without the line breaks)
 */
export function activeLockXml(lock: ActiveLock, nowMs: number, hrefOf: LockHrefOf): string {
  return (
    '<D:activelock>' +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    '<D:locktype><D:write/></D:locktype>' +
    `<D:depth>${lock.depth}</D:depth>` +
    (lock.owner ?? '') +
    `<D:timeout>${timeoutValue(lock, nowMs)}</D:timeout>` +
    `<D:locktoken><D:href>${escapeText(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeText(hrefOf(lock.root, lock.rootIsCollection))}</D:href></D:lockroot>` +
    '</D:activelock>'
  );
}

/**
 * The DAV:lockdiscovery property value (RFC 4918 §15.8): one activelock per lock, in the given order;
 * `<D:lockdiscovery/>` when there is none. Does not declare `xmlns:D`.
 *
 * @param locks - the live locks covering the resource (`LockManager.covering(key)`)
 * @param nowMs - the current time, ms epoch
 * @param hrefOf - key to href for the lock roots
 */
export function lockDiscoveryXml(locks: readonly ActiveLock[], nowMs: number, hrefOf: LockHrefOf): string {
  if (locks.length === 0) return '<D:lockdiscovery/>';
  return `<D:lockdiscovery>${locks.map((l) => activeLockXml(l, nowMs, hrefOf)).join('')}</D:lockdiscovery>`;
}

const SUPPORTED_LOCK =
  '<D:supportedlock>' +
  '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
  '</D:supportedlock>';

/**
 * The DAV:supportedlock property value (RFC 4918 §15.10, §14.10): exclusive write and shared write, the same
 * for every resource. Does not declare `xmlns:D`.
 */
export function supportedLockXml(): string {
  return SUPPORTED_LOCK;
}

/**
 * The body of a successful LOCK or lock refresh (RFC 4918 §9.10.1: "the response MUST contain the value of
 * the DAV:lockdiscovery property in a prop XML element"), holding the one lock created or refreshed. A whole
 * document: starts with the XML declaration and declares `xmlns:D="DAV:"`.
 *
 * @param lock - the granted lock
 * @param nowMs - the current time, ms epoch
 * @param hrefOf - key to href for the lock root
 * @returns `<?xml version="1.0" encoding="utf-8"?><D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock>…
 *   </D:activelock></D:lockdiscovery></D:prop>`
 */
export function lockResponseBody(lock: ActiveLock, nowMs: number, hrefOf: LockHrefOf): string {
  return `${XML_DECL}<D:prop xmlns:D="DAV:">${lockDiscoveryXml([lock], nowMs, hrefOf)}</D:prop>`;
}

/** The single DAV: child element of `el`, refusing none, several, or one in another namespace. */
function onlyDavChild(el: XmlElement, what: string): string {
  const kids = el.children.filter((c): c is XmlElement => typeof c !== 'string');
  const first = kids[0];
  if (kids.length !== 1 || first === undefined || first.ns !== DAV_NS) {
    throw Errors.BAD_XML(`DAV:${what} must contain exactly one DAV: element`);
  }
  return first.local;
}

/** What {@link parseLockInfo} reads from a LOCK body. */
export interface LockInfo {
  /** From DAV:lockscope. */
  scope: LockScope;
  /** The DAV:owner element re-serialised as a self-contained fragment, or `null` when absent. */
  owner: string | null;
}

/**
 * Parses a LOCK request body, a DAV:lockinfo element (RFC 4918 §14.11): `(lockscope, locktype, owner?)`.
 * Unknown extra children are ignored (§17).
 *
 * The owner is kept verbatim in content (§14.17: the server stores it and returns it in lockdiscovery):
 * the DAV:owner element is re-serialised with `serializeXml`, which declares on it every namespace used inside,
 * so `<D:owner><x:n>…</x:n></D:owner>` from a body declaring `x` becomes
 * `<D:owner xmlns:D="DAV:" xmlns:x="urn:x"><x:n>…</x:n></D:owner>`. Text, whitespace and attributes are kept;
 * comments and processing instructions are not (the XML tree drops them).
 *
 * @param body - the request body (non-empty; an empty body is a refresh, §9.10.2, and never gets here)
 * @param opts - size and depth limits passed to `parseXml`
 * @returns the scope and the owner
 * @throws DavgateError `DAVGATE_BAD_XML` (400) for malformed XML, a root other than DAV:lockinfo, a missing or
 *   ambiguous DAV:lockscope, a missing DAV:locktype, or a lock type other than DAV:write (the only one,
 *   §14.15); `DAVGATE_PAYLOAD_TOO_LARGE` (413) above `opts.maxBytes`
 */
export function parseLockInfo(body: string, opts: ParseXmlOptions = {}): LockInfo {
  const root = parseXml(body, opts);
  if (root.ns !== DAV_NS || root.local !== 'lockinfo') throw Errors.BAD_XML('root element must be DAV:lockinfo');
  const scopeEl = findChild(root, DAV_NS, 'lockscope');
  if (scopeEl === undefined) throw Errors.BAD_XML('DAV:lockscope missing');
  const scope = onlyDavChild(scopeEl, 'lockscope');
  if (scope !== 'exclusive' && scope !== 'shared') throw Errors.BAD_XML(`unknown lock scope DAV:${scope}`);
  const typeEl = findChild(root, DAV_NS, 'locktype');
  if (typeEl === undefined) throw Errors.BAD_XML('DAV:locktype missing');
  const type = onlyDavChild(typeEl, 'locktype');
  if (type !== 'write') throw Errors.BAD_XML(`unsupported lock type DAV:${type}, only DAV:write`);
  const ownerEl = findChild(root, DAV_NS, 'owner');
  return { scope, owner: ownerEl === undefined ? null : serializeXml(ownerEl) };
}
