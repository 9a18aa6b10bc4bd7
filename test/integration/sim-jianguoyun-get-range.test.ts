/**
 * Reads on the simulated 坚果云 account: GET/HEAD errors and headers (jianguoyun.md §4, statement 7), Range
 * (§4, statement 8) and If-None-Match (§4, statement 10).
 */
import t, { type Test } from 'tap';
import { parseVendorRange, startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');
const BODY = '0123456789';

let s: JianguoyunSim;
t.before(async () => {
  s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw', budget: 10_000 });
  await req(`${SB}/dir`, 'MKCOL');
  await req(`${SB}/dir/ten.txt`, 'PUT', { body: BODY });
});
t.teardown(() => s?.stop());

function req(p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

async function status(p: string, method: string, headers: Record<string, string> = {}): Promise<number> {
  return (await req(p, method, { headers })).status;
}

t.test('§4 GET/HEAD errors: 403 on folders, 409 under a missing parent, 404 in an existing folder', async (t: Test) => {
  for (const p of ['', SB, `${SB}/`, `${SB}/dir`, `${SB}/dir/`]) {
    t.equal(await status(p, 'GET'), 403, `GET /dav/${p}`);
    t.equal(await status(p, 'HEAD'), 403, `HEAD /dav/${p}`);
  }
  const r409 = await req(`${SB}/nodir/f.txt`, 'GET');
  t.equal(r409.status, 409);
  t.match(r409.body, /AncestorsNotFound/);
  t.equal(await status(`${SB}/nodir/f.txt`, 'HEAD'), 409);
  const r404 = await req(`${SB}/dir/nofile.txt`, 'GET');
  t.equal(r404.status, 404);
  t.match(r404.body, /<s:exception>ObjectNotFound<\/s:exception>/);
});

t.test('§4 GET headers: Etag, Cache-Control max-age=5, Pragma public, Content-Disposition attachment', async (t) => {
  const r = await req(`${SB}/dir/ten.txt`, 'GET');
  t.equal(r.status, 200);
  t.equal(r.body, BODY);
  t.match(String(r.headers['etag']), /^[A-Za-z0-9+/]{22}$/);
  t.equal(r.headers['cache-control'], 'max-age=5');
  t.equal(r.headers['pragma'], 'public');
  t.equal(r.headers['content-disposition'], 'attachment');
  t.equal(r.headers['content-type'], 'text/plain');
  t.equal(r.headers['content-length'], '10');
  t.ok(r.headers['last-modified']);
  const h = await req(`${SB}/dir/ten.txt`, 'HEAD');
  t.equal(h.status, 200);
  t.equal(h.headers['etag'], r.headers['etag']);
  t.equal(h.headers['last-modified'], r.headers['last-modified']);
  t.equal(h.body, '');
});

t.test('§4 Range: single ranges → 206 + Content-Range; reaching EOF → 416 with an empty body', async (t) => {
  const r = await req(`${SB}/dir/ten.txt`, 'GET', { headers: { range: 'bytes=2-5' } });
  t.equal(r.status, 206);
  t.equal(r.body, '2345');
  t.equal(r.headers['content-range'], 'bytes 2-5/10');
  const open = await req(`${SB}/dir/ten.txt`, 'GET', { headers: { range: 'bytes=7-' } });
  t.equal(open.status, 206);
  t.equal(open.body, '789');
  t.equal(open.headers['content-range'], 'bytes 7-9/10');
  t.equal((await req(`${SB}/dir/ten.txt`, 'GET', { headers: { range: 'bytes=0-9' } })).status, 206, 'last byte is fine');
  for (const range of ['bytes=0-10', 'bytes=5-100', 'bytes=10-', 'bytes=12-20']) {
    const x = await req(`${SB}/dir/ten.txt`, 'GET', { headers: { range } });
    t.equal(x.status, 416, `${range}: no clamping`);
    t.equal(x.bytes.length, 0, `${range}: empty body`);
  }
});

t.test('§4 Range: bytes=-N is misread as from the start [G: bytes=0-N]', async (t) => {
  const r = await req(`${SB}/dir/ten.txt`, 'GET', { headers: { range: 'bytes=-3' } });
  t.equal(r.status, 206);
  t.equal(r.body, '0123', 'not the last 3 bytes');
  t.equal(r.headers['content-range'], 'bytes 0-3/10');
});

t.test('§4 Range: If-Range mismatch → full 200; several ranges → ignored [G]', async (t) => {
  const etag = String((await req(`${SB}/dir/ten.txt`, 'HEAD')).headers['etag']);
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { range: 'bytes=0-1', 'if-range': 'other' }), 200);
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { range: 'bytes=0-1', 'if-range': etag }), 206);
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { range: 'bytes=0-1,3-4' }), 200);
  t.same(parseVendorRange('bytes=5-2', 10), { kind: 'unsatisfiable' });
  t.same(parseVendorRange('items=0-1', 10), { kind: 'full' });
  t.same(parseVendorRange('bytes=0-', 0), { kind: 'unsatisfiable' }, 'any range on an empty file');
});

t.test('§4 If-None-Match: an exact match → 304 on GET and HEAD; anything else → 200', async (t) => {
  const etag = String((await req(`${SB}/dir/ten.txt`, 'HEAD')).headers['etag']);
  const r = await req(`${SB}/dir/ten.txt`, 'GET', { headers: { 'if-none-match': etag } });
  t.equal(r.status, 304);
  t.equal(r.bytes.length, 0);
  t.equal(r.headers['etag'], etag);
  t.equal(await status(`${SB}/dir/ten.txt`, 'HEAD', { 'if-none-match': etag }), 304);
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { 'if-none-match': '*' }), 200, 'no * handling');
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { 'if-none-match': `W/"${etag}"` }), 200, 'no weak handling');
  t.equal(await status(`${SB}/dir/ten.txt`, 'GET', { 'if-none-match': `x, ${etag}` }), 200, 'no list handling');
});
