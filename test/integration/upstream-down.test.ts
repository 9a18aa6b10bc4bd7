/**
 * One upstream goes away (its server stops; its port refuses connections). The gateway must never claim
 * that the files it holds do not exist (404), must never serve a partial listing, and must place new files
 * on the next HRW candidate.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { DavUpstream } from '../../src/demo/upstreams.js';
import { gatewayRequest, placementOrder, startHarness, whereIs, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  // Active probes are off in practice (one hour apart, the harness default), so what is tested here is the
  // request path itself, not whether a probe happened to run first.
  h = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
});

const DIR = 'down';
const files = new Map<string, Buffer>();
const key = (name: string) => `/${DIR}/${name}`;
const url = (name: string) => `/${DIR}/${encodeURIComponent(name)}`;
/** The upstream that gets stopped. */
let victim: DavUpstream;

t.test('put 30 files, then stop the upstream holding the most', async (t) => {
  t.equal((await gatewayRequest(h, `/${DIR}/`, 'MKCOL')).status, 201);
  for (let i = 0; i < 30; i++) {
    const name = `f ${String(i).padStart(2, '0')}.bin`;
    const data = randomBytes(1000 + i);
    files.set(name, data);
    t.equal((await gatewayRequest(h, url(name), 'PUT', { body: data })).status, 201, name);
  }
  const counts = new Map<string, number>();
  for (const name of files.keys()) {
    const where = whereIs(h, key(name));
    t.equal(where.length, 1, `${name} on one upstream`);
    counts.set(where[0]!, (counts.get(where[0]!) ?? 0) + 1);
  }
  t.ok(counts.size >= 2, 'files are spread');
  const [victimId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  victim = h.upstreams.find((u) => u.id === victimId)!;
  await victim.stop();
});

t.test('GET: files on the stopped upstream answer 502 or 503, never 404; the others 200', async (t) => {
  let onVictim = 0;
  for (const [name, data] of files) {
    const res = await gatewayRequest(h, url(name), 'GET');
    if (whereIs(h, key(name))[0] === victim.id) {
      onVictim++;
      t.not(res.status, 404, `${name} must not look missing`);
      t.ok(res.status === 502 || res.status === 503, `${name} on the stopped upstream answers ${res.status}`);
    } else {
      t.equal(res.status, 200, `${name} on a live upstream`);
      t.equal(Buffer.compare(res.bytes, data), 0);
    }
  }
  t.ok(onVictim > 0, 'some files were on the stopped upstream');
});

t.test('HEAD of a file on the stopped upstream is not 404 either', async (t) => {
  const name = [...files.keys()].find((n) => whereIs(h, key(n))[0] === victim.id)!;
  const res = await gatewayRequest(h, url(name), 'HEAD');
  t.ok(res.status === 502 || res.status === 503, `HEAD answers ${res.status}`);
});

t.test('PROPFIND Depth 1 answers 503 with Retry-After, never a partial listing', async (t) => {
  for (let i = 0; i < 3; i++) {
    const res = await gatewayRequest(h, `/${DIR}/`, 'PROPFIND', { headers: { depth: '1' } });
    t.equal(res.status, 503, `attempt ${i + 1}`);
    const ra = res.headers['retry-after'];
    t.ok(typeof ra === 'string' && /^\d+$/.test(ra), `Retry-After is a number of seconds (${String(ra)})`);
    t.notMatch(res.body, /multistatus/, 'no multistatus body');
  }
  // The root listing needs every upstream too.
  const root = await gatewayRequest(h, '/', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(root.status, 503);
  t.ok(root.headers['retry-after'], 'Retry-After on the root listing');
});

t.test('a new file owned by the stopped upstream is written to the next candidate', async (t) => {
  let name = '';
  for (let i = 0; i < 1000 && name === ''; i++) {
    const n = `new ${i}.bin`;
    if (placementOrder(h, key(n))[0] === victim.id) name = n;
  }
  t.not(name, '', 'found a name owned by the stopped upstream');
  const order = placementOrder(h, key(name));
  const data = randomBytes(4096);
  const put = await gatewayRequest(h, url(name), 'PUT', { body: data });
  t.equal(put.status, 201, 'PUT succeeds by failing over');
  t.same(whereIs(h, key(name)), [order[1]], `stored on the second HRW candidate ${order[1]}`);
  const get = await gatewayRequest(h, url(name), 'GET');
  t.equal(get.status, 200, 'read back');
  t.equal(Buffer.compare(get.bytes, data), 0);
});

t.test('files on the live upstreams are still listed individually (Depth 0) and readable', async (t) => {
  const name = [...files.keys()].find((n) => whereIs(h, key(n))[0] !== victim.id)!;
  const res = await gatewayRequest(h, url(name), 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 207);
  t.equal((await gatewayRequest(h, url(name), 'GET')).status, 200);
});
