/**
 * Regression (issue 13 item 7): collection hrefs lost their trailing slash when a PROPFIND did not ask for
 * DAV:resourcetype, because davgate only learnt "collection" from resourcetype. RFC 4918 §8.3 recommends the
 * slash, and clients (rclone, Finder) tell folders from files by it. Now an upstream href with a slash says
 * collection too, and a listed key with members is a collection whatever its href looked like (坚果云 writes
 * folders without the slash, jianguoyun.md §5).
 */
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { parseMultistatus } from '../../src/dav/multistatus.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { gatewayRequest, startHarness, type Harness } from '../helpers/harness.js';

const NO_RESOURCETYPE =
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getlastmodified/></D:prop></D:propfind>';

const hrefsOf = (body: string): string[] => parseMultistatus(body).map((r) => r.href);

t.test('regression: collection hrefs keep their slash without DAV:resourcetype (generic upstreams)', async (t) => {
  const h: Harness = await startHarness();
  t.teardown(() => h.stop());
  t.equal((await gatewayRequest(h, '/c/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/c/sub/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/c/f.txt', 'PUT', { body: 'x' })).status, 201);

  const list = await gatewayRequest(h, '/c/', 'PROPFIND', { headers: { depth: '1' }, body: NO_RESOURCETYPE });
  t.equal(list.status, 207);
  t.strictSame(hrefsOf(list.body), ['/c/', '/c/f.txt', '/c/sub/']);

  const one = await gatewayRequest(h, '/c/sub/', 'PROPFIND', { headers: { depth: '0' }, body: NO_RESOURCETYPE });
  t.equal(one.status, 207);
  t.strictSame(hrefsOf(one.body), ['/c/sub/'], 'Depth 0 too');
});

t.test('regression: on 坚果云 the listed folder keeps its slash without DAV:resourcetype', async (t) => {
  const sandbox = encodeURIComponent('我的坚果云');
  const sims: JianguoyunSim[] = [];
  for (let i = 0; i < 2; i++) sims.push(await startJianguoyunSim({ budget: 100_000 }));
  const server: RunningServer = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: sims.map((s, i) => ({ id: `j${i}`, url: `${s.url}${sandbox}/`, username: s.username, password: s.password })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
      },
    }),
  );
  t.teardown(async () => {
    await server.close();
    for (const s of sims) await s.stop();
  });
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const r = await request(new URL(path.slice(1), server.url), { method: method as 'GET', headers, body });
    return { status: r.statusCode, text: await r.body.text() };
  };
  t.equal((await call('MKCOL', '/j/')).status, 201);
  for (const n of ['a.txt', 'b.txt', 'c.txt']) t.equal((await call('PUT', `/j/${n}`, { 'content-length': '1' }, 'x')).status, 201);

  const list = await call('PROPFIND', '/j/', { depth: '1' }, NO_RESOURCETYPE);
  t.equal(list.status, 207);
  t.strictSame(hrefsOf(list.text), ['/j/', '/j/a.txt', '/j/b.txt', '/j/c.txt']);
  const one = await call('PROPFIND', '/j/', { depth: '0' }, NO_RESOURCETYPE);
  t.strictSame(hrefsOf(one.text), ['/j/'], 'Depth 0 of a URL with the slash');
});
