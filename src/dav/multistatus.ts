/**
 * Parsing and merging of 207 Multi-Status bodies (RFC 4918 §13, §14.16 multistatus, §14.24 response).
 * Pure: data in, data out.
 *
 * {@link parseMultistatus} builds an element tree, for the small Depth 0 answers davgate reads itself
 * (existence checks, probes, state PROPFINDs). PROPFIND answers for clients are read as a stream by
 * `dav/multistatus-stream.ts`; a merged Depth 1 listing (issue #2, "Listings") keeps one upstream's response
 * per key, as {@link mergeListing} decides.
 */
import { parentKey, type CanonicalKey } from '../path/canonical.js';
import { Errors } from '../errors.js';
import {
  DAV_NS,
  findChild,
  findChildren,
  parseXml,
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
  if (statusLine === 'HTTP/1.1 200 OK') return 200; // what nearly every propstat says
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

/** One upstream's entry for one key, as given to {@link mergeListing}. `T` is what is carried along. */
export interface ListingEntry<T> {
  /** Canonical key of the resource. */
  readonly key: CanonicalKey;
  /** Whether the upstream reports it as a collection. */
  readonly isCollection: boolean;
  /** The response as carried (for listings: a `ResponseSlice` of `dav/multistatus-stream.ts`). */
  readonly item: T;
}

/** Input of {@link mergeListing}. */
export interface MergeListingInput<T> {
  /** The key of the listed collection. */
  readonly collectionKey: CanonicalKey;
  /** Each upstream's responses, in the order they were read. */
  readonly perUpstream: readonly { readonly upstreamId: string; readonly responses: readonly ListingEntry<T>[] }[];
  /**
   * Upstream ids for a key, best first (the placement order). Ids missing from it rank last. Asked only for
   * a key that more than one upstream lists (rare), so hashing stays off the per-entry path.
   */
  readonly preferOrder: (key: CanonicalKey) => readonly string[];
}

/** One entry of a merged listing. */
export interface MergedEntry<T> extends ListingEntry<T> {
  /** The upstream whose response was kept. */
  readonly upstreamId: string;
}

/** A candidate for one key: the entry and the index of its upstream in `perUpstream`. */
interface Candidate<T> {
  readonly entry: MergedEntry<T>;
  readonly upstreamIndex: number;
}

/** The candidate kept for a key that several upstreams list (the rules of {@link mergeListing}). */
function pick<T>(candidates: readonly Candidate<T>[], order: readonly string[]): Candidate<T> {
  const files = candidates.filter((c) => !c.entry.isCollection);
  const pool = files.length > 0 ? files : candidates;
  const rank = (id: string): number => {
    const i = order.indexOf(id);
    return i === -1 ? order.length : i;
  };
  let best = pool[0]!;
  for (const c of pool.slice(1)) {
    const d = rank(c.entry.upstreamId) - rank(best.entry.upstreamId);
    if (d < 0 || (d === 0 && c.upstreamIndex < best.upstreamIndex)) best = c;
  }
  return best;
}

/**
 * Merges PROPFIND Depth 1 listings of one collection from several upstreams. Pure and deterministic.
 *
 * - Only the collection itself and its direct members are kept; deeper or unrelated keys are dropped.
 * - Each key appears once. When several upstreams have it, a file entry beats a collection entry (a file
 *   placed by hashing is real content; a collection of the same name is a shadow); among the remaining
 *   candidates the upstream earliest in `preferOrder(key)` wins, then the earliest in `perUpstream` order,
 *   then the earliest response. `preferOrder` is asked only for such keys.
 * - Output: the collection first (when any upstream returned it), then members in UTF-16 code unit order
 *   of their keys.
 *
 * @returns the kept entries, each with the upstream it came from
 */
export function mergeListing<T>(input: MergeListingInput<T>): MergedEntry<T>[] {
  const { collectionKey } = input;
  // The common case is one upstream per key: keep it alone, and a list only once a second one appears.
  const byKey = new Map<CanonicalKey, Candidate<T> | Candidate<T>[]>();
  input.perUpstream.forEach(({ upstreamId, responses }, upstreamIndex) => {
    for (const r of responses) {
      if (r.key !== collectionKey && parentKey(r.key) !== collectionKey) continue;
      const c: Candidate<T> = { entry: { key: r.key, isCollection: r.isCollection, item: r.item, upstreamId }, upstreamIndex };
      const seen = byKey.get(r.key);
      if (seen === undefined) byKey.set(r.key, c);
      else if (Array.isArray(seen)) seen.push(c);
      else byKey.set(r.key, [seen, c]);
    }
  });

  const merged: MergedEntry<T>[] = [];
  for (const [key, seen] of byKey) merged.push(Array.isArray(seen) ? pick(seen, input.preferOrder(key)).entry : seen.entry);
  merged.sort((a, b) => {
    if (a.key === collectionKey) return -1;
    if (b.key === collectionKey) return 1;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  return merged;
}
