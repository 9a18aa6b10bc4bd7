/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9) through davgate: files whose source and destination share an upstream
 * (native COPY/MOVE there) and files that cross upstreams (GET streamed into PUT, dead properties carried
 * over, source deleted after a MOVE); Overwrite semantics; Destination forms; collections spread over every
 * upstream. Pairs of names are chosen with the same HRW function the gateway uses.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { rank } from '../../src/placement/hrw.js';
import { gatewayRequest, startHarness, whereIs, whereIsDir, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
});

const ALL = () => h.upstreams.map((u) => u.id);
/** The HRW owner of a key, from the harness's upstream ids and weights. */
const owner = (key: string) => rank(key, h.config.upstreams.filter((u) => u.enabled))[0]!.id;
const abs = (p: string) => new URL(p.replace(/^\//, ''), h.url).toString();

let counter = 0;
/** A fresh source key in `/cm` and destination key in `/cm/dst` whose owners are the same or differ. */
function pair(same: boolean): { src: string; dst: string } {
  const n = counter++;
  for (let i = 0; i < 1000; i++) {
    for (let j = 0; j < 50; j++) {
      const src = `/cm/s${n}-${i}.bin`;
      const dst = `/cm/dst/d${n}-${j}.bin`;
      if ((owner(src) === owner(dst)) === same) return { src, dst };
    }
  }
  throw new Error('no pair found');
}

async function put(key: string, data: Buffer | string): Promise<void> {
  const res = await gatewayRequest(h, key, 'PUT', { body: data });
  if (res.status !== 201 && res.status !== 200) throw new Error(`PUT ${key}: ${res.status}`);
}

async function read(key: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await gatewayRequest(h, key, 'GET');
  return { status: res.status, bytes: res.bytes };
}

t.test('setup', async (t) => {
  t.equal((await gatewayRequest(h, '/cm/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/cm/dst/', 'MKCOL')).status, 201);
});

for (const method of ['COPY', 'MOVE'] as const) {
  for (const same of [true, false]) {
    const where = same ? 'same upstream' : 'across upstreams';
    t.test(`${method} a file, ${where}: 201, bytes identical, ${method === 'MOVE' ? 'source gone' : 'source kept'}`, async (t) => {
      const { src, dst } = pair(same);
      t.equal(owner(src) === owner(dst), same, 'pair chosen as intended');
      const data = randomBytes(50_000);
      await put(src, data);
      t.same(whereIs(h, src), [owner(src)]);
      const res = await gatewayRequest(h, src, method, { headers: { destination: abs(dst) } });
      t.equal(res.status, 201);
      const got = await read(dst);
      t.equal(got.status, 200);
      t.equal(Buffer.compare(got.bytes, data), 0, 'bytes identical');
      t.same(whereIs(h, dst), [owner(dst)], 'destination stored on its HRW owner only');
      if (method === 'MOVE') {
        t.equal((await read(src)).status, 404, 'source answers 404');
        t.same(whereIs(h, src), [], 'source gone from disk');
      } else {
        const again = await read(src);
        t.equal(again.status, 200);
        t.equal(Buffer.compare(again.bytes, data), 0, 'source unchanged');
        t.same(whereIs(h, src), [owner(src)]);
      }
    });

    t.test(`${method} onto an existing file without Overwrite, ${where}: 204, replaced`, async (t) => {
      const { src, dst } = pair(same);
      await put(src, 'new content');
      await put(dst, 'old content, longer than the new one');
      const res = await gatewayRequest(h, src, method, { headers: { destination: abs(dst) } });
      t.equal(res.status, 204);
      const got = await read(dst);
      t.equal(got.status, 200);
      t.equal(got.bytes.toString(), 'new content');
      t.same(whereIs(h, dst), [owner(dst)], 'exactly one copy of the destination');
      t.equal((await read(src)).status, method === 'MOVE' ? 404 : 200);
    });

    t.test(`${method} onto an existing file with Overwrite: F, ${where}: 412, nothing changed`, async (t) => {
      const { src, dst } = pair(same);
      await put(src, 'source');
      await put(dst, 'destination');
      const res = await gatewayRequest(h, src, method, { headers: { destination: abs(dst), overwrite: 'F' } });
      t.equal(res.status, 412);
      t.equal((await read(dst)).bytes.toString(), 'destination', 'destination unchanged');
      t.equal((await read(src)).bytes.toString(), 'source', 'source unchanged');
      t.same(whereIs(h, src), [owner(src)]);
      t.same(whereIs(h, dst), [owner(dst)]);
    });
  }
}

t.test('Overwrite: T explicitly on an existing destination: 204', async (t) => {
  const { src, dst } = pair(false);
  await put(src, 'T source');
  await put(dst, 'T dest');
  const res = await gatewayRequest(h, src, 'MOVE', { headers: { destination: abs(dst), overwrite: 'T' } });
  t.equal(res.status, 204);
  t.equal((await read(dst)).bytes.toString(), 'T source');
});

t.test('Destination as an absolute path', async (t) => {
  for (const same of [true, false]) {
    const { src, dst } = pair(same);
    await put(src, 'by path');
    const res = await gatewayRequest(h, src, 'COPY', { headers: { destination: dst } });
    t.equal(res.status, 201, same ? 'same upstream' : 'across upstreams');
    t.equal((await read(dst)).bytes.toString(), 'by path');
  }
});

t.test('Destination with percent-encoded names', async (t) => {
  await put('/cm/with%20space.txt', 'spaced');
  const res = await gatewayRequest(h, '/cm/with%20space.txt', 'COPY', { headers: { destination: abs('/cm/dst/caf%C3%A9%20%26%20co.txt') } });
  t.equal(res.status, 201);
  t.same(whereIs(h, '/cm/dst/café & co.txt'), [owner('/cm/dst/café & co.txt')]);
  t.equal((await read('/cm/dst/caf%C3%A9%20%26%20co.txt')).bytes.toString(), 'spaced');
});

t.test('Destination on another host: 502, nothing created', async (t) => {
  const { src, dst } = pair(false);
  await put(src, 'stay');
  for (const method of ['COPY', 'MOVE']) {
    const res = await gatewayRequest(h, src, method, { headers: { destination: `http://example.com${dst}` } });
    t.equal(res.status, 502, `${method} to example.com`);
    const port = await gatewayRequest(h, src, method, { headers: { destination: `http://127.0.0.1:1${dst}` } });
    t.equal(port.status, 502, `${method} to another port`);
  }
  t.same(whereIs(h, dst), [], 'nothing at the destination');
  t.equal((await read(src)).bytes.toString(), 'stay', 'source untouched');
});

t.test('destination parent missing: 409', async (t) => {
  const { src } = pair(false);
  await put(src, 'orphan');
  for (const method of ['COPY', 'MOVE']) {
    const res = await gatewayRequest(h, src, method, { headers: { destination: abs('/cm/no-such-dir/x.bin') } });
    t.equal(res.status, 409, method);
  }
  t.same(whereIsDir(h, '/cm/no-such-dir'), [], 'no parent created');
  t.equal((await read(src)).status, 200, 'source still there');
});

t.test('missing source: 404', async (t) => {
  const res = await gatewayRequest(h, '/cm/nothing-here.bin', 'COPY', { headers: { destination: abs('/cm/dst/x.bin') } });
  t.equal(res.status, 404);
});

const MEMBERS = Array.from({ length: 9 }, (_, i) => `m${i}.txt`);

t.test('COPY a collection with members spread over upstreams', async (t) => {
  t.equal((await gatewayRequest(h, '/cm/col/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/cm/col/inner/', 'MKCOL')).status, 201);
  for (const m of MEMBERS) await put(`/cm/col/${m}`, `member ${m}`);
  await put('/cm/col/inner/deep.txt', 'deep');
  t.ok(new Set(MEMBERS.map((m) => whereIs(h, `/cm/col/${m}`)[0])).size >= 2, 'members on several upstreams');

  const res = await gatewayRequest(h, '/cm/col/', 'COPY', { headers: { destination: abs('/cm/col-copy/') } });
  t.equal(res.status, 201);
  t.same(whereIsDir(h, '/cm/col-copy'), ALL(), 'collection everywhere');
  for (const m of MEMBERS) {
    const got = await read(`/cm/col-copy/${m}`);
    t.equal(got.status, 200, `${m} readable at the copy`);
    t.equal(got.bytes.toString(), `member ${m}`);
    t.equal((await read(`/cm/col/${m}`)).status, 200, `${m} still at the source`);
  }
  t.equal((await read('/cm/col-copy/inner/deep.txt')).bytes.toString(), 'deep');
  const list = await gatewayRequest(h, '/cm/col-copy/', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(list.status, 207);
  for (const m of MEMBERS) t.equal(list.body.split(`/cm/col-copy/${m}<`).length - 1, 1, `${m} listed once`);
});

t.test('MOVE a collection: every member at the new place, gone from the old', async (t) => {
  const res = await gatewayRequest(h, '/cm/col-copy/', 'MOVE', { headers: { destination: abs('/cm/col-moved/') } });
  t.equal(res.status, 201);
  t.same(whereIsDir(h, '/cm/col-moved'), ALL());
  t.same(whereIsDir(h, '/cm/col-copy'), [], 'old folder gone everywhere');
  for (const m of MEMBERS) {
    const got = await read(`/cm/col-moved/${m}`);
    t.equal(got.status, 200, `${m} readable`);
    t.equal(got.bytes.toString(), `member ${m}`);
    t.equal((await read(`/cm/col-copy/${m}`)).status, 404, `${m} gone from the old place`);
    t.same(whereIs(h, `/cm/col-copy/${m}`), []);
  }
  t.equal((await read('/cm/col-moved/inner/deep.txt')).bytes.toString(), 'deep');
  t.equal((await gatewayRequest(h, '/cm/col-copy/', 'PROPFIND', { headers: { depth: '0' } })).status, 404);
});

t.test('COPY a collection onto an existing one without Overwrite: 204; with Overwrite F: 412', async (t) => {
  const f = await gatewayRequest(h, '/cm/col/', 'COPY', { headers: { destination: abs('/cm/col-moved/'), overwrite: 'F' } });
  t.equal(f.status, 412);
  const res = await gatewayRequest(h, '/cm/col/', 'COPY', { headers: { destination: abs('/cm/col-moved/') } });
  t.equal(res.status, 204);
  for (const m of MEMBERS) t.equal((await read(`/cm/col-moved/${m}`)).status, 200, m);
});

// The namespace ends in ':' on purpose: webdav-server 2.6.3 joins namespace and name and re-splits them at the
// last ':' or '/' when it writes allprop, so `http://x/ns/` comes back as `http://x/ns:` (an upstream quirk
// that no gateway can undo). A namespace ending in ':' round-trips.
t.test('regression (displayname made PROPPATCH fail atomically): a dead property set with PROPPATCH survives a cross-upstream COPY', async (t) => {
  const { src, dst } = pair(false);
  await put(src, 'with props');
  const patch = await gatewayRequest(h, src, 'PROPPATCH', {
    headers: { 'content-type': 'application/xml; charset=utf-8' },
    body:
      '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:davgate-test:">' +
      '<D:set><D:prop><Z:colour>ultramarine</Z:colour></D:prop></D:set></D:propertyupdate>',
  });
  t.equal(patch.status, 207);
  const ask =
    '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:davgate-test:"><D:prop><Z:colour/></D:prop></D:propfind>';
  const before = await gatewayRequest(h, src, 'PROPFIND', { headers: { depth: '0' }, body: ask });
  t.equal(before.status, 207);
  t.match(before.body, /ultramarine/, 'set on the source');

  const res = await gatewayRequest(h, src, 'COPY', { headers: { destination: abs(dst) } });
  t.equal(res.status, 201);
  t.not(whereIs(h, dst)[0], whereIs(h, src)[0], 'really crossed upstreams');
  const after = await gatewayRequest(h, dst, 'PROPFIND', { headers: { depth: '0' }, body: ask });
  t.equal(after.status, 207);
  t.match(after.body, /ultramarine/, 'dead property at the destination');
  t.match(after.body, /HTTP\/1\.1 200/, 'in a 200 propstat');
});
