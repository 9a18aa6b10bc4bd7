/**
 * The per-request context every WebDAV method handler receives, and the helpers they share for answering:
 * streaming an upstream response back with headers and hrefs rewritten, reading bounded XML bodies, and
 * mapping upstream hrefs into the gateway's namespace.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Errors } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { keyToGatewayHref, upstreamHrefToKey } from '../dav/href.js';
import { createHrefRewriter } from '../dav/rewrite-stream.js';
import type { ParsedPath } from '../path/canonical.js';
import { clientResponseHeaders, headerValue } from '../proxy/headers.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';

/** Everything a method handler needs. */
export interface DavContext {
  readonly gw: Gateway;
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  /** Upper-case method. */
  readonly method: string;
  /** The parsed request path (validated before any upstream call). */
  readonly path: ParsedPath;
  /** Aborts when the client goes away; pass it to every upstream call. */
  readonly signal: AbortSignal;
  /** The authenticated front-side user, or null with `auth: none` (lock ownership, RFC 4918 §6.4). */
  readonly user: string | null;
}

/** A handler for one WebDAV method. It answers through `ctx.reply` or throws a DavgateError. */
export type MethodHandler = (ctx: DavContext) => Promise<void>;

/**
 * Maps an upstream href (absolute URL or path) to the gateway's namespace. An href outside the upstream's
 * base never reaches the client verbatim: it is replaced by the gateway root. Other URIs (lock tokens such as
 * `opaquelocktoken:…` or `urn:uuid:…`) pass unchanged.
 */
export function hrefMapper(u: Upstream): (href: string) => string {
  return (href) => {
    // Lock tokens are hrefs too (RFC 4918 §14.14: `<D:locktoken><D:href>opaquelocktoken:…`); only URLs and
    // absolute paths name resources.
    const h = href.trim();
    if (!h.startsWith('/') && !/^https?:\/\//i.test(h)) return href;
    const key = upstreamHrefToKey(href, u.base);
    if (key === null) return '/';
    return keyToGatewayHref(key, href.endsWith('/') && key !== '/');
  };
}

/** Maps an upstream `Location`/`Content-Location` value; null drops the header. */
export function locationMapper(u: Upstream): (url: string) => string | null {
  return (url) => {
    let path = url;
    try {
      const abs = new URL(url, u.base);
      if (abs.origin !== u.base.origin) return null;
      path = abs.pathname;
    } catch {
      return null;
    }
    const key = upstreamHrefToKey(path, u.base);
    return key === null ? null : keyToGatewayHref(key, path.endsWith('/') && key !== '/');
  };
}

/**
 * Reads a request body of at most `limitBytes` into a string.
 *
 * @throws DavgateError 413 `DAVGATE_PAYLOAD_TOO_LARGE` past the limit
 */
export async function readBody(ctx: DavContext, limitBytes = ctx.gw.config.limits.maxXmlBodyBytes): Promise<string> {
  const stream = ctx.req.body as Readable | undefined;
  if (!stream || typeof (stream as Readable).on !== 'function') return '';
  const declared = Number(headerValue(ctx.req.headers, 'content-length') ?? '0');
  if (declared > limitBytes) throw Errors.PAYLOAD_TOO_LARGE(`XML bodies are limited to ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw Errors.PAYLOAD_TOO_LARGE(`XML bodies are limited to ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** True when the request carries a body (RFC 9112 §6.3: Content-Length > 0 or Transfer-Encoding). */
export function hasRequestBody(ctx: DavContext): boolean {
  const te = headerValue(ctx.req.headers, 'transfer-encoding');
  const cl = headerValue(ctx.req.headers, 'content-length');
  return te !== undefined || (cl !== undefined && cl !== '0');
}

/** Upstream statuses that mean davgate itself failed towards the upstream, never the client's fault. */
function upstreamStatusForClient(u: Upstream, status: number): number {
  if (status === 401 || status === 407) {
    throw Errors.BAD_GATEWAY(`${u.id} rejected davgate's credentials`);
  }
  return status;
}

/**
 * Streams an upstream response to the client: status, filtered headers (Location/Content-Location
 * rewritten), and the body — through the streaming href rewriter when it is a multistatus/XML body that can
 * name upstream URLs.
 */
export async function relay(ctx: DavContext, res: UpstreamResponse, opts: { rewriteXml?: boolean } = {}): Promise<void> {
  const u = res.upstream;
  let status: number;
  try {
    status = upstreamStatusForClient(u, res.status);
  } catch (err) {
    await res.body.dump();
    throw err;
  }
  const ctype = headerValue(res.headers, 'content-type') ?? '';
  const rewrite = (opts.rewriteXml ?? true) && /\bxml\b/i.test(ctype) && ctx.method !== 'GET' && ctx.method !== 'HEAD';
  const headers = clientResponseHeaders(res.headers, locationMapper(u), rewrite ? ['content-length'] : []);
  ctx.reply.code(status);
  for (const [k, v] of Object.entries(headers)) ctx.reply.header(k, v);
  if (ctx.method === 'HEAD' || status === 204 || status === 304) {
    await res.body.dump();
    return ctx.reply.send();
  }
  if (status >= 400 && !rewrite) {
    // An upstream's own error page (HTML, text) can name its host and base path; the client gets a short
    // reason of davgate's instead. XML error bodies go through the href rewriter below.
    await res.body.dump();
    ctx.reply.removeHeader('content-length');
    ctx.reply.removeHeader('content-encoding');
    ctx.reply.removeHeader('content-range');
    return ctx.reply.header('content-type', 'text/plain; charset=utf-8').send(`upstream ${u.id} answered ${status}\n`);
  }
  if (!rewrite) return ctx.reply.send(res.body);
  const rewriter = createHrefRewriter(hrefMapper(u));
  // Errors are surfaced by the pipeline; the reply stream is the rewriter's output.
  pipeline(res.body, rewriter).catch((err) => {
    ctx.req.log.warn({ err: (err as Error).message, upstream: u.id }, 'href rewrite failed');
  });
  return ctx.reply.send(rewriter);
}

/** Sends a plain answer with no body. */
export function empty(ctx: DavContext, status: number, headers: Record<string, string> = {}): void {
  ctx.reply.code(status);
  for (const [k, v] of Object.entries(headers)) ctx.reply.header(k, v);
  ctx.reply.send();
}
