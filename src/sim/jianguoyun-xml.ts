/**
 * Response bodies of the simulated 坚果云 account: error documents, multistatus, lockdiscovery.
 *
 * Byte-level choices, each from jianguoyun.md:
 * - Application errors are `<?xml version="1.0" encoding="UTF-8" standalone="no"?>` followed by a one-line
 *   `<d:error xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com">…</d:error>`. With that prolog the
 *   `AncestorsNotFound` body is exactly 235 bytes, the size captured in nyaterm#611 (§4, MKCOL row).
 * - The throttle body is exactly the text quoted in §1 (no prolog): the quote comes from a client log, and the
 *   throttle is likely answered by a layer in front of the DAV application. (G: the prolog might be there too;
 *   clients match on the `BlockedTemporarily` text, which is identical either way.)
 * - Hrefs are absolute paths, percent-encoded per segment with lowercase hex (§5 "Returned hrefs are
 *   percent-encoded (lowercase hex seen)").
 */
import { escapeAttr, escapeText } from '../dav/xml.js';

/** The vendor namespace of error bodies (jianguoyun.md §1 throttle body). */
export const NS_JIANGUOYUN = 'http://ns.jianguoyun.com';

/** Content-Type of every XML body (jianguoyun.md §1 and §4 "Transport"). */
export const XML_CONTENT_TYPE = 'text/xml; charset=UTF-8';

/** XML prolog of application bodies (jianguoyun.md §4 MKCOL row: the 235-byte AncestorsNotFound body). */
export const PROLOG = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>';

/**
 * The 503 throttle body, byte for byte as quoted in jianguoyun.md §1 ("Throttle reply: HTTP 503 …").
 */
export const BLOCKED_TEMPORARILY_BODY =
  '<d:error xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com"><s:exception>BlockedTemporarily</s:exception>' +
  '<s:message>Too many requests are received recently</s:message></d:error>';

/** Vendor exception names the simulator answers with (jianguoyun.md §4, §5). */
export type SimException = 'AncestorsNotFound' | 'ObjectNotFound' | 'ResourceExisted' | 'DuplicateName' | 'IllegalArgument';

/**
 * Messages of the vendor exceptions. `AncestorsNotFound` and `ObjectNotFound` are quoted in jianguoyun.md §4/§5;
 * `DuplicateName` is built by {@link duplicateNameMessage} (§4 MOVE row). The `ResourceExisted` and
 * `IllegalArgument` messages are not quoted anywhere (G): clients key on the exception, not the message.
 */
export const EXCEPTION_MESSAGES: Readonly<Record<Exclude<SimException, 'DuplicateName'>, string>> = {
  AncestorsNotFound: 'The ancestors of this location does not found',
  ObjectNotFound: 'The resource of this location does not exist',
  ResourceExisted: 'The resource you tried to create already exists',
  IllegalArgument: 'The argument is illegal',
};

/**
 * The `DuplicateName` message of jianguoyun.md §4 (MOVE row): "The object on path /<path> existed", where
 * `<path>` is the destination below `/dav/` (G: whether the vendor includes `/dav` is not recorded).
 */
export function duplicateNameMessage(segments: readonly string[]): string {
  return `The object on path /${segments.join('/')} existed`;
}

/**
 * An application error document (jianguoyun.md §4: the 235-byte `AncestorsNotFound` shape).
 *
 * @param exception - vendor exception name, e.g. `AncestorsNotFound`
 * @param message - human text; defaults to {@link EXCEPTION_MESSAGES}
 */
export function errorBody(exception: SimException, message?: string): string {
  const text = message ?? (exception === 'DuplicateName' ? '' : EXCEPTION_MESSAGES[exception]);
  return (
    `${PROLOG}<d:error xmlns:d="DAV:" xmlns:s="${NS_JIANGUOYUN}"><s:exception>${exception}</s:exception>` +
    `<s:message>${escapeText(text)}</s:message></d:error>`
  );
}

/**
 * Percent-encodes one path segment like the vendor's hrefs: `encodeURIComponent`, plus `!'()*`, hex in lowercase
 * (jianguoyun.md §5 "Returned hrefs are percent-encoded (lowercase hex seen)").
 */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16))
    .replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

/**
 * The href of a resource (jianguoyun.md §5): `/dav/` for the root, otherwise `/dav/<seg>/<seg>` WITHOUT a trailing
 * slash even for folders (the 2026 captures; decide "is folder" from resourcetype).
 */
export function hrefOf(segments: readonly string[]): string {
  return segments.length === 0 ? '/dav/' : '/dav/' + segments.map(encodeSegment).join('/');
}

