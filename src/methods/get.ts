/**
 * GET and HEAD (RFC 9110 §9.3.1–9.3.2). A file is read from its owner, or from the next HRW candidates when
 * the owner answers 404. For a generic upstream, Range, `If-*` and ETag headers pass through unchanged and the
 * body streams. A 坚果云 upstream gets byte ranges answered as RFC 9110 §14 says although the account does not
 * (jianguoyun.md §4 "Range" row: no clamping, suffix ranges misread); the decisions are in `proxy/range.ts`,
 * this file only sends what they ask for. HEAD gets the same treatment as GET: §9.3.2 wants the same header
 * fields as a GET would have had. Conditional headers (If-Match, If-None-Match, If-[Un]Modified-Since) for an
 * account that compares them as exact strings (statement 10) are evaluated by davgate (`proxy/conditionals.ts`)
 * from one PROPFIND and never forwarded. A collection answers 200 (HEAD) or a small HTML page built from the merged
 * listing (GET); an upstream's 403 on a folder never leaks (issue #2, "Collections exist gateway-wide").
 */
import { DavgateError, Errors } from '../errors.js';
import { headerValue, upstreamRequestHeaders } from '../proxy/headers.js';
import {
  answerWithSize,
  firstRequest,
  parseContentRange,
  parseRangeHeader,
  partAnswersSpec,
  resolveRange,
  unsatisfiedContentRange,
  type ByteRangeSpec,
  type FirstRequest,
} from '../proxy/range.js';
import {
  CONDITIONAL_HEADERS,
  conditionalHeadersOf,
  evaluateConditionals,
  withoutConditionals,
  type ConditionalHeaders,
} from '../proxy/conditionals.js';
import { keyToGatewayHref } from '../dav/href.js';
import { baseName } from '../path/canonical.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';
import { firstFound } from './candidates.js';
import { empty, relay, type DavContext, type MethodHandler } from './context.js';
import { listCollection } from './listing.js';
import { readFacts, sendStatePropfind, type ResourceFacts } from './resource-state.js';
import { traitsOf } from '../upstream/profile.js';

const LISTING_PROPFIND =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>';

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
  const rangeHeader = parseRangeHeader(headerValue(ctx.req.headers, 'range'));
  // A Range header that is not a valid bytes range is ignored here (RFC 9110 §14.2), never forwarded: an upstream
  // may choke on it (webdav-server broke the connection on `bytes=3-1`, which counted against its health, and
  // answered `bytes=abc` with 400). Several valid ranges still go to an upstream that serves them (multipart).
  const headers =
    rangeHeader.kind === 'ignored' && rangeHeader.why !== 'multiple'
      ? withoutRange(upstreamRequestHeaders(ctx.req.headers))
      : upstreamRequestHeaders(ctx.req.headers);
  const first = firstRequest(rangeHeader);
  const conditionals = conditionalHeadersOf(ctx.req.headers);
  // An account that compares conditionals as exact strings (statement 10) gets the state PROPFIND first, and
  // davgate evaluates them; without a conditional header nothing extra is sent.
  const evaluatesHere = (u: Upstream) => conditionals !== undefined && !traitsOf(u.profile).rfcConditionals;
  const res = await firstFound(ctx, path.key, (u) =>
    evaluatesHere(u)
      ? sendStatePropfind(ctx, u)
      : !traitsOf(u.profile).rfcRanges
        ? sendFirst(ctx, u, headers, first)
        : sendGet(ctx, u, headers),
  ).catch(async (err: unknown) => {
    if (err instanceof DavgateError && err.statusCode === 404 && (await isCollectionAfter404(ctx))) return undefined;
    throw err;
  });
  if (res === undefined) return collectionAnswer(ctx);
  if (evaluatesHere(res.upstream)) return answerConditional(ctx, res, conditionals!, withoutConditionals(headers), first);
  if (!traitsOf(res.upstream.profile).rfcRanges) {
    // For a suffix range the first request was the size PROPFIND, and `res` is its answer.
    if (first.kind === 'size-first') return answerBySize(ctx, res.upstream, await readFacts(res), headers, first.spec, true);
    // 坚果云's 416 also means "reaches EOF" (jianguoyun.md statement 8); only the size tells which. Any conditional
    // header still here was evaluated by the account before Range (a 坚果云 account never sees one: davgate
    // evaluates them, answerConditional), so a 416 of davgate's may stand in for its 416.
    if (first.kind === 'range' && res.status === 416) {
      await res.body.dump();
      return answerBySize(ctx, res.upstream, await readFacts(await sendStatePropfind(ctx, res.upstream)), headers, first.spec, false);
    }
  } else if (res.status === 206 && rangeHeader.kind === 'single') {
    const contentRange = parseContentRange(headerValue(res.headers, 'content-range'));
    if (!partAnswersSpec(rangeHeader.spec, contentRange)) return answerWrongPart(ctx, res, headers, rangeHeader.spec);
  }
  return answerFile(ctx, res);
};

