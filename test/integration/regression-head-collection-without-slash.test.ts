/**
 * Regression (issue 8, front door): `HEAD /folder` without the trailing slash answered 404 while `GET /folder`
 * and `PROPFIND /folder` found the collection. HEAD must answer what GET answers (RFC 9110 §9.3.2), on every
 * kind of upstream: Apache's 301 to the slashed URL is covered by the e2e suite; here webdav-server (405 on a
 * collection), simulated 坚果云 accounts (403, jianguoyun.md statement 7), and an upstream that answers 404 to
 * GET/HEAD of a collection URL without its slash (while its PROPFIND finds the collection) — a 404 that davgate
 * passed on as "not found".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { startDavUpstreams } from '../../src/demo/upstreams.js';
import { startServer } from '../../src/server.js';
import { davRequest, gatewayRequest, interceptUpstream, startHarness, TEST_PASSWORD, TEST_USER } from '../helpers/harness.js';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

/** HEAD and GET of `/folder` and `/folder/`, and of a missing name, through `call`. */
async function checkHeadMatchesGet(t: Test, call: (method: string, p: string) => Promise<{ status: number; headers: Record<string, unknown> }>) {
  for (const p of ['/folder', '/folder/']) {
    const get = await call('GET', p);
    const head = await call('HEAD', p);
    t.equal(get.status, 200, `GET ${p}: 200`);
    t.equal(head.status, 200, `HEAD ${p}: 200, as GET`);
    t.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${p}: GET's Content-Type`);
  }
  t.equal((await call('HEAD', '/folder/missing')).status, 404, 'a missing member is still 404');
  t.equal((await call('GET', '/folder/missing')).status, 404);
}

t.test('regression: HEAD on a collection without the slash — webdav-server upstreams', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  t.equal((await gatewayRequest(h, '/folder/', 'MKCOL')).status, 201);
  await checkHeadMatchesGet(t, (m, p) => gatewayRequest(h, p, m));
});

t.test('regression: HEAD on a collection without the slash — simulated 坚果云 accounts', async (t) => {
  const rig = await jianguoyunRig(t);
  t.equal((await rig.call('MKCOL', '/folder/')).status, 201);
  await checkHeadMatchesGet(t, (m, p) => rig.call(m, p));
});

t.test('regression: HEAD on a collection without the slash — upstreams that answer it 404', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'davgate-head-'));
  const group = await startDavUpstreams({ count: 3, dataDir });
  // GET/HEAD of the collection URL without its slash → 404; everything else (PROPFIND, MKCOL, …) is served.
  for (const u of group.upstreams) {
    interceptUpstream(u, (req, res) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.url !== '/dav/folder') return false;
      res.writeHead(404, { 'content-length': '0' }).end();
      return true;
    });
  }
  const config = loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: group.upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username, password: u.password })),
      auth: { mode: 'basic', users: [{ username: TEST_USER, passwordHash: await bcrypt.hash(TEST_PASSWORD, 4) }] },
      health: { intervalMs: 3_600_000 },
      log: { level: 'silent' },
    },
  });
  const server = await startServer(config);
  t.teardown(async () => {
    await server.close();
    await group.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const call = (m: string, p: string) => davRequest(new URL(p.slice(1), server.url).href, m);
  t.equal((await call('MKCOL', '/folder/')).status, 201);
  t.equal((await davRequest(new URL('folder', server.url).href, 'PROPFIND', { headers: { depth: '0' } })).status, 207, 'PROPFIND finds it');
  await checkHeadMatchesGet(t, call);
  // A fresh gateway knows no collection yet: the answer must not depend on davgate's cache.
  const fresh = await startServer(config);
  t.teardown(() => fresh.close());
  t.equal((await davRequest(new URL('folder', fresh.url).href, 'HEAD')).status, 200, 'HEAD /folder on a cold gateway: 200');
});
