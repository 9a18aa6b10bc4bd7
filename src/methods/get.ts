/**
 * GET and HEAD (RFC 9110 §9.3.1–9.3.2). A file is read from its owner, or from the next HRW candidates when
 * the owner answers 404. For a generic upstream, Range, `If-*` and ETag headers pass through unchanged and the
 * body streams. A 坚果云 upstream gets byte ranges answered as RFC 9110 §14 says although the account does not
 * (jianguoyun.md §4 "Range" row: no clamping, suffix ranges misread); the decisions are in `proxy/range.ts`,
 * this file only sends what they ask for. HEAD gets the same treatment as GET: §9.3.2 wants the same header
 * fields as a GET would have had. A collection answers 200 (HEAD) or a small HTML page built from the merged
 * listing (GET); an upstream's 403 on a folder never leaks (issue #2, "Collections exist gateway-wide").
 */
import { Errors } from '../errors.js';
import { headerValue, upstreamRequestHeaders } from '../proxy/headers.js';
import { answerWithSize, firstRequest, parseRangeHeader, type ByteRangeSpec, type FirstRequest } from '../proxy/range.js';
import { keyToGatewayHref } from '../dav/href.js';
import { parseMultistatus, statusCodeOf } from '../dav/multistatus.js';
import { findChild, findChildren, textOf, DAV_NS } from '../dav/xml.js';
import { baseName } from '../path/canonical.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';
import { firstFound } from './candidates.js';
import { empty, relay, type DavContext, type MethodHandler } from './context.js';
import { listCollection } from './listing.js';
import { traitsOf } from '../upstream/profile.js';

const LISTING_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>';

/** Size and ETag of a file in one request. resourcetype too: 坚果云 sends getetag only with it (jianguoyun.md §4). */
const SIZE_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getetag/></D:prop></D:propfind>';

/** Preconditions RFC 9110 §13.2.2 evaluates before Range; davgate leaves them to the upstream. */
const PRECONDITIONS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

/** Statuses that mean "this is the file's answer" and are relayed as they are. */
function isFileAnswer(status: number): boolean {
  return (status >= 200 && status < 300) || status === 304 || status === 412 || status === 416 || status >= 500;
}

/** GET/HEAD handler. */
export const handleGet: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  if (path.key === '/' || path.trailingSlash) {
    const loc = await gw.locate(path.key, ctx.signal);
    if (loc.kind === 'collection') return collectionAnswer(ctx);
    throw Errors.NOT_FOUND();
  }
  const headers = upstreamRequestHeaders(ctx.req.headers);
  const first = firstRequest(parseRangeHeader(headerValue(ctx.req.headers, 'range')));
  const res = await firstFound(ctx, path.key, (u) =>
    !traitsOf(u.profile).rfcRanges ? sendFirst(ctx, u, headers, first) : sendGet(ctx, u, headers),
  );
  if (!traitsOf(res.upstream.profile).rfcRanges) {
    // For a suffix range the first request was the size PROPFIND, and `res` is its answer.
    if (first.kind === 'size-first') return answerBySize(ctx, res, headers, first.spec, true);
    // 坚果云's 416 also means "reaches EOF" (jianguoyun.md statement 8); only the size tells which. The account
    // checks the one precondition it supports (If-None-Match, statement 10) before Range, so a 416 of davgate's
    // may stand in for its 416.
    if (first.kind === 'range' && res.status === 416) {
      await res.body.dump();
      return answerBySize(ctx, await sendSizePropfind(ctx, res.upstream), headers, first.spec, false);
    }
  }
  return answerFile(ctx, res);
};

/** The first request to a 坚果云 account, as {@link firstRequest} decided. */
function sendFirst(ctx: DavContext, u: Upstream, headers: Record<string, string>, first: FirstRequest): Promise<UpstreamResponse> {
  switch (first.kind) {
    case 'as-is':
      return sendGet(ctx, u, headers);
    case 'whole':
      return sendGet(ctx, u, withoutRange(headers));
    case 'range':
      return sendGet(ctx, u, { ...headers, range: first.range });
    case 'size-first':
      return sendSizePropfind(ctx, u);
  }
}

function sendGet(ctx: DavContext, u: Upstream, headers: Record<string, string>): Promise<UpstreamResponse> {
  return ctx.gw.send(u, { method: ctx.method, key: ctx.path.key, headers, signal: ctx.signal });
}

function sendSizePropfind(ctx: DavContext, u: Upstream): Promise<UpstreamResponse> {
  return ctx.gw.send(u, {
    method: 'PROPFIND',
    key: ctx.path.key,
    headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
    body: SIZE_PROPFIND,
    signal: ctx.signal,
  });
}

function withoutRange(headers: Record<string, string>): Record<string, string> {
  const { range: _range, 'if-range': _ifRange, ...rest } = headers;
  return rest;
}

/**
 * Answers a single range once the size is known, from a PROPFIND Depth 0 answer (`prop`). At most one more
 * upstream request: the clamped range under `If-Range` = the ETag learned with the size, so a file changed in
 * between comes back whole (200) rather than as bytes picked for the old size; a 206 whose Content-Range is not
 * the one asked for is refused (502), never relayed.
 */