/**
 * An upstream's 206 is not the part asked for (webdav-server 2 answers a range past the end with
 * `206 bytes 10-9/*`, and `bytes=100-200` of a 10-byte file with byte 9): its bytes are dropped. With the size
 * (one PROPFIND Depth 0) davgate answers 416 `bytes *\/size` when the range is unsatisfiable (§15.5.17), and the
 * whole file otherwise (200; §14.2 lets a server ignore Range), never bytes under a wrong label.
 */
async function answerWrongPart(ctx: DavContext, res: UpstreamResponse, headers: Record<string, string>, spec: ByteRangeSpec): Promise<void> {
  await res.body.dump();
  const size = await sizeOf(ctx, res.upstream);
  if (size !== undefined && resolveRange(spec, size).kind === 'unsatisfiable') {
    return empty(ctx, 416, { 'content-range': unsatisfiedContentRange(size) });
  }
  return answerFile(ctx, await sendGet(ctx, res.upstream, withoutRange(headers)));
}

/**
 * Answers an upstream's 416 with `Content-Range: bytes *\/size` (RFC 9110 §14.4, §15.5.17), which neither Apache
 * nor webdav-server sends: the upstream's own value when it sent one, else the size from one PROPFIND Depth 0
 * (only in this rare case). Without a size (no `getcontentlength`, or the PROPFIND failed) the 416 goes out
 * without it; the status is the answer that matters.
 */
async function answerUnsatisfied(ctx: DavContext, res: UpstreamResponse): Promise<void> {
  const given = parseContentRange(headerValue(res.headers, 'content-range'));
  await res.body.dump();
  const size = given?.kind === 'unsatisfied' ? given.complete : await sizeOf(ctx, res.upstream);
  return empty(ctx, 416, size !== undefined ? { 'content-range': unsatisfiedContentRange(size) } : {});
}

/** The file's size on `u` from a state PROPFIND, or undefined when it cannot be learned (never throws but 499). */
async function sizeOf(ctx: DavContext, u: Upstream): Promise<number | undefined> {
  try {
    const facts = await readFacts(await sendStatePropfind(ctx, u));
    return facts.kind === 'file' ? facts.size : undefined;
  } catch (err) {
    if (err instanceof DavgateError && err.statusCode === 499) throw err;
    return undefined;
  }
}

/**
 * Whether a key every candidate answered 404 to (GET/HEAD, spelled without a trailing slash) is a collection after
 * all: an upstream may answer 404 to GET/HEAD of a collection URL without its slash, while PROPFIND finds it, and
 * a wrong 404 tells a client the folder is gone. Asked only when such an upstream is a candidate
 * (`folderReadMayBe404`): from davgate's collection cache (no request), else with a PROPFIND Depth 0 per candidate
 * ({@link Gateway.collectionExists}); so on generic upstreams a GET/HEAD of a missing file costs that much more.
 */
async function isCollectionAfter404(ctx: DavContext): Promise<boolean> {
  const { gw, path } = ctx;
  if (path.trailingSlash || path.key === '/') return false;
  if (!gw.readCandidates(path.key).some((u) => traitsOf(u.profile).folderReadMayBe404)) return false;
  return gw.collectionExists(path.key, ctx.signal);
}

/**
 * Answers a GET/HEAD whose conditional headers davgate evaluates itself (RFC 9110 §13.2.2 steps 1–4), from the
 * state PROPFIND answer `prop`: 412, 304 with the ETag, or the request performed without those headers (the
 * account's exact-string compare would get `*`, lists, weak tags and If-Match wrong, statement 10). A file that
 * changes between the PROPFIND and the GET is served as it is then (one round trip; the account cannot be asked
 * to check If-Match on a GET); a range is still tied to the size it was clamped for by `If-Range`
 * ({@link answerBySize}).
 *
 * @param headers - the headers to forward, conditionals already removed
 */
