/**
 * Parsing, rewriting and merging of 207 Multi-Status bodies (RFC 4918 §13, §14.16 multistatus,
 * §14.24 response). Pure: data in, data out.
 *
 * A merged PROPFIND Depth 1 listing (issue #2, "Listings") is built from each upstream's responses by
 * {@link mergeListing} and written by {@link serializeMultistatus}.
 */
import { parentKey, type CanonicalKey } from '../path/canonical.js';
import { Errors } from '../errors.js';
import {
  DAV_NS,
  findChild,
  findChildren,
  parseXml,
  serializeXml,
  textOf,
  type ParseXmlOptions,
  type XmlElement,
} from './xml.js';

/** One DAV:response of a multistatus. */
export interface MultistatusResponse {
  /** Text of the first DAV:href, as the server wrote it after XML unescaping (not trimmed, not decoded). */
  href: string;
  /** The whole DAV:response element. */
  element: XmlElement;
  /** True when a propstat with status 200 has a DAV:resourcetype containing DAV:collection. */
  isCollection: boolean;
}

/**
 * The smallest PROPFIND body that tells a collection from a file (RFC 4918 §15.9 `DAV:resourcetype`): existence
 * checks, health probes and the start-up base-folder check all send it with Depth 0.
 */
export const RESOURCETYPE_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>';

/** The status code of an RFC 4918 §14.28 status line (`HTTP/1.1 200 OK`), or `undefined`. */
export function statusCodeOf(statusLine: string): number | undefined {
  const m = /^\s*HTTP\/\d+(?:\.\d+)?\s+(\d{3})(?:\s|$)/.exec(statusLine);
  return m ? Number(m[1]) : undefined;
}

function isCollectionResponse(response: XmlElement): boolean {
  for (const propstat of findChildren(response, DAV_NS, 'propstat')) {
    const status = findChild(propstat, DAV_NS, 'status');
    if (!status || statusCodeOf(textOf(status)) !== 200) continue;
    for (const prop of findChildren(propstat, DAV_NS, 'prop')) {
      const rt = findChild(prop, DAV_NS, 'resourcetype');
      if (rt && findChild(rt, DAV_NS, 'collection')) return true;
    }
  }
  return false;
}

/**
 * Parses a 207 body into its responses, in document order. DAV:responsedescription and other non-response
 * children of the root are ignored.
 *
 * @param text - the body as a string
 * @param opts - size/depth limits passed to {@link parseXml}
 * @returns one entry per DAV:response
 * @throws DavgateError `DAVGATE_BAD_XML` when the XML is malformed, has a DOCTYPE, the root is not
 *   DAV:multistatus, or a response has no DAV:href; `DAVGATE_PAYLOAD_TOO_LARGE` above `opts.maxBytes`
 */
export function parseMultistatus(text: string, opts: ParseXmlOptions = {}): MultistatusResponse[] {
  const root = parseXml(text, opts);
  if (root.ns !== DAV_NS || root.local !== 'multistatus') {
    throw Errors.BAD_XML(`root is {${root.ns}}${root.local}, expected {DAV:}multistatus`);
  }
  return findChildren(root, DAV_NS, 'response').map((element) => {
    const href = findChild(element, DAV_NS, 'href');
    if (!href) throw Errors.BAD_XML('DAV:response without DAV:href');
    return { href: textOf(href), element, isCollection: isCollectionResponse(element) };
  });
}

/**
 * Returns a deep copy of `el` in which the text of every DAV:href element anywhere in the tree is replaced by
 * `map(text)` (response/href, activelock/lockroot/href, hrefs inside DAV:error preconditions…). An href's
 * text is its whole `textOf`, passed untrimmed; markup nested inside an href is dropped.
 *
 * @param el - element to copy; not modified
 * @param map - href text to new href text; exceptions propagate
 */
export function rewriteHrefs(el: XmlElement, map: (href: string) => string): XmlElement {
  const copy: XmlElement = { ...el, attrs: el.attrs.map((a) => ({ ...a })) };
  if (el.ns === DAV_NS && el.local === 'href') {
    copy.children = [map(textOf(el))];
  } else {
    copy.children = el.children.map((c) => (typeof c === 'string' ? c : rewriteHrefs(c, map)));
  }
  return copy;
}

