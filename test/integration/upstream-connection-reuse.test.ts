/**
 * The upstream pool tells a reused connection from a fresh one (src/upstream/connection.ts), with real sockets:
 * a connection a relay forgot while idle fails as reused with no answer byte (a stale connection, resent by
 * `Upstream.request`); a fresh connection the server breaks fails as not reused (the upstream's fault).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { errorCode } from '../../src/errors.js';
import { isStaleConnection } from '../../src/proxy/retry.js';
import { connectionFactsOf, createUpstreamPool } from '../../src/upstream/connection.js';
import { startRelay } from '../../src/sim/relay.js';

const OPTS = { connections: 1, connectTimeoutMs: 5_000, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 };

async function listen(handler: http.RequestListener): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

t.test('a connection forgotten while idle fails as reused, before any answer byte', async (t) => {
  const server = await listen((_req, res) => res.end('ok'));
  const relay = await startRelay({ targetHost: '127.0.0.1', targetPort: server.port, idleDropMs: 100 });
  const pool = createUpstreamPool(`http://127.0.0.1:${relay.port}`, OPTS);
  t.teardown(async () => {
    await pool.destroy();
    await relay.close();
    await server.close();
  });
  const first = await pool.request({ path: '/', method: 'GET' });
  t.equal(await first.body.text(), 'ok', 'first request on a fresh connection');
  await sleep(300);
  const err = await pool.request({ path: '/', method: 'GET' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'the request on the forgotten connection fails');
  t.same(connectionFactsOf(err), { reused: true, responseStarted: false });
  t.ok(isStaleConnection({ code: errorCode(err), ...connectionFactsOf(err)! }), `a stale connection (${errorCode(err)})`);
  t.equal(relay.stats.resets, 1);
  const again = await pool.request({ path: '/', method: 'GET' });
  t.equal(await again.body.text(), 'ok', 'the next request gets a new connection');
});

t.test('a fresh connection the server breaks fails as not reused', async (t) => {
  const server = await listen((req) => req.socket.destroy());
  const pool = createUpstreamPool(`http://127.0.0.1:${server.port}`, OPTS);
  t.teardown(async () => {
    await pool.destroy();
    await server.close();
  });
  const err = await pool.request({ path: '/', method: 'GET' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err);
  t.same(connectionFactsOf(err), { reused: false, responseStarted: false });
  t.notOk(isStaleConnection({ code: errorCode(err), ...connectionFactsOf(err)! }), 'the upstream broke it: not stale');
});

t.test('a refused connection carries no connection facts', async (t) => {
  const server = await listen(() => undefined);
  const port = server.port;
  await server.close();
  const pool = createUpstreamPool(`http://127.0.0.1:${port}`, OPTS);
  t.teardown(() => pool.destroy());
  const err = await pool.request({ path: '/', method: 'GET' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(errorCode(err), 'ECONNREFUSED');
  t.equal(connectionFactsOf(err), undefined);
});
