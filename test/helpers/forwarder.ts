/**
 * A fault-injecting HTTP forwarder for regression tests: a real loopback server in front of one simulated
 * account. `decide` sees each request (method, decoded URL, Destination) and says what to do with it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { BLOCKED_TEMPORARILY_BODY, XML_CONTENT_TYPE } from '../../src/sim/jianguoyun-xml.js';

/** A request the forwarder received (URL and Destination percent-decoded). */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly destination: string | undefined;
}

/**
 * What to do with one request: pass it on (optionally delayed before or after the account answers), answer
 * `503 BlockedTemporarily` as a throttled 坚果云 account does (jianguoyun.md §1), or answer a bare status.
 */
export type Action =
  | { kind: 'pass'; delayBeforeMs?: number; delayAfterMs?: number }
  | { kind: 'blocked' }
  | { kind: 'status'; status: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the forwarder on 127.0.0.1 (port 0) in front of `target` (an origin). Returns its `origin`, the
 * requests it has `seen` so far, and `close()`, which the test must call in teardown.
 */
export async function forwarder(target: string, decide: (r: SeenRequest) => Action) {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const s: SeenRequest = {
          method: req.method ?? '',
          url: decodeURIComponent(req.url ?? ''),
          destination: req.headers['destination'] ? decodeURIComponent(req.headers['destination'] as string) : undefined,
        };
        seen.push(s);
        const a = decide(s);
        if (a.kind === 'blocked') {
          const body = Buffer.from(BLOCKED_TEMPORARILY_BODY);
          res.writeHead(503, { 'content-type': XML_CONTENT_TYPE, 'content-length': body.length }).end(body);
          return;
        }
        if (a.kind === 'status') {
          res.writeHead(a.status, { 'content-length': '0' }).end();
          return;
        }
        if (a.delayBeforeMs) await sleep(a.delayBeforeMs);
        const headers = { ...req.headers };
        delete headers.host;
        try {
          const r = await request(new URL(req.url ?? '/', target), {
            method: req.method as 'GET',
            headers,
            body: chunks.length ? Buffer.concat(chunks) : null,
          });
          const buf = Buffer.from(await r.body.arrayBuffer());
          if (a.delayAfterMs) await sleep(a.delayAfterMs);
          if (res.destroyed) return;
          res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders);
          res.end(buf);
        } catch {
          if (!res.destroyed) res.writeHead(502).end();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Like {@link forwarder}, but `auth()` may replace the Authorization header (e.g. a revoked app password). */
export async function authRewriter(target: string, auth: () => string | undefined) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = { ...req.headers };
      delete headers.host;
      const a = auth();
      if (a !== undefined) headers.authorization = a;
      void request(new URL(req.url ?? '/', target), { method: req.method as 'GET', headers, body: chunks.length ? Buffer.concat(chunks) : null })
        .then(async (r) => {
          const buf = Buffer.from(await r.body.arrayBuffer());
          res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders).end(buf);
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
