/**
 * What a file is right now, in one upstream request: PROPFIND Depth 0 asking for its type, size, ETag and last
 * modification date. GET uses it to answer ranges a 坚果云 account gets wrong (jianguoyun.md statement 8) and,
 * with PUT, to evaluate conditional headers the account compares as exact strings (statement 10, see
 * `proxy/conditionals.ts`). Only requests that need it pay for it.
 */
import { DavgateError, Errors } from '../errors.js';
import { parseMultistatus, statusCodeOf } from '../dav/multistatus.js';
import { DAV_NS, findChild, findChildren, textOf } from '../dav/xml.js';
import { parseHttpDate, type CurrentState } from '../proxy/conditionals.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';
import { firstFound } from './candidates.js';
import type { DavContext } from './context.js';

/**
 * Type, size, ETag and date of a resource in one request. resourcetype is needed anyway: 坚果云 sends getetag
 * only together with it (jianguoyun.md §4 "PROPFIND props").
 */
const STATE_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/></D:prop></D:propfind>';

/** A resource as one PROPFIND Depth 0 describes it. Every file field is absent when the upstream sent none. */
export type ResourceFacts =
  | { readonly kind: 'collection' }
  | {
      readonly kind: 'file';
      /** `DAV:getcontentlength` (bytes). */
      readonly size?: number;
      /** `DAV:getetag` as the upstream wrote it (坚果云: often unquoted, jianguoyun.md §4 "ETag format"). */
      readonly etag?: string;
      /** `DAV:getlastmodified` (ms epoch). */
      readonly lastModifiedMs?: number;
    };

/**
 * Sends the state PROPFIND (Depth 0) for `key` to `u`; the answer is read by {@link readFacts}.
 * @throws DavgateError as `Gateway.send` does (502/503/504, 499)
 */
export function sendStatePropfind(ctx: DavContext, u: Upstream, key: string = ctx.path.key): Promise<UpstreamResponse> {
  return ctx.gw.send(u, {
    method: 'PROPFIND',
    key,
    headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
    body: STATE_PROPFIND,
    signal: ctx.signal,
  });
}

/**
 * Reads a state PROPFIND answer (consumes its body): a collection, or a file with what the upstream sent in a
 * 200 propstat.
 *
 * @throws DavgateError 404 when the file is gone (404/409/410, 409 being 坚果云's missing-parent answer), 502 for
 *   any other non-207 or an empty multistatus
 */
export async function readFacts(res: UpstreamResponse): Promise<ResourceFacts> {
  if (res.status !== 207) {
    await res.body.dump();
    if (res.status === 404 || res.status === 409 || res.status === 410) throw Errors.NOT_FOUND();
    throw Errors.BAD_GATEWAY(`${res.upstream.id} answered ${res.status} to PROPFIND`);
  }
  const first = parseMultistatus(await res.body.text())[0];
  if (!first) throw Errors.BAD_GATEWAY(`${res.upstream.id} answered an empty multistatus`);
  if (first.isCollection) return { kind: 'collection' };
  const out: { kind: 'file'; size?: number; etag?: string; lastModifiedMs?: number } = { kind: 'file' };
  for (const ps of findChildren(first.element, DAV_NS, 'propstat')) {
    const status = findChild(ps, DAV_NS, 'status');
    if (!status || statusCodeOf(textOf(status)) !== 200) continue;
    for (const prop of findChildren(ps, DAV_NS, 'prop')) {
      const len = findChild(prop, DAV_NS, 'getcontentlength');
      const etag = findChild(prop, DAV_NS, 'getetag');
      const modified = findChild(prop, DAV_NS, 'getlastmodified');
      if (len && /^\d+$/.test(textOf(len).trim())) out.size = Number(textOf(len).trim());
      if (etag && textOf(etag).trim() !== '') out.etag = textOf(etag).trim();
      const ms = modified ? parseHttpDate(textOf(modified)) : undefined;
      if (ms !== undefined) out.lastModifiedMs = ms;
    }
  }
  return out;
}

/**
 * The current state of `key` on the gateway for the conditionals (RFC 9110 §13): asks its candidates in HRW
 * order like a read does ({@link firstFound}), so a file written while its owner was down is found where it is.
 *
 * @returns `exists: false` when every candidate answered "not found"
 * @throws DavgateError 502/503/504 when a candidate that may hold the file cannot answer: existence is never
 *   guessed (a create-only PUT must not overwrite a file it could not see)
 */
export async function currentState(ctx: DavContext, key: string): Promise<CurrentState> {
  let facts: ResourceFacts;
  try {
    facts = await readFacts(await firstFound(ctx, key, (u) => sendStatePropfind(ctx, u, key), { badRequestMeansAbsent: true }));
  } catch (err) {
    if (err instanceof DavgateError && err.statusCode === 404) return { exists: false };
    throw err;
  }
  return facts.kind === 'collection' ? { exists: true } : { exists: true, etag: facts.etag, lastModifiedMs: facts.lastModifiedMs };
}