/** One property value in a multistatus: a DAV: or foreign element with pre-serialised inner XML. */
export interface PropValue {
  /** Namespace name. */
  readonly ns: string;
  /** Local name. */
  readonly local: string;
  /** Already-escaped inner XML; `''` gives an empty element. */
  readonly inner: string;
}

/** One `<d:response>`: an href and its propstats by status code. */
export interface ResponseEntry {
  /** Value of `<d:href>`, see {@link hrefOf}. */
  readonly href: string;
  /** Props found (200). */
  readonly found: readonly PropValue[];
  /** Props asked for but not supported (404, jianguoyun.md §4 "PROPFIND body" and "RFC 4331 quota props"). */
  readonly missing: readonly PropValue[];
}

function propXml(p: PropValue, nsIndex: Map<string, string>): string {
  let name: string;
  let decl = '';
  if (p.ns === 'DAV:') name = `d:${p.local}`;
  else if (p.ns === '') name = p.local;
  else {
    let prefix = nsIndex.get(p.ns);
    if (prefix === undefined) {
      prefix = `ns${nsIndex.size}`;
      nsIndex.set(p.ns, prefix);
    }
    name = `${prefix}:${p.local}`;
    // Declared on the element itself, so every page stays self-contained.
    decl = ` xmlns:${prefix}="${escapeAttr(p.ns)}"`;
  }
  return p.inner === '' ? `<${name}${decl}/>` : `<${name}${decl}>${p.inner}</${name}>`;
}

/**
 * A 207 multistatus body (jianguoyun.md §4 "PROPFIND props", §5 listing): `d:` prefix, one propstat per status,
 * a propstat with no props omitted (except that an entry with nothing at all gets an empty 404 propstat, as §4
 * "a propstat with no props gets status 404" describes).
 */
export function multistatusBody(entries: readonly ResponseEntry[]): string {
  const out: string[] = [`${PROLOG}<d:multistatus xmlns:d="DAV:" xmlns:s="${NS_JIANGUOYUN}">`];
  for (const e of entries) {
    const nsIndex = new Map<string, string>();
    out.push(`<d:response><d:href>${escapeText(e.href)}</d:href>`);
    if (e.found.length > 0) {
      out.push('<d:propstat><d:prop>', ...e.found.map((p) => propXml(p, nsIndex)), '</d:prop>');
      out.push('<d:status>HTTP/1.1 200 OK</d:status></d:propstat>');
    }
    if (e.missing.length > 0 || e.found.length === 0) {
      out.push('<d:propstat><d:prop>', ...e.missing.map((p) => propXml(p, nsIndex)), '</d:prop>');
      out.push('<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>');
    }
    out.push('</d:response>');
  }
  out.push('</d:multistatus>');
  return out.join('');
}

/** Namespace of the fake Win32 props of PROPPATCH (jianguoyun.md §4 PROPPATCH row). */
export const NS_WIN32 = 'urn:schemas-microsoft-com:';

/**
 * The fake PROPPATCH answer (jianguoyun.md §4 PROPPATCH row): 207 with empty `Win32CreationTime`,
 * `Win32LastAccessTime`, `Win32LastModifiedTime` and `Win32FileAttributes` at 200, whatever was asked. Nothing
 * is stored.
 */
export function proppatchBody(href: string): string {
  const p = (local: string): string => `<z:${local}/>`;
  return (
    `${PROLOG}<d:multistatus xmlns:d="DAV:" xmlns:z="${NS_WIN32}"><d:response><d:href>${escapeText(href)}</d:href>` +
    `<d:propstat><d:prop>${p('Win32CreationTime')}${p('Win32LastAccessTime')}${p('Win32LastModifiedTime')}` +
    `${p('Win32FileAttributes')}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`
  );
}

/**
 * The fixed LOCK answer (jianguoyun.md §4 LOCK row): write, exclusive, depth infinity, timeout Infinite, the
 * token in `<d:locktoken><d:href>`.
 */
export function lockBody(token: string): string {
  return (
    `${PROLOG}<d:prop xmlns:d="DAV:"><d:lockdiscovery><d:activelock><d:locktype><d:write/></d:locktype>` +
    '<d:lockscope><d:exclusive/></d:lockscope><d:depth>infinity</d:depth><d:timeout>Infinite</d:timeout>' +
    `<d:locktoken><d:href>${escapeText(token)}</d:href></d:locktoken></d:activelock></d:lockdiscovery></d:prop>`
  );
}

/**
 * The 413 page of the vendor's front-end nginx (jianguoyun.md §3: "An 800 MB PUT got 413 Request Entity Too
 * Large (likely the front-end nginx)"). nginx's stock error page.
 */
export const NGINX_413_BODY =
  '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n' +
  '<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
