/**
 * Builds the Fastify application (no listening: `server.ts` owns the process). Registration order is
 * explicit: WebDAV verbs, body handling, hooks (request id, auth, metrics, access log), operational routes,
 * then the WebDAV catch-all that dispatches to one handler per method in `methods/`.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { checkBearer, createBasicAuth, wwwAuthenticate } from './auth.js';
import { davErrorBody } from './dav/error-body.js';
import { corsDecision, varyWithOrigin } from './front/cors.js';
import { handleExpectContinue } from './front/expect-continue.js';
import { DavgateError, Errors } from './errors.js';
import type { Gateway } from './gateway.js';
import { statusClass } from './metrics.js';
import { handleCopyMove } from './methods/copymove.js';
import { handleDelete } from './methods/delete.js';
import { handleGet } from './methods/get.js';
import { handleLock, handleUnlock } from './methods/lock.js';
import { handleMkcol } from './methods/mkcol.js';
import { ALLOWED_METHODS, handleOptions } from './methods/options.js';
import { handlePropfind } from './methods/propfind.js';
import { handleProppatch } from './methods/proppatch.js';
import { handlePut } from './methods/put.js';
import type { DavContext, MethodHandler } from './methods/context.js';
import { parsePath, pathLengthProblem } from './path/canonical.js';
import { unsupportedTransferCodings } from './proxy/transfer-coding.js';

/** One hop from here to each method's handling (house style rule 7). */
const HANDLERS: Readonly<Record<(typeof ALLOWED_METHODS)[number], MethodHandler>> = {
  OPTIONS: handleOptions,
  GET: handleGet,
  HEAD: handleGet,
  PUT: handlePut,
  DELETE: handleDelete,
  PROPFIND: handlePropfind,
  PROPPATCH: handleProppatch,
  MKCOL: handleMkcol,
  COPY: handleCopyMove,
  MOVE: handleCopyMove,
  LOCK: handleLock,
  UNLOCK: handleUnlock,
};

/** WebDAV verbs Fastify does not know by default (RFC 4918 §9). */
const DAV_VERBS = ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK'] as const;

/** Paths davgate answers itself for GET/HEAD; other methods on them still reach WebDAV. */
export const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics', '/api/admin/webdav/status'] as const;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Writes an error answer: status, Retry-After, and a DAV:error body for RFC 4918 preconditions. */
export function sendError(reply: FastifyReply, err: DavgateError): void {
  if (reply.sent || reply.raw.headersSent) {
    // Too late for a status: cut the connection so the client sees a truncated body, never a short "success".
    reply.raw.destroy();
    return;
  }
  reply.code(err.statusCode);
  if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS));
  if (err.statusCode === 401) reply.header('www-authenticate', wwwAuthenticate(realmOf(reply)));
  if (err.body !== undefined || err.precondition) {
    reply.header('content-type', 'application/xml; charset=utf-8').send(err.body ?? davErrorBody(err.precondition!));
    return;
  }
  reply.header('content-type', 'text/plain; charset=utf-8').send(err.message + '\n');
}

/** A request header as one string (the first, if repeated), or undefined. */
function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function realmOf(reply: FastifyReply): string {
  const gw = (reply.server as FastifyInstance & { gateway?: Gateway }).gateway;
  const auth = gw?.config.auth;
  return auth && auth.mode === 'basic' ? auth.realm : 'davgate';
}

function toDavgateError(err: unknown): DavgateError {
  if (err instanceof DavgateError) return err;
  const e = err as { statusCode?: number; message?: string; code?: string };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new DavgateError(e.code ?? 'DAVGATE_BAD_REQUEST', e.statusCode, e.message ?? 'bad request');
  }
  return new DavgateError('DAVGATE_INTERNAL', 500, 'internal error', { cause: err });
}

/**
 * Builds the app for a gateway.
 *
 * @param gw - the gateway runtime (upstreams, policy, metrics)
 * @param log - the process logger (pino); request logs are its children
 */
export async function buildApp(gw: Gateway, log: Logger): Promise<FastifyInstance> {
  return buildAppWith(gw, log) as unknown as FastifyInstance;
}

