/**
 * Pins the behaviour of the in-process upstreams (webdav-server 2.6.3) that the gateway core relies on or
 * works around; see the header of `src/demo/upstreams.ts`. If webdav-server is upgraded and one of these
 * changes, the gateway's workaround may be wrong: fix both together.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startDavUpstreams, type DavUpstreams, type DavUpstream } from '../../src/demo/upstreams.js';
import { davRequest, whereIs, whereIsDir, type DavResponse } from '../helpers/harness.js';

let group: DavUpstreams;
let dataDir: string;
let u: DavUpstream;

t.before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'davgate-upstreams-'));
  group = await startDavUpstreams({ count: 2, dataDir });
  u = group.upstreams[0]!;
});
t.teardown(async () => {
  await group?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function req(p: string, method: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<DavResponse> {
  return davRequest(u.url + p, method, { ...opts, auth: { username: u.username, password: u.password } });
}

function hrefs(body: string): string[] {
  return [...body.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

t.test('ids, URLs and data folders', async (t) => {
  t.same(group.upstreams.map((x) => x.id), ['a', 'b']);
  for (const x of group.upstreams) {
    t.match(x.url, /^http:\/\/127\.0\.0\.1:\d+\/dav\/$/);
    t.equal(x.dataDir, path.join(dataDir, x.id));
    t.ok(existsSync(x.dataDir));
  }
  t.not(group.upstreams[0]!.password, group.upstreams[1]!.password);
});

t.test('Basic auth is required', async (t) => {
  t.equal((await davRequest(u.url, 'PROPFIND', { auth: null, headers: { depth: '0' } })).status, 401);
  t.equal((await davRequest(u.url, 'PROPFIND', { auth: { username: u.username, password: 'wrong' }, headers: { depth: '0' } })).status, 401);
  const ok = await req('', 'PROPFIND', { headers: { depth: '0' } });
  t.equal(ok.status, 207);
  t.match(String(ok.headers['www-authenticate']), /^Basic /, 'WWW-Authenticate even on success');
});

t.test('MKCOL and PUT status codes', async (t) => {
  t.equal((await req('x/y/', 'MKCOL')).status, 409, 'MKCOL with a missing parent');
  t.equal((await req('x/', 'MKCOL')).status, 201);
  t.equal((await req('x/', 'MKCOL')).status, 405, 'MKCOL on an existing collection');
  t.equal((await req('nope/f.txt', 'PUT', { body: 'x' })).status, 409, 'PUT with a missing parent');
  t.equal((await req('x/f.txt', 'PUT', { body: '0123456789' })).status, 201);
  t.equal((await req('x/f.txt', 'PUT', { body: '0123456789' })).status, 200, 'PUT over a file: 200');
  t.equal((await req('x', 'PUT', { body: 'x' })).status, 405, 'PUT onto a collection');
  t.same(whereIs(group, '/x/f.txt'), ['a']);
  t.same(whereIsDir(group, '/x'), ['a']);
  t.equal(await readFile(path.join(u.dataDir, 'x', 'f.txt'), 'utf8'), '0123456789');
});

t.test('GET: no ETag/Last-Modified; collections 405; Range 206 with total *', async (t) => {
  const g = await req('x/f.txt', 'GET');
  t.equal(g.status, 200);
  t.equal(g.headers['etag'], undefined);
  t.equal(g.headers['last-modified'], undefined);
  t.equal((await req('x/', 'GET')).status, 405);
  const r = await req('x/f.txt', 'GET', { headers: { range: 'bytes=2-4' } });
  t.equal(r.status, 206);
  t.equal(r.headers['content-range'], 'bytes 2-4/*');
  t.equal(r.body, '234');
  const bad = await req('x/f.txt', 'GET', { headers: { range: 'bytes=100-' } });
  t.equal(bad.status, 206, 'an unsatisfiable range is 206, not 416');
  t.equal(bad.body, '');
});

t.test('PROPFIND: absolute hrefs from Host, encodeURI encoding, Depth handling', async (t) => {
  for (const name of ['h#ash.txt', 'q?m.txt', 'p%ct.txt', 'a b&c.txt', '中文.txt']) {
    t.equal((await req('x/' + encodeURIComponent(name), 'PUT', { body: name })).status, 201, name);
  }
  const res = await req('x/', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(res.status, 207);
  const hs = hrefs(res.body);
  const origin = new URL(u.url).origin;
  t.ok(hs.includes(`${origin}/dav/x/`), 'the collection itself, absolute, trailing slash');
  t.ok(hs.includes(`${origin}/dav/x/h#ash.txt`), '# left raw');
  t.ok(hs.includes(`${origin}/dav/x/q?m.txt`), '? left raw');
  t.ok(hs.includes(`${origin}/dav/x/p%25ct.txt`), '% encoded');
  t.ok(hs.includes(`${origin}/dav/x/a%20b&c.txt`), 'space encoded, & raw');
  t.ok(hs.includes(`${origin}/dav/x/%E4%B8%AD%E6%96%87.txt`), 'UTF-8 percent-encoded');

  const other = await req('x/', 'PROPFIND', { headers: { depth: '0', host: 'example.com:99' } });
  t.same(hrefs(other.body), ['http://example.com:99/dav/x/'], 'hrefs follow the Host header');

  t.equal((await req('', 'PROPFIND', { headers: { depth: 'infinity' } })).status, 403);
  const noDepth = await req('', 'PROPFIND');
  t.equal(noDepth.status, 207);
  t.ok(hrefs(noDepth.body).includes(`${origin}/dav/x/f.txt`), 'no Depth header lists the whole subtree');
  t.equal((await req('x/missing', 'PROPFIND', { headers: { depth: '0' } })).status, 404);
});

t.test('COPY ignores Overwrite: F; MOVE defaults to Overwrite: F', async (t) => {
  const dest = (p: string) => ({ destination: u.url + p });
  await req('x/src.txt', 'PUT', { body: 'src' });
  await req('x/dst.txt', 'PUT', { body: 'dst' });
  t.equal((await req('x/src.txt', 'COPY', { headers: { ...dest('x/dst.txt'), overwrite: 'F' } })).status, 201);
  t.equal((await req('x/dst.txt', 'GET')).body, 'src', 'the target was replaced despite Overwrite: F');
  t.equal((await req('x/src.txt', 'COPY', { headers: { destination: '/dav/x/abs-path.txt' } })).status, 201, 'absolute-path Destination');
  t.equal((await req('x/src.txt', 'COPY', { headers: dest('nope/z.txt') })).status, 409);
  t.equal((await req('x/src.txt', 'COPY')).status, 400, 'no Destination');
  t.equal((await req('x/src.txt', 'MOVE', { headers: dest('x/dst.txt') })).status, 412, 'MOVE onto a file without Overwrite');
  t.equal((await req('x/src.txt', 'MOVE', { headers: { ...dest('x/dst.txt'), overwrite: 'T' } })).status, 204);
  t.equal((await req('x/dst.txt', 'MOVE', { headers: dest('x/new.txt') })).status, 201);
  t.equal((await req('x/new.txt', 'DELETE')).status, 200, 'DELETE answers 200');
  t.equal((await req('x/new.txt', 'DELETE')).status, 404);
});

t.test('a stopped upstream refuses connections', async (t) => {
  const b = group.upstreams[1]!;
  await b.stop();
  t.equal(b.stopped, true);
  await t.rejects(davRequest(b.url, 'PROPFIND', { auth: { username: b.username, password: b.password } }), {
    code: 'ECONNREFUSED',
  } as unknown as Error);
  await b.stop(); // idempotent
});