async function answerBySize(
  ctx: DavContext,
  prop: UpstreamResponse,
  headers: Record<string, string>,
  spec: ByteRangeSpec,
  preconditionsUnevaluated: boolean,
): Promise<void> {
  const u = prop.upstream;
  const facts = await sizeFacts(prop);
  if (facts.kind === 'collection') return collectionAnswer(ctx);
  // No getcontentlength: the range cannot be resolved, and the whole file is always a right answer (§14.2).
  if (facts.size === undefined) return answerFile(ctx, await sendGet(ctx, u, withoutRange(headers)));
  const plan = answerWithSize({
    spec,
    size: facts.size,
    etag: facts.etag,
    ifRange: headers['if-range'],
    unevaluatedPreconditions: preconditionsUnevaluated && PRECONDITIONS.some((h) => headers[h] !== undefined),
  });
  if (plan.kind === 'unsatisfiable') return empty(ctx, 416, { 'content-range': plan.contentRange });
  if (plan.kind === 'whole') return answerFile(ctx, await sendGet(ctx, u, withoutRange(headers)));
  const res = await sendGet(ctx, u, { ...headers, range: plan.range, 'if-range': plan.ifRange });
  if (res.status === 206 && headerValue(res.headers, 'content-range') !== plan.contentRange) {
    await res.body.dump();
    throw Errors.BAD_GATEWAY(`${u.id} answered Content-Range ${headerValue(res.headers, 'content-range')}, not ${plan.contentRange}`);
  }
  return answerFile(ctx, res);
}

/**
 * Reads a size PROPFIND answer: a collection, or a file with its `DAV:getcontentlength` (bytes) and `DAV:getetag`
 * when the upstream sent them (200 propstat).
 *
 * @throws DavgateError 404 when the file is gone (404/409/410, 409 being 坚果云's missing-parent answer), 502 for
 *   any other non-207
 */
async function sizeFacts(res: UpstreamResponse): Promise<{ kind: 'collection' } | { kind: 'file'; size?: number; etag?: string }> {
  if (res.status !== 207) {
    await res.body.dump();
    if (res.status === 404 || res.status === 409 || res.status === 410) throw Errors.NOT_FOUND();
    throw Errors.BAD_GATEWAY(`${res.upstream.id} answered ${res.status} to PROPFIND`);
  }
  const first = parseMultistatus(await res.body.text())[0];
  if (!first) throw Errors.BAD_GATEWAY(`${res.upstream.id} answered an empty multistatus`);
  if (first.isCollection) return { kind: 'collection' };
  const out: { kind: 'file'; size?: number; etag?: string } = { kind: 'file' };
  for (const ps of findChildren(first.element, DAV_NS, 'propstat')) {
    const status = findChild(ps, DAV_NS, 'status');
    if (!status || statusCodeOf(textOf(status)) !== 200) continue;
    for (const prop of findChildren(ps, DAV_NS, 'prop')) {
      const len = findChild(prop, DAV_NS, 'getcontentlength');
      const etag = findChild(prop, DAV_NS, 'getetag');
      if (len && /^\d+$/.test(textOf(len).trim())) out.size = Number(textOf(len).trim());
      if (etag && textOf(etag).trim() !== '') out.etag = textOf(etag).trim();
    }
  }
  return out;
}

/** Relays a file's answer; for anything else asks what the key is, so a folder never leaks an upstream's 403. */
async function answerFile(ctx: DavContext, res: UpstreamResponse): Promise<void> {
  if (isFileAnswer(res.status)) return relay(ctx, res);
  // 403/405/301/409…: upstreams answer these for folders (Apache redirects, Jianguoyun forbids). Ask what
  // the key is before answering, so a folder never leaks an upstream's 403.
  await res.body.dump();
  const kind = await ctx.gw.stat(res.upstream, ctx.path.key, ctx.signal);
  if (kind === 'collection') return collectionAnswer(ctx);
  if (kind === 'absent') throw Errors.NOT_FOUND();
  throw Errors.BAD_GATEWAY(`${res.upstream.id} answered ${res.status} to ${ctx.method} of a file`);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function collectionAnswer(ctx: DavContext): Promise<void> {
  const { reply, path } = ctx;
  if (ctx.method === 'HEAD') {
    reply.code(200).header('content-type', 'text/html; charset=utf-8').send();
    return;
  }
  const entries = await listCollection(ctx, path.key, { body: LISTING_PROPFIND, collection: true });
  const rows: string[] = [];
  if (path.key !== '/') rows.push('<li><a href="../">../</a></li>');
  for (const e of entries) {
    if (e.key === path.key) continue;
    const name = baseName(e.key) + (e.isCollection ? '/' : '');
    const propstat = e.element.children.find((c) => typeof c !== 'string' && c.local === 'propstat');
    const prop = propstat && typeof propstat !== 'string' ? findChild(propstat, DAV_NS, 'prop') : undefined;
    const len = prop ? findChild(prop, DAV_NS, 'getcontentlength') : undefined;
    const size = !e.isCollection && len ? ` (${escapeHtml(textOf(len))} bytes)` : '';
    rows.push(`<li><a href="${escapeHtml(keyToGatewayHref(e.key, e.isCollection))}">${escapeHtml(name)}</a>${size}</li>`);
  }
  const title = escapeHtml(keyToGatewayHref(path.key, true));
  const html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${title}</title></head>\n<body><h1>Index of ${title}</h1>\n<ul>\n${rows.join('\n')}\n</ul></body></html>\n`;
  reply.code(200).header('content-type', 'text/html; charset=utf-8').send(html);
}
