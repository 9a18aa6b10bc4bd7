/**
 * Merged Depth 1 listings: one PROPFIND per enabled upstream, in parallel, merged into one answer that
 * names the collection once and each member once. If any upstream cannot answer, the whole listing fails
 * with 503: a partial listing makes sync clients delete data (issue #2, "PROPFIND").
 *
 * Each upstream's 207 is read as it streams in (`dav/multistatus-stream.ts`): every DAV:response is kept as
 * text, never as an element tree, and nothing is written to the client before every upstream and every page
 * has answered completely (issue 8, "Streaming listing merge").
 */
import { DavgateError, Errors, isRequestFault } from '../errors.js';
import { mergeListing, type ListingEntry, type MergedEntry } from '../dav/multistatus.js';
import { MultistatusReader, type ResponseSlice } from '../dav/multistatus-stream.js';
import { upstreamHrefToKey } from '../dav/href.js';
import { LOCK_PROPS } from '../locks/props.js';
import { MAX_LISTING_PAGES, nextPagePath } from '../proxy/paging.js';
import type { DavContext } from './context.js';
import { hrefMapper } from './context.js';

/**
 * Upper bound on one upstream's listing (bytes, all pages together); a folder of ~100k members with allprop
 * fits. What is kept of it is about as large, so this also bounds the memory a listing holds per upstream.
 */
const MAX_LISTING_BYTES = 256 * 1024 * 1024;

/** One response of a listing, as {@link listCollection} returns it. */
export type ListedEntry = MergedEntry<ResponseSlice>;

/**
 * Whether an upstream's response names a collection: a DAV:resourcetype with DAV:collection, or, when
 * resourcetype was not asked for, an href with a trailing slash (RFC 4918 §8.3; Apache, webdav-server).
 * 坚果云 writes folder hrefs without one (jianguoyun.md §5), so there only resourcetype tells.
 */
export function isCollectionResponse(r: ResponseSlice): boolean {
  return r.isCollection || r.href.trimEnd().endsWith('/');
}

/** Options of {@link listCollection}. */
export interface ListOptions {
  /** The PROPFIND body to send to each upstream (empty = allprop, RFC 4918 §9.1). */
  readonly body: string;
  /** Request headers to add (e.g. a rewritten `If`). */
  readonly headers?: Record<string, string>;
  /**
   * Whether `key` is known (or spelled by the client) to be a collection, so the upstream URL gets its
   * trailing slash. When false a collection is still found: `Gateway.send` follows the slash redirect.
   */
  readonly collection: boolean;
}

/**
 * Lists `key` at Depth 1 across every enabled upstream.
 *
 * @returns merged entries, the collection itself first; hrefs already in the gateway's namespace
 * @throws DavgateError 503 `DAVGATE_INCOMPLETE_LISTING` (Retry-After) when any enabled upstream is down or
 *   fails; 404 when no upstream has the key; an upstream 4xx other than 404 is passed on
 */
export async function listCollection(ctx: DavContext, key: string, opts: ListOptions): Promise<ListedEntry[]> {
  const { gw } = ctx;
  const results = await Promise.all(
    gw.enabled.map(async (u) => {
      if (!u.available) {
        // A throttled account is resting, not down: say so, and when it serves again (the rest left).
        const why = u.cooling ? 'is cooling down after a throttle' : 'is down';
        return { u, error: Errors.INCOMPLETE_LISTING(`${u.id} ${why}`, { retryAfterS: Math.max(1, Math.ceil(u.unavailableForMs() / 1000)) }) };
      }
      try {
        const headers = {
          depth: '1',
          'content-type': 'application/xml; charset=utf-8',
          'accept-encoding': 'identity',
          ...opts.headers,
        };
        const mapHref = hrefMapper(u);
        const responses: ListingEntry<ResponseSlice>[] = [];
        const onResponse = (r: ResponseSlice): void => {
          const k = upstreamHrefToKey(r.href, u.base);
          // A copy the repair journal marks stale (overwritten or deleted during this upstream's outage) is
          // not listed; the fresh copy, if any, comes from the upstream that holds it.
          if (k === null || gw.repairs.isStale(k, u.id)) return;
          responses.push({ key: k, isCollection: isCollectionResponse(r), item: r });
        };
        let bytes = 0;
        let rawPath: string | undefined;
        // Every page of a paged listing (proxy/paging.ts); a page that fails fails the whole listing.
        for (let page = 0; ; page++) {
          if (page >= MAX_LISTING_PAGES) throw Errors.INCOMPLETE_LISTING(`${u.id}: more than ${MAX_LISTING_PAGES} pages`);
          const res = await gw.send(u, {
            method: 'PROPFIND',
            key,
            collection: key !== '/' && opts.collection,
            ...(rawPath !== undefined ? { rawPath } : {}),
            headers,
            body: opts.body,
            signal: ctx.signal,
          });
          if (page === 0 && (res.status === 404 || res.status === 409)) {
            await res.body.dump();
            return { u, responses: [] as ListingEntry<ResponseSlice>[], absent: true };
          }
          if (res.status !== 207) {
            await res.body.dump();
            if (page === 0 && res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403) {
              return { u, error: new DavgateError('DAVGATE_UPSTREAM_STATUS', res.status, `${u.id} answered ${res.status}`) };
            }
            return { u, error: Errors.INCOMPLETE_LISTING(`${u.id} answered ${res.status}`, { retryAfterS: 5 }) };
          }
          const reader = new MultistatusReader({ mapHref, onResponse, omitDavProps: LOCK_PROPS });
          try {
            for await (const chunk of res.body as AsyncIterable<Buffer>) {
              bytes += chunk.length;
              if (bytes > MAX_LISTING_BYTES) throw Errors.INCOMPLETE_LISTING(`${u.id} listing above ${MAX_LISTING_BYTES} bytes`);
              reader.write(chunk);
            }
            reader.end();
          } finally {
            // A body abandoned half read (bad XML, too large) must not keep its connection.
            if (!res.body.readableEnded) res.body.destroy();
          }
          const next = nextPagePath(res.headers['link'], u.base);
          if (next === null) break;
          rawPath = next;
        }
        return { u, responses };
      } catch (err) {
        if (isRequestFault(err)) throw err;
        const retryAfterS = err instanceof DavgateError && err.retryAfterS ? err.retryAfterS : 5;
        return { u, error: Errors.INCOMPLETE_LISTING(`${u.id}: ${(err as Error).message}`, { retryAfterS }) };
      }
    }),
  );
  const failed = results.find((r) => 'error' in r && r.error);
  if (failed && 'error' in failed && failed.error) {
    ctx.req.log.warn({ upstream: failed.u.id, err: failed.error.message }, 'listing incomplete; answering 503');
    throw failed.error;
  }
  const perUpstream = results.map((r) => ({ upstreamId: r.u.id, responses: 'responses' in r && r.responses ? r.responses : [] }));
  if (perUpstream.every((p) => p.responses.length === 0)) throw Errors.NOT_FOUND();
  const merged = mergeListing({
    collectionKey: key,
    perUpstream,
    preferOrder: (k) => gw.candidates(k).map((u) => u.id),
  });
  // A key with members is a collection, whatever its href looked like (坚果云 writes folders without a slash,
  // and without DAV:resourcetype asked for nothing else tells): its href gets the slash.
  const first = merged[0];
  if (first !== undefined && first.key === key && !first.isCollection && (merged.length > 1 || opts.collection)) {
    merged[0] = { ...first, isCollection: true };
  }
  return merged;
}
