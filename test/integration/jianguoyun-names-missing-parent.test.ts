/**
 * jianguoyun profile quirks clients must not see (jianguoyun.md §4, §5), against simulated accounts:
 * - a GET of a file under a missing folder answers 409 AncestorsNotFound there; clients get 404;
 * - names with `: * ? " < > |` are refused with 400 before any upstream call (the account would refuse them).
 */
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const sims: JianguoyunSim[] = [];
let server: RunningServer;
t.before(async () => {
  for (let i = 0; i < 3; i++) sims.push(await startJianguoyunSim({ budget: 100_000 }));
  server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: sims.map((s, i) => ({ id: `j${i}`, url: `${s.url}${SANDBOX}/`, username: s.username, password: s.password, profile: 'jianguoyun', budget: { requests: 100_000, windowMs: 1000, minSpacingMs: 0 } })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
      },
    }),
  );
});
t.teardown(async () => {
  await server?.close();
  for (const s of sims) await s.stop();
});
const call = async (method: string, path: string, headers: Record<string, string> = {}) => {
  const r = await request(server.url + path.slice(1), { method: method as 'GET', headers });
  return { status: r.statusCode, text: await r.body.text() };
};

t.test('a file under a missing folder is a 404, not the vendor 409', async (t) => {
  t.equal((await call('GET', '/no-such-folder/file.txt')).status, 404);
  t.equal((await call('HEAD', '/no-such-folder/file.txt')).status, 404);
});

t.test('forbidden characters are refused before any upstream call', async (t) => {
  const before = sims.reduce((n, s) => n + s.counters.requests, 0);
  for (const name of ['a%3Ab.txt', 'a:b.txt', 'a%2Ab', 'a%3Fb', 'a%22b', 'a%3Cb', 'a%3Eb', 'a%7Cb']) {
    const r = await call('PUT', `/${name}`);
    t.equal(r.status, 400, name);
    t.match(r.text, /cannot contain/, `${name}: the reason says why`);
  }
  const moved = await call('MOVE', '/x.txt', { destination: '/bad:name.txt' });
  t.equal(moved.status, 400, 'a Destination with a forbidden character too');
  t.equal(sims.reduce((n, s) => n + s.counters.requests, 0), before, 'no upstream request was made');
});