/**
 * A copy of a DAV:response whose own href (its first DAV:href child) is `href`. Used to give collections their
 * trailing slash whatever the upstream wrote (坚果云 lists folders without one, jianguoyun.md §5).
 */
export function withResponseHref(response: XmlElement, href: string): XmlElement {
  let done = false;
  const children = response.children.map((c) => {
    if (done || typeof c === 'string' || c.ns !== DAV_NS || c.local !== 'href') return c;
    done = true;
    return { ...c, children: [href] };
  });
  return { ...response, children };
}

/** One upstream's entry for one key, as given to {@link mergeListing}. */
export interface ListingEntry {
  /** Canonical key of the resource. */
  key: CanonicalKey;
  /** Whether the upstream reports it as a collection. */
  isCollection: boolean;
  /** Its DAV:response element (hrefs usually already rewritten). */
  element: XmlElement;
}

/** Input of {@link mergeListing}. */
export interface MergeListingInput {
  /** The key of the listed collection. */
  collectionKey: CanonicalKey;
  /** Each upstream's parsed responses. */
  perUpstream: { upstreamId: string; responses: ListingEntry[] }[];
  /** Upstream ids for a key, best first (the placement order). Ids missing from it rank last. */
  preferOrder: (key: CanonicalKey) => string[];
}

/** One entry of a merged listing. */
export interface MergedEntry extends ListingEntry {
  /** The upstream whose response was kept. */
  upstreamId: string;
}

/**
 * Merges PROPFIND Depth 1 listings of one collection from several upstreams. Pure and deterministic.
 *
 * - Only the collection itself and its direct members are kept; deeper or unrelated keys are dropped.
 * - Each key appears once. When several upstreams have it, a file entry beats a collection entry (a file
 *   placed by hashing is real content; a collection of the same name is a shadow); among the remaining
 *   candidates the upstream earliest in `preferOrder(key)` wins, then the earliest in `perUpstream` order,
 *   then the earliest response.
 * - Output: the collection first (when any upstream returned it), then members in UTF-16 code unit order
 *   of their keys.
 *
 * @returns the kept entries, each with the upstream it came from
 */
export function mergeListing(input: MergeListingInput): MergedEntry[] {
  const { collectionKey } = input;
  const byKey = new Map<CanonicalKey, { entry: MergedEntry; upstreamIndex: number }[]>();
  input.perUpstream.forEach(({ upstreamId, responses }, upstreamIndex) => {
    for (const r of responses) {
      const wanted = r.key === collectionKey || parentKey(r.key) === collectionKey;
      if (!wanted) continue;
      const list = byKey.get(r.key) ?? [];
      list.push({ entry: { key: r.key, isCollection: r.isCollection, element: r.element, upstreamId }, upstreamIndex });
      byKey.set(r.key, list);
    }
  });

  const merged: MergedEntry[] = [];
  for (const [key, candidates] of byKey) {
    const files = candidates.filter((c) => !c.entry.isCollection);
    const pool = files.length > 0 ? files : candidates;
    const order = input.preferOrder(key);
    const rank = (id: string): number => {
      const i = order.indexOf(id);
      return i === -1 ? order.length : i;
    };
    let best = pool[0]!;
    for (const c of pool.slice(1)) {
      const d = rank(c.entry.upstreamId) - rank(best.entry.upstreamId);
      if (d < 0 || (d === 0 && c.upstreamIndex < best.upstreamIndex)) best = c;
    }
    merged.push(best.entry);
  }
  merged.sort((a, b) => {
    if (a.key === collectionKey) return -1;
    if (b.key === collectionKey) return 1;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  return merged;
}

/**
 * Writes a 207 body (RFC 4918 §14.16) holding the given DAV:response elements, in order:
 * `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" …>…</D:multistatus>`. Namespaces used
 * by the responses are declared on the root.
 *
 * @param elements - DAV:response elements; not modified
 */
export function serializeMultistatus(elements: XmlElement[]): string {
  return serializeXml({ ns: DAV_NS, local: 'multistatus', attrs: [], children: [...elements] }, { declaration: true });
}
