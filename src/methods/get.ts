/**
 * GET and HEAD (RFC 9110 §9.3.1–9.3.2). A file is read from its owner, or from the next HRW candidates when
 * the owner answers 404. Range, `If-*` and ETag headers pass through unchanged and the body streams. A
 * collection answers 200 (HEAD) or a small HTML page built from the merged listing (GET); an upstream's 403
 * on a folder never leaks (issue #2, "Collections exist gateway-wide").
 */
import { Errors } from '../errors.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { keyToGatewayHref } from '../dav/href.js';
import { findChild, textOf, DAV_NS } from '../dav/xml.js';
import { baseName } from '../path/canonical.js';
import { firstFound } from './candidates.js';
import { relay, type DavContext, type MethodHandler } from './context.js';
import { listCollection } from './listing.js';

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
  const headers = upstreamRequestHeaders(ctx.req.headers);
  const res = await firstFound(ctx, path.key, (u) =>
    gw.send(u, { method: ctx.method, key: path.key, headers, signal: ctx.signal }),
  );
  if (isFileAnswer(res.status)) return relay(ctx, res);
  // 403/405/301/409…: upstreams answer these for folders (Apache redirects, Jianguoyun forbids). Ask what
  // the key is before answering, so a folder never leaks an upstream's 403.
  await res.body.dump();
  const kind = await gw.stat(res.upstream, path.key, ctx.signal);
  if (kind === 'collection') return collectionAnswer(ctx);
  if (kind === 'absent') throw Errors.NOT_FOUND();
  throw Errors.BAD_GATEWAY(`${res.upstream.id} answered ${res.status} to ${ctx.method} of a file`);
};

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