async function buildAppWith(gw: Gateway, log: Logger) {
  const app = Fastify({
    loggerInstance: log,
    // One access-log line per request is written by the onRequest hook below (it also sees 499s).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 65_535 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Bodies are streamed by the handlers, never parsed by Fastify.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    // Errors Fastify raises before routing (e.g. malformed percent-encoding) answer like every other 400.
    frameworkErrors: (err, _req, reply) => sendError(reply, toDavgateError(err)),
  });
  app.decorate('gateway', gw);
  // 100 Continue only once a handler reads the body: a 401 (or any other refusal) comes first, unread body.
  handleExpectContinue(app.server);
  for (const verb of DAV_VERBS) app.addHttpMethod(verb, { hasBody: true });

  // Hand every body to the handlers as the raw stream (PUT streams it upstream, PROPFIND reads it bounded).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const verifyBasic = createBasicAuth(gw.config.auth);
  // The access line names only the request id, method, URL, status and duration: no field the logger's redaction
  // paths name (authorization, password, token…), so redaction cannot change it. pino walks every redaction
  // path on every line it writes (~14 µs, issue 8), so this one line per request is written without it.
  const accessLog = log.child({}, { redact: { paths: [] } });
  const adminToken = gw.config.admin.token;

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const started = performance.now();
    (req as FastifyRequest & { startedAt?: number }).startedAt = started;
    reply.raw.once('close', () => {
      const status = reply.raw.writableFinished ? reply.raw.statusCode : 499;
      const method = (ALLOWED_METHODS as readonly string[]).includes(req.method) ? req.method : 'OTHER';
      gw.metrics.httpRequests.inc({ method, status_class: statusClass(status) });
      gw.metrics.httpDuration.observe({ method }, (performance.now() - started) / 1000);
      if (status === 499) gw.metrics.clientAborts.inc();
      const line = { reqId: req.id, method: req.method, url: req.url, status, ms: Math.round(performance.now() - started) };
      if (status >= 500 || status === 499) accessLog.warn(line, 'request finished');
      else accessLog.info(line, 'request finished');
    });
  });

  // CORS (front/cors.ts), only when origins are configured: no hook at all costs nothing per request otherwise.
  // A listed origin's preflight is answered here, before authentication (browsers send it without credentials);
  // its actual requests get their headers on whatever answer they end with, errors included.
  const corsOrigins = gw.config.cors.origins;
  if (corsOrigins.length > 0) {
    app.addHook('onRequest', async (req, reply) => {
      const cors = corsDecision(corsOrigins, req.method, headerOf(req, 'origin'), headerOf(req, 'access-control-request-method'));
      if (cors.kind === 'preflight') {
        reply.code(204).headers(cors.headers).send();
        return reply;
      }
      if (cors.kind === 'actual') reply.headers(cors.headers);
    });
    app.addHook('onSend', async (_req, reply, payload) => {
      // The answer depends on Origin for every request once CORS is on, listed origin or not (shared caches).
      reply.header('vary', varyWithOrigin(reply.getHeader('vary')));
      return payload;
    });
  }

  // Before anything reads a body or reaches an upstream: a transfer coding davgate cannot undo (anything but
  // chunked) is refused with 501 (RFC 9112 §6.1); the coded bytes would otherwise be stored as the file. The body
  // is left unread, so the connection is closed after the answer.
  app.addHook('onRequest', async (req, reply) => {
    const codings = unsupportedTransferCodings(req.headers['transfer-encoding']);
    if (codings.length === 0) return;
    reply.header('connection', 'close');
    sendError(reply, Errors.UNSUPPORTED_TRANSFER_CODING(codings.join(', ')));
    return reply;
  });

  // Operational routes (GET/HEAD only, no WebDAV auth).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const up = gw.enabled.filter((u) => u.available).map((u) => u.id);
    reply.code(up.length > 0 ? 200 : 503);
    return { ready: up.length > 0, upstreamsUp: up.length, upstreams: gw.enabled.length };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', gw.metrics.registry.contentType);
    return gw.metrics.registry.metrics();
  });
  app.get('/api/admin/webdav/status', async (req, reply) => {
    if (adminToken === undefined) return sendError(reply, Errors.NOT_FOUND('admin API disabled (set admin.token)'));
    if (!checkBearer(adminToken, req.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer realm="davgate-admin"');
      return sendError(reply, new DavgateError('DAVGATE_UNAUTHORIZED', 401, 'admin bearer token required'));
    }
    return {
      strategy: gw.policy.name,
      upstreams: gw.upstreams.map((u) => u.status()),
    };
  });

  app.route({
    method: [...ALLOWED_METHODS],
    url: '/*',
    handler: async (req, reply) => {
      const result = await verifyBasic(req.headers.authorization);
      if (!result.ok) return sendError(reply, Errors.UNAUTHORIZED());
      const ctl = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) ctl.abort();
      });
      try {
        const rawUrl = req.raw.url ?? '/';
        const q = rawUrl.indexOf('?');
        const path = parsePath(q >= 0 ? rawUrl.slice(0, q) : rawUrl);
        const tooLong = pathLengthProblem(path.segments, gw.config.limits);
        if (tooLong !== undefined) throw Errors.URI_TOO_LONG(tooLong);
        gw.checkNames(path.segments);
        const ctx: DavContext = { gw, req, reply, method: req.method, path, signal: ctl.signal, user: result.user };
        await HANDLERS[req.method as keyof typeof HANDLERS](ctx);
      } catch (err) {
        const e = toDavgateError(err);
        if (e.statusCode === 499 || ctl.signal.aborted) return;
        if (e.statusCode >= 500) req.log.warn({ code: e.code, err: e.message }, 'request failed');
        return sendError(reply, e);
      }
    },
  });

  app.setErrorHandler((err, _req, reply) => sendError(reply, toDavgateError(err)));
  app.setNotFoundHandler((_req, reply) => sendError(reply, Errors.METHOD_NOT_ALLOWED()));
  return app;
}
