/**
 * Regression (issue 8, front door): on generic upstreams a Range past the end was answered 416 without
 * `Content-Range: bytes *\/LEN` (RFC 9110 §14.4: a server generating a 416 to a byte-range request SHOULD send
 * it; §15.5.17), because neither webdav-server nor Apache sends it and davgate dropped the header anyway. Now
 * every 416 carries it: from the upstream's own `Content-Range` when it sends one, else from the file's size
 * (one PROPFIND Depth 0, only in that rare case). The 坚果云 profile is covered by jianguoyun-range.test.ts.
 */
import t from 'tap';
import { gatewayRequest, interceptUpstream, recordUpstreamRequests, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
/** What the upstreams received, in order. */
let seen: string[] = [];

t.before(async () => {
  h = await startHarness();
  seen = recordUpstreamRequests(h);
});
t.teardown(() => h?.stop());

t.test('regression: 416 carries Content-Range: bytes */LEN on generic upstreams', async (t) => {
  t.equal((await gatewayRequest(h, '/r.txt', 'PUT', { body: '0123456789' })).status, 201);
  for (const range of ['bytes=10-', 'bytes=100-200', 'bytes=-0']) {
    const get = await gatewayRequest(h, '/r.txt', 'GET', { headers: { range } });
    t.equal(get.status, 416, `${range}: 416`);
    t.equal(get.headers['content-range'], 'bytes */10', `${range}: Content-Range: bytes */10`);
    const head = await gatewayRequest(h, '/r.txt', 'HEAD', { headers: { range } });
    t.equal(head.status, 416, `HEAD ${range}: 416`);
    t.equal(head.headers['content-range'], 'bytes */10', `HEAD ${range}: the same Content-Range`);
  }
  const ok = await gatewayRequest(h, '/r.txt', 'GET', { headers: { range: 'bytes=8-20' } });
  t.equal(ok.status, 206, 'a satisfiable range is unchanged');
  t.equal(ok.body, '89');
});

t.test("regression: 416 uses the upstream's own Content-Range when it sends one (no extra request)", async (t) => {
  t.equal((await gatewayRequest(h, '/own.txt', 'PUT', { body: 'abc' })).status, 201);
  // Every upstream answers this file's out-of-range GET itself, as an RFC 9110 server would.
  for (const u of h.upstreams) {
    interceptUpstream(u, (req, res) => {
      if (req.method !== 'GET' || req.url !== '/dav/own.txt' || req.headers.range !== 'bytes=50-') return false;
      seen.push(`${req.method} ${req.url}`); // the recorder is behind the interceptor
      res.writeHead(416, { 'content-range': 'bytes */3', 'content-length': '0' }).end();
      return true;
    });
  }
  const before = seen.length;
  const get = await gatewayRequest(h, '/own.txt', 'GET', { headers: { range: 'bytes=50-' } });
  t.equal(get.status, 416);
  t.equal(get.headers['content-range'], 'bytes */3');
  t.same(seen.slice(before), ['GET /dav/own.txt'], 'one upstream request: no PROPFIND for the size');
});
