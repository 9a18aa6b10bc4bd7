/**
 * MKCOL, PUT, GET/HEAD and DELETE through davgate, checked against the upstreams' data folders on disk:
 * collections exist on every upstream, files on their HRW owner; invalid paths are refused before any
 * upstream call.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import {
  basicAuth,
  davRequest,
  gatewayRequest,
  placementOrder,
  startHarness,
  whereIs,
  whereIsDir,
  type Harness,
} from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
});

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}
async function upstreamRequests(): Promise<number> {
  const res = await davRequest(new URL('metrics', h.url).toString(), 'GET', { auth: null });
  return metricSum(res.body, 'davgate_upstream_requests_total');
}

/**
 * A request whose path is sent byte for byte (undici and `new URL` would resolve `..` and re-encode).
 * @returns status and body
 */
function rawRequest(rawPath: string, method: string): Promise<{ status: number; body: string }> {
  const gw = new URL(h.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: gw.hostname,
        port: Number(gw.port),
        path: rawPath,
        method,
        headers: { authorization: basicAuth(h.auth.username, h.auth.password), ...(method === 'PUT' ? { 'content-length': '1' } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(method === 'PUT' ? 'x' : undefined);
  });
}

const ALL = () => h.upstreams.map((u) => u.id);
const dataDirOf = (id: string) => h.upstreams.find((u) => u.id === id)!.dataDir;

/** A name in `dir` whose HRW owner is `owner`. */
function nameOwnedBy(dir: string, owner: string, prefix = 'f'): string {
  for (let i = 0; i < 1000; i++) {
    const name = `${prefix}${i}.bin`;
    if (placementOrder(h, `${dir}/${name}`)[0] === owner) return name;
  }
  throw new Error(`no name in ${dir} owned by ${owner}`);
}

t.test('MKCOL: 201, the folder exists in every upstream data dir', async (t) => {
  const res = await gatewayRequest(h, '/mk/', 'MKCOL');
  t.equal(res.status, 201);
  t.same(whereIsDir(h, '/mk'), ALL());
  const nested = await gatewayRequest(h, '/mk/inner', 'MKCOL');
  t.equal(nested.status, 201, 'without a trailing slash too');
  t.same(whereIsDir(h, '/mk/inner'), ALL());
});

t.test('MKCOL again: 405', async (t) => {
  t.equal((await gatewayRequest(h, '/mk/', 'MKCOL')).status, 405);
  t.equal((await gatewayRequest(h, '/mk', 'MKCOL')).status, 405, 'same without slash');
  t.equal((await gatewayRequest(h, '/', 'MKCOL')).status, 405, 'the root');
});

t.test('MKCOL on an existing file: 405', async (t) => {
  t.equal((await gatewayRequest(h, '/mk/file.txt', 'PUT', { body: 'x' })).status, 201);
  t.equal((await gatewayRequest(h, '/mk/file.txt', 'MKCOL')).status, 405);
  t.same(whereIsDir(h, '/mk/file.txt'), [], 'no folder made anywhere');
});

t.test('MKCOL with a missing parent: 409, nothing created', async (t) => {
  t.equal((await gatewayRequest(h, '/nope/child/', 'MKCOL')).status, 409);
  t.same(whereIsDir(h, '/nope'), []);
  t.same(whereIsDir(h, '/nope/child'), []);
});

t.test('MKCOL with a body: 415, nothing created', async (t) => {
  const res = await gatewayRequest(h, '/mk/withbody/', 'MKCOL', {
    headers: { 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:"/>',
  });
  t.equal(res.status, 415);
  t.same(whereIsDir(h, '/mk/withbody'), []);
});

t.test('PUT into an existing collection: 201, then overwrite: 200 (webdav-server answers 200)', async (t) => {
  const name = nameOwnedBy('/mk', h.upstreams[1]!.id);
  const first = await gatewayRequest(h, `/mk/${name}`, 'PUT', { body: 'version 1' });
  t.equal(first.status, 201);
  t.same(whereIs(h, `/mk/${name}`), [h.upstreams[1]!.id], 'stored on its HRW owner only');
  const second = await gatewayRequest(h, `/mk/${name}`, 'PUT', { body: 'version two' });
  t.equal(second.status, 200, 'webdav-server answers 200 to a PUT over an existing file; davgate relays it');
  const get = await gatewayRequest(h, `/mk/${name}`, 'GET');
  t.equal(get.status, 200);
  t.equal(get.body, 'version two');
  t.same(whereIs(h, `/mk/${name}`), [h.upstreams[1]!.id]);
});

t.test('PUT with a missing parent: 409, nothing stored', async (t) => {
  const res = await gatewayRequest(h, '/nope/f.txt', 'PUT', { body: 'x' });
  t.equal(res.status, 409);
  t.same(whereIs(h, '/nope/f.txt'), []);
  t.same(whereIsDir(h, '/nope'), []);
});

t.test('PUT to a collection URL: 405', async (t) => {
  t.equal((await gatewayRequest(h, '/mk/inner/', 'PUT', { body: 'x' })).status, 405);
});

t.test('PUT into a folder missing on the owner (cache cold): ancestors recreated, 201', async (t) => {
  t.equal((await gatewayRequest(h, '/lost/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/lost/deeper/', 'MKCOL')).status, 201);
  // A collection DELETE makes davgate forget every collection it knew (gateway.forgetCollections).
  t.equal((await gatewayRequest(h, '/scratch/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/scratch/', 'DELETE')).status, 204);
  const owner = h.upstreams[0]!.id;
  const name = nameOwnedBy('/lost/deeper', owner);
  await rm(path.join(dataDirOf(owner), 'lost'), { recursive: true, force: true });
  t.same(whereIsDir(h, '/lost'), ALL().filter((id) => id !== owner), 'folder gone on the owner only');

  const res = await gatewayRequest(h, `/lost/deeper/${name}`, 'PUT', { body: 'recreated' });
  t.equal(res.status, 201);
  t.same(whereIs(h, `/lost/deeper/${name}`), [owner]);
  t.same(whereIsDir(h, '/lost/deeper'), ALL(), 'the folder exists everywhere again');
  t.equal((await gatewayRequest(h, `/lost/deeper/${name}`, 'GET')).body, 'recreated');
});

t.test('regression (stale collection cache gave 409): PUT into a folder missing on the owner right after MKCOL (cache warm): ancestors recreated, 201', async (t) => {
  t.equal((await gatewayRequest(h, '/warm/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/warm/deeper/', 'MKCOL')).status, 201);
  const owner = h.upstreams[2]!.id;
  const name = nameOwnedBy('/warm/deeper', owner);
  await rm(path.join(dataDirOf(owner), 'warm'), { recursive: true, force: true });

  const res = await gatewayRequest(h, `/warm/deeper/${name}`, 'PUT', { body: 'recreated' });
  t.equal(res.status, 201, 'the first PUT succeeds; a stale collection cache entry must not cost the client a 409');
  t.same(whereIs(h, `/warm/deeper/${name}`), res.status === 201 ? [owner] : []);
  // Whatever the first answer, a second try must work.
  const again = await gatewayRequest(h, `/warm/deeper/${name}`, 'PUT', { body: 'recreated' });
  t.ok(again.status === 201 || again.status === 200, `second PUT answers ${again.status}`);
  t.same(whereIs(h, `/warm/deeper/${name}`), [owner]);
});

const BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

t.test('GET and HEAD on a collection: 200 HTML listing with member names', async (t) => {
  t.equal((await gatewayRequest(h, '/show/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/show/sub/', 'MKCOL')).status, 201);
  const names = ['alpha.txt', 'beta.bin', 'gamma & delta.txt'];
  for (const n of names) t.equal((await gatewayRequest(h, `/show/${encodeURIComponent(n)}`, 'PUT', { body: n })).status, 201, n);
  const owners = new Set(names.map((n) => whereIs(h, `/show/${n}`)[0]));
  t.ok(owners.size >= 2, `members on ${owners.size} upstreams`);

  for (const p of ['/show/', '/']) {
    const get = await gatewayRequest(h, p, 'GET');
    t.equal(get.status, 200, `GET ${p}`);
    t.match(String(get.headers['content-type']), /^text\/html/);
    if (p === '/show/') {
      t.match(get.body, /alpha\.txt/);
      t.match(get.body, /beta\.bin/);
      t.match(get.body, /gamma &#38; delta\.txt/, 'names HTML-escaped');
      t.match(get.body, /sub\//);
    } else {
      t.match(get.body, /show\//);
    }
    t.notMatch(get.body, /\/dav\//, 'no upstream path');
  }
  const head = await gatewayRequest(h, '/show/', 'HEAD');
  t.equal(head.status, 200);
  t.match(String(head.headers['content-type']), /^text\/html/);
  t.equal(head.body, '');
  const noSlash = await gatewayRequest(h, '/show', 'GET');
  t.equal(noSlash.status, 200, 'GET without trailing slash on a collection');
  t.match(noSlash.body, /alpha\.txt/);
});

t.test('GET with Range: 206 and the right bytes', async (t) => {
  t.equal((await gatewayRequest(h, '/show/range.bin', 'PUT', { body: BYTES })).status, 201);
  const full = await gatewayRequest(h, '/show/range.bin', 'GET');
  t.equal(full.status, 200);
  t.equal(Buffer.compare(full.bytes, BYTES), 0);
  const part = await gatewayRequest(h, '/show/range.bin', 'GET', { headers: { range: 'bytes=10-19' } });
  t.equal(part.status, 206);
  t.equal(Buffer.compare(part.bytes, BYTES.subarray(10, 20)), 0, 'bytes 10..19');
  t.match(String(part.headers['content-range']), /^bytes 10-19\//);
  const tail = await gatewayRequest(h, '/show/range.bin', 'GET', { headers: { range: 'bytes=-6' } });
  t.equal(tail.status, 206);
  t.equal(Buffer.compare(tail.bytes, BYTES.subarray(250)), 0, 'last 6 bytes');
});

// webdav-server 2.6.3 sends no ETag on GET and ignores If-None-Match (see src/demo/upstreams.ts); davgate relays
// validators and conditionals unchanged, so against these upstreams this cannot pass yet. Kept as a todo so it
// runs (and is reported) without failing the suite; it passes against an upstream that honours If-None-Match.
t.test('If-None-Match with the ETag: 304', { todo: 'upstream limitation: webdav-server has no ETag on GET and ignores If-None-Match' }, async (t) => {
  const get = await gatewayRequest(h, '/show/range.bin', 'GET');
  t.equal(get.status, 200);
  const fromGet = get.headers['etag'];
  t.type(fromGet, 'string', 'GET carries an ETag');
  // The PROPFIND getetag is the same entity's validator; use it if GET carried none.
  const pf = await gatewayRequest(h, '/show/range.bin', 'PROPFIND', {
    headers: { depth: '0' },
    body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>',
  });
  t.equal(pf.status, 207);
  const m = /getetag>([^<]+)</.exec(pf.body);
  t.ok(m, 'PROPFIND getetag present');
  const etag = typeof fromGet === 'string' ? fromGet : m![1]!.replace(/&quot;/g, '"');
  const cond = await gatewayRequest(h, '/show/range.bin', 'GET', { headers: { 'if-none-match': etag } });
  t.equal(cond.status, 304, `If-None-Match: ${etag}`);
  t.equal(cond.body, '');
});

t.test('DELETE a file: 204, then GET 404', async (t) => {
  const key = '/show/alpha.txt';
  const owner = whereIs(h, key);
  t.equal(owner.length, 1);
  t.equal((await gatewayRequest(h, key, 'DELETE')).status, 204);
  t.same(whereIs(h, key), [], 'gone from disk');
  t.equal((await gatewayRequest(h, key, 'GET')).status, 404);
  t.equal((await gatewayRequest(h, key, 'DELETE')).status, 404, 'DELETE again: 404');
});

t.test('DELETE a collection: gone from every upstream data dir', async (t) => {
  const members = ['/show/beta.bin', '/show/gamma & delta.txt', '/show/range.bin'];
  for (const k of members) t.equal(whereIs(h, k).length, 1, `${k} present before`);
  t.equal((await gatewayRequest(h, '/show/', 'DELETE')).status, 204);
  t.same(whereIsDir(h, '/show'), [], 'folder gone everywhere');
  for (const u of h.upstreams) t.notOk(existsSync(path.join(u.dataDir, 'show')), `${u.id}: nothing left`);
  t.equal((await gatewayRequest(h, '/show/', 'PROPFIND', { headers: { depth: '0' } })).status, 404);
  t.equal((await gatewayRequest(h, '/show/beta.bin', 'GET')).status, 404);
});

t.test('paths with .., %2F or %00: 400, no upstream request', async (t) => {
  t.equal((await gatewayRequest(h, '/mk/victim.txt', 'PUT', { body: 'x' })).status, 201);
  const before = await upstreamRequests();
  const paths = [
    '/mk/../mk/victim.txt',
    '/..',
    '/mk/%2e%2e/mk/victim.txt',
    '/mk/.%2E/x',
    '/mk%2Fvictim.txt',
    '/mk/a%2fb',
    '/mk/victim.txt%00',
    '/mk/%00/x',
    '/mk/./victim.txt',
    '/mk/%C3%28',
  ];
  for (const p of paths) {
    for (const method of ['GET', 'PUT', 'DELETE', 'PROPFIND', 'MKCOL']) {
      const res = await rawRequest(p, method);
      t.equal(res.status, 400, `${method} ${p}`);
    }
  }
  t.equal(await upstreamRequests(), before, 'davgate_upstream_requests_total unchanged');
  t.same(whereIs(h, '/mk/victim.txt').length, 1, 'the file is untouched');
});

t.test('a random binary file round-trips unchanged', async (t) => {
  const data = randomBytes(200_000);
  t.equal((await gatewayRequest(h, '/mk/big.bin', 'PUT', { body: data })).status, 201);
  const get = await gatewayRequest(h, '/mk/big.bin', 'GET');
  t.equal(get.status, 200);
  t.equal(Buffer.compare(get.bytes, data), 0);
  t.equal(get.headers['content-length'], String(data.length));
});
