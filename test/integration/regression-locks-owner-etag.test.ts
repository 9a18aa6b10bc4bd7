/**
 * Regressions from a break-test of davgate's locks:
 * - the lock creator was never checked (RFC 4918 §6.4): another user could write with, refresh or UNLOCK a
 *   lock whose token it read from lockdiscovery;
 * - ETag conditions in If were checked against HEAD, which webdav-server answers without an ETag, so a
 *   correct `If: (["etag"])` always failed with 412;
 * - a network-path Resource-Tag (`<//evil.example/x>`) was applied to the local resource;
 * - a lock owner of any size was stored verbatim (memory exhaustion).
 */
import bcrypt from 'bcryptjs';
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startDavUpstreams, type DavUpstreams } from '../../src/demo/upstreams.js';
import { startServer, type RunningServer } from '../../src/server.js';

let ups: DavUpstreams;
let server: RunningServer;
t.before(async () => {
  ups = await startDavUpstreams({ count: 2 });
  const hash = (p: string) => bcrypt.hashSync(p, 4);
  server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: ups.upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username, password: u.password })),
        auth: { mode: 'basic', users: [{ username: 'alice', passwordHash: hash('a') }, { username: 'bob', passwordHash: hash('b') }] },
        log: { level: 'silent' },
      },
    }),
  );
});
t.teardown(async () => {
  await server?.close();
  await ups?.stop();
});

const as = (user: 'alice' | 'bob') => 'Basic ' + Buffer.from(`${user}:${user[0]}`).toString('base64');
async function call(user: 'alice' | 'bob', method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const r = await request(new URL(path.slice(1), server.url), { method: method as 'GET', headers: { authorization: as(user), ...headers }, body });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
}
const LOCKINFO = (owner: string) =>
  `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;

t.test('only the lock creator may use its token (RFC 4918 §6.4)', async (t) => {
  t.equal((await call('alice', 'PUT', '/doc.txt', {}, 'alice')).status, 201);
  const lock = await call('alice', 'LOCK', '/doc.txt', { 'content-type': 'application/xml' }, LOCKINFO('alice'));
  t.equal(lock.status, 200);
  const token = String(lock.headers['lock-token']).replace(/[<>]/g, '');
  t.equal((await call('bob', 'PUT', '/doc.txt', { if: `(<${token}>)` }, 'bob')).status, 423, 'bob cannot write with alice\'s token');
  t.equal((await call('bob', 'LOCK', '/doc.txt', { if: `(<${token}>)` })).status, 412, 'nor refresh it');
  t.equal((await call('bob', 'UNLOCK', '/doc.txt', { 'lock-token': `<${token}>` })).status, 403, 'nor unlock it');
  t.equal((await call('alice', 'PUT', '/doc.txt', { if: `(<${token}>)` }, 'alice 2')).status < 300, true, 'alice can');
  t.equal((await call('alice', 'UNLOCK', '/doc.txt', { 'lock-token': `<${token}>` })).status, 204);
});

t.test('ETag conditions use DAV:getetag', async (t) => {
  t.equal((await call('alice', 'PUT', '/e.txt', {}, 'x')).status, 201);
  const pf = await call('alice', 'PROPFIND', '/e.txt', { depth: '0' });
  const etag = /<D:getetag>([^<]+)<\/D:getetag>/.exec(pf.text)?.[1];
  t.ok(etag, `getetag ${etag}`);
  t.ok((await call('alice', 'PUT', '/e.txt', { if: `([${etag}])` }, 'y')).status < 300, 'matching ETag: written');
  t.equal((await call('alice', 'PUT', '/e.txt', { if: '(["wrong"])' }, 'z')).status, 412, 'wrong ETag: 412');
});

t.test('a network-path Resource-Tag names another server', async (t) => {
  t.equal((await call('alice', 'PUT', '/np.txt', {}, 'x')).status, 201);
  t.equal((await call('alice', 'PUT', '/np.txt', { if: '<//evil.example/np.txt> (Not <DAV:no-lock>)' }, 'y')).status, 412);
});

t.test('lock owners are bounded', async (t) => {
  t.equal((await call('alice', 'PUT', '/o.txt', {}, 'x')).status, 201);
  const big = await call('alice', 'LOCK', '/o.txt', { 'content-type': 'application/xml' }, LOCKINFO('x'.repeat(20_000)));
  t.equal(big.status, 413);
});
