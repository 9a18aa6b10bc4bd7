/**
 * Regression (second new-user trial): the repair replay took the list of an upstream's repairs once and ran
 * every entry, even one a client had superseded meanwhile, so a file re-created after the outage was deleted
 * again by a leftover "delete" repair. Repairs now run under the key's write lock and re-check the journal.
 * The upstream is a recording HTTP server, so what the gateway sent is observed directly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/server.js';
import { Writable } from 'node:stream';

t.test('a repair superseded while the replay waits is skipped', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(req.method === 'DELETE' ? 204 : 207, { 'content-type': 'application/xml' });
    res.end(req.method === 'DELETE' ? '' : '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"/>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dav/`;
  const config = loadConfig({ env: {}, object: { upstreams: [{ id: 'x', url }], auth: 'none', log: { level: 'silent' } } });
  const gw = new Gateway(config, createLogger(config, new Writable({ write: (_c, _e, cb) => cb() })));
  t.teardown(() => gw.close());
  const x = gw.upstreams[0]!;

  gw.repairs.set('/a', 'x', { action: 'delete' });
  gw.repairs.set('/b', 'x', { action: 'delete' });
  // Hold /a's write lock, as a client write in progress would, so the replay waits there.
  let releaseA!: () => void;
  const holdingA = gw.withKeyLock(['/a'], () => new Promise<void>((r) => (releaseA = r)));
  await new Promise((r) => setImmediate(r));
  const replay = gw.runRepairs(x);
  // While the replay waits, a client rewrites /b: its repair is superseded.
  gw.afterWrite('/b', x);
  releaseA();
  await holdingA;
  await replay;

  t.same(seen, ['DELETE /dav/a'], '/a repaired; the superseded /b repair sent nothing');
  t.equal(gw.repairs.size, 0, 'journal empty');
});

t.test('withKeyLock runs writers of one key one at a time, in arrival order', async (t) => {
  const config = loadConfig({ env: {}, object: { upstreams: [{ id: 'x', url: 'http://127.0.0.1:9/dav/' }], auth: 'none' } });
  const gw = new Gateway(config, createLogger(config, new Writable({ write: (_c, _e, cb) => cb() })));
  t.teardown(() => gw.close());
  const order: string[] = [];
  let release1!: () => void;
  const w1 = gw.withKeyLock(['/k'], async () => {
    order.push('1 start');
    await new Promise<void>((r) => (release1 = r));
    order.push('1 end');
  });
  const w2 = gw.withKeyLock(['/k', '/other'], async () => {
    order.push('2');
  });
  const w3 = gw.withKeyLock(['/unrelated'], async () => {
    order.push('3');
  });
  await w3;
  await new Promise((r) => setImmediate(r));
  release1();
  await Promise.all([w1, w2]);
  t.same(order, ['1 start', '3', '1 end', '2']);
});