async function answerConditional(
  ctx: DavContext,
  prop: UpstreamResponse,
  conditionals: ConditionalHeaders,
  headers: Record<string, string>,
  first: FirstRequest,
): Promise<void> {
  const u = prop.upstream;
  const facts = await readFacts(prop);
  // A collection's GET is davgate's own listing page, which has no validator to compare.
  if (facts.kind === 'collection') return collectionAnswer(ctx);
  const verdict = evaluateConditionals(ctx.method, conditionals, { exists: true, etag: facts.etag, lastModifiedMs: facts.lastModifiedMs });
  if (verdict.kind === 'precondition-failed') throw Errors.PRECONDITION_FAILED(`${verdict.header} evaluated to false`);
  // §15.4.5: a 304 carries the ETag a 200 would have had; the account's own GET sends getetag's value.
  if (verdict.kind === 'not-modified') return empty(ctx, 304, facts.etag !== undefined ? { etag: facts.etag } : {});
  if (traitsOf(u.profile).rfcRanges || first.kind === 'as-is') return answerFile(ctx, await sendGet(ctx, u, headers));
  if (first.kind === 'whole') return answerFile(ctx, await sendGet(ctx, u, withoutRange(headers)));
  // The size is known already: no need to try the range first and learn it from a 416.
  return answerBySize(ctx, u, facts, headers, first.spec, false);
}

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
      return sendStatePropfind(ctx, u);
  }
}

function sendGet(ctx: DavContext, u: Upstream, headers: Record<string, string>): Promise<UpstreamResponse> {
  return ctx.gw.send(u, { method: ctx.method, key: ctx.path.key, headers, signal: ctx.signal });
}

function withoutRange(headers: Record<string, string>): Record<string, string> {
  const { range: _range, 'if-range': _ifRange, ...rest } = headers;
  return rest;
}

/**
 * Answers a single range once the size is known, from a state PROPFIND's facts (`facts`). At most one more
 * upstream request: the clamped range under `If-Range` = the ETag learned with the size, so a file changed in
 * between comes back whole (200) rather than as bytes picked for the old size; a 206 whose Content-Range is not
 * the one asked for is refused (502), never relayed.
 */
async function answerBySize(
  ctx: DavContext,
  u: Upstream,
  facts: ResourceFacts,
  headers: Record<string, string>,
  spec: ByteRangeSpec,
  preconditionsUnevaluated: boolean,
): Promise<void> {
  if (facts.kind === 'collection') return collectionAnswer(ctx);
  // No getcontentlength: the range cannot be resolved, and the whole file is always a right answer (§14.2).
  if (facts.size === undefined) return answerFile(ctx, await sendGet(ctx, u, withoutRange(headers)));
  const plan = answerWithSize({
    spec,
    size: facts.size,
    etag: facts.etag,
    ifRange: headers['if-range'],
    // RFC 9110 §13.2.2 evaluates these before Range. They are unevaluated only when they are still in `headers`
    // (an upstream evaluates them); headers davgate evaluated itself were removed (answerConditional).
    unevaluatedPreconditions: preconditionsUnevaluated && CONDITIONAL_HEADERS.some((h) => headers[h] !== undefined),
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

/** Relays a file's answer; for anything else asks what the key is, so a folder never leaks an upstream's 403. */
async function answerFile(ctx: DavContext, res: UpstreamResponse): Promise<void> {
  if (res.status === 416) return answerUnsatisfied(ctx, res);
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
    const len = e.item.contentLength;
    const size = !e.isCollection && len !== undefined ? ` (${escapeHtml(len.trim())} bytes)` : '';
    rows.push(`<li><a href="${escapeHtml(keyToGatewayHref(e.key, e.isCollection))}">${escapeHtml(name)}</a>${size}</li>`);
  }
  const title = escapeHtml(keyToGatewayHref(path.key, true));
  const html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ${title}</title></head>\n<body><h1>Index of ${title}</h1>\n<ul>\n${rows.join('\n')}\n</ul></body></html>\n`;
  reply.code(200).header('content-type', 'text/html; charset=utf-8').send(html);
}
