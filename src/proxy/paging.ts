/**
 * Paged listings: a server may answer PROPFIND with part of a collection and a `Link: <url>; rel="next"`
 * header (RFC 8288 §3) naming the rest. 坚果云 does this past 750 entries, and clients that read only the
 * first page miss files (jianguoyun.md §5: Joplin data loss, "760 of 933"). davgate follows every page, so
 * its merged listing is complete or, if a page fails, not sent at all. Pure functions.
 */
import { upstreamHrefToKey } from '../dav/href.js';

/**
 * The `rel="next"` target of a Link header, resolved against `base`, if it stays on `base`'s origin and under
 * its path; otherwise null (a next page elsewhere is never followed).
 *
 * @param link - the Link header value(s), e.g. `<https://dav.jianguoyun.com/dav/a?mk=x>; rel="next"`
 * @param base - the upstream's base URL (origin + base path ending in `/`)
 * @returns the path and query to request on the upstream's origin, e.g. `/dav/a?mk=x`
 */
export function nextPagePath(link: string | string[] | undefined, base: URL): string | null {
  for (const value of [link ?? []].flat()) {
    // Link values are comma-separated; a URI reference cannot contain a raw `>`, so split on `<…>` segments.
    for (const m of value.matchAll(/<([^>]*)>([^<]*)/g)) {
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(m[2] ?? '');
      const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (!rels.includes('next')) continue;
      let target: URL;
      try {
        target = new URL(m[1]!, base);
      } catch {
        continue;
      }
      // Under the base path, however its percent-encoding is spelled (坚果云 writes lowercase hex).
      if (target.origin !== base.origin || upstreamHrefToKey(target.pathname, base) === null) return null;
      return target.pathname + target.search;
    }
  }
  return null;
}

/** Most pages followed for one listing (750 entries each on 坚果云: about 7.5 million members). */
export const MAX_LISTING_PAGES = 10_000;
