/**
 * Regression (issue 8, front door): a 9,000-character name answered 502, because the upstream refused it (Apache
 * answers 414 for a long request line, 403 for a name past NAME_MAX) and davgate took that for an outage. Now
 * davgate refuses, before any upstream call, a name over `limits.maxNameBytes` (255 bytes, UTF-8) and a path over
 * `limits.maxPathBytes` (4096 bytes, percent-encoded) with 414 and a reason, and a Destination with 400; an
 * upstream's own 414 is passed on as 414.
 */
import t from 'tap';
import { gatewayRequest, interceptUpstream, recordUpstreamRequests, startHarness, whereIs, type Harness } from '../helpers/harness.js';

let h: Harness;
let seen: string[] = [];
t.before(async () => {
  h = await startHarness();
  seen = recordUpstreamRequests(h);
});
t.teardown(() => h?.stop());

const enc = (name: string) => encodeURIComponent(name);

t.test('regression: a 9,000-character name is 414 with a reason, before any upstream call', async (t) => {
  const before = seen.length;
  const name = 'n'.repeat(9000);
  for (const method of ['PUT', 'GET', 'HEAD', 'PROPFIND', 'MKCOL', 'DELETE']) {
    const res = await gatewayRequest(h, `/${name}`, method, { headers: { depth: '0' }, ...(method === 'PUT' ? { body: 'x' } : {}) });
    t.equal(res.status, 414, `${method}: 414 URI Too Long`);
    if (method !== 'HEAD') t.match(res.body, /9000 bytes long.*limits\.maxNameBytes/, `${method}: the reason names the limit`);
  }
  t.same(seen.slice(before), [], 'no upstream saw any of it');
});

t.test('regression: name too long: the limit is 255 bytes of UTF-8 per name', async (t) => {
  t.equal((await gatewayRequest(h, `/${'a'.repeat(255)}`, 'PUT', { body: 'x' })).status, 201, '255 ASCII bytes: stored');
  t.same(whereIs(h, `/${'a'.repeat(255)}`).length, 1);
  t.equal((await gatewayRequest(h, `/${'a'.repeat(256)}`, 'PUT', { body: 'x' })).status, 414, '256 bytes: 414');
  t.equal((await gatewayRequest(h, `/${enc('歌'.repeat(85))}`, 'PUT', { body: 'x' })).status, 201, '85 CJK characters = 255 bytes: stored');
  t.equal((await gatewayRequest(h, `/${enc('歌'.repeat(86))}`, 'PUT', { body: 'x' })).status, 414, '86 CJK characters = 258 bytes: 414');
});

t.test('regression: name too long: a path over limits.maxPathBytes (encoded) is 414', async (t) => {
  const seg = 'd'.repeat(200);
  const deep = '/' + Array.from({ length: 21 }, () => seg).join('/');
  const res = await gatewayRequest(h, deep, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 414);
  t.match(res.body, /limits\.maxPathBytes/);
  // 1,400 decoded bytes, but 4,200 once encoded as davgate sends them (%20 per space).
  const spaced = '/' + Array.from({ length: 7 }, () => ' '.repeat(200)).map(enc).join('/');
  t.equal((await gatewayRequest(h, spaced, 'PROPFIND', { headers: { depth: '0' } })).status, 414, 'measured encoded');
});

t.test('regression: name too long: a Destination gets the same limits (400, nothing moved)', async (t) => {
  t.equal((await gatewayRequest(h, '/src.txt', 'PUT', { body: 'keep me' })).status, 201);
  const res = await gatewayRequest(h, '/src.txt', 'MOVE', { headers: { destination: new URL(`/${'m'.repeat(300)}`, h.url).href } });
  t.equal(res.status, 400);
  t.match(res.body, /Destination.*limits\.maxNameBytes/);
  t.equal((await gatewayRequest(h, '/src.txt', 'GET')).body, 'keep me', 'the source is untouched');
});

t.test("regression: name too long: an upstream's own 414 is passed on as 414, not 502", async (t) => {
  const loose = await startHarness({ upstreams: 2, config: { limits: { maxPathBytes: 100_000 } } });
  t.teardown(() => loose.stop());
  for (const u of loose.upstreams) {
    interceptUpstream(u, (req, res) => {
      if ((req.url ?? '').length <= 2000) return false;
      res.writeHead(414, { 'content-length': '0', connection: 'close' }).end();
      return true;
    });
  }
  const deep = '/' + Array.from({ length: 15 }, () => 'e'.repeat(200)).join('/');
  for (const method of ['GET', 'HEAD', 'PROPFIND', 'PUT', 'DELETE', 'MKCOL']) {
    const res = await gatewayRequest(loose, deep, method, { headers: { depth: '0' }, ...(method === 'PUT' ? { body: 'x' } : {}) });
    t.equal(res.status, 414, `${method}: 414`);
  }
  t.equal((await gatewayRequest(loose, '/', 'PROPFIND', { headers: { depth: '1' } })).status, 207, 'the upstreams are not marked down');
});
