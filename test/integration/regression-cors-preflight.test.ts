/**
 * Regression (issue 8, front door): a browser's CORS preflight — an `OPTIONS` without credentials, as browsers
 * always send it (Fetch standard §4.8) — got 401, so no web app on another origin could use davgate. With
 * `cors.origins` set, a listed origin's preflight is answered 204 before authentication, and its actual requests
 * carry the CORS headers on every answer; an unlisted origin gets none; with no origins configured (the default)
 * davgate sends no CORS header at all.
 */
import t from 'tap';
import { gatewayRequest, startHarness, type Harness } from '../helpers/harness.js';

const APP = 'http://app.example:3000';
const OTHER = 'https://evil.example';

let h: Harness;
let plain: Harness;
t.before(async () => {
  // DAVGATE_CORS_ORIGINS spelling (upper case host, default port) is normalised at load; see test/unit/front-cors.test.ts.
  h = await startHarness({ config: { cors: { origins: [APP] } } });
  plain = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
  await plain?.stop();
});

const preflight = (hh: Harness, origin: string, method = 'PROPFIND') =>
  gatewayRequest(hh, '/web/file.txt', 'OPTIONS', {
    auth: null,
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, depth, content-type' },
  });

t.test('regression: CORS preflight without credentials from a listed origin: 204 with the WebDAV verbs and headers', async (t) => {
  const res = await preflight(h, APP);
  t.equal(res.status, 204);
  t.equal(res.headers['access-control-allow-origin'], APP, 'the origin echoed, never *');
  t.equal(res.headers['access-control-allow-credentials'], 'true');
  const methods = String(res.headers['access-control-allow-methods']).split(/,\s*/);
  for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']) {
    t.ok(methods.includes(m), `Allow-Methods has ${m}`);
  }
  const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
  for (const hd of ['depth', 'destination', 'overwrite', 'if', 'lock-token', 'timeout', 'range', 'authorization', 'content-type']) {
    t.ok(allowed.includes(hd), `Allow-Headers has ${hd}`);
  }
  t.match(res.headers['access-control-max-age'], /^\d+$/);
  t.match(res.headers['vary'], /\bOrigin\b/);
  t.equal(res.body, '', 'no body');
});

t.test('regression: CORS preflight from an unlisted origin gets no CORS headers (and the usual 401)', async (t) => {
  const res = await preflight(h, OTHER);
  t.equal(res.status, 401);
  t.equal(res.headers['access-control-allow-origin'], undefined);
  t.equal(res.headers['access-control-allow-credentials'], undefined);
  t.match(res.headers['vary'], /\bOrigin\b/, 'Vary: Origin all the same: the answer depends on it');
});

t.test('regression: CORS actual requests from a listed origin expose the WebDAV headers, on success and on errors', async (t) => {
  t.equal((await gatewayRequest(h, '/web/', 'MKCOL', { headers: { origin: APP } })).status, 201);
  const put = await gatewayRequest(h, '/web/file.txt', 'PUT', { headers: { origin: APP }, body: 'hello, browser' });
  t.equal(put.status, 201);
  t.equal(put.headers['access-control-allow-origin'], APP);
  t.equal(put.headers['access-control-allow-credentials'], 'true');
  const exposed = String(put.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/);
  for (const hd of ['etag', 'dav', 'lock-token', 'content-range', 'location']) t.ok(exposed.includes(hd), `Expose-Headers has ${hd}`);

  const range = await gatewayRequest(h, '/web/file.txt', 'GET', { headers: { origin: APP, range: 'bytes=0-4' } });
  t.equal(range.status, 206, 'a relayed upstream answer');
  t.equal(range.body, 'hello');
  t.equal(range.headers['access-control-allow-origin'], APP);
  t.match(range.headers['vary'], /\bOrigin\b/);

  const denied = await gatewayRequest(h, '/web/file.txt', 'GET', { auth: { username: 'tester', password: 'wrong' }, headers: { origin: APP } });
  t.equal(denied.status, 401);
  t.equal(denied.headers['access-control-allow-origin'], APP, 'the page can read the 401');

  const other = await gatewayRequest(h, '/web/file.txt', 'GET', { headers: { origin: OTHER } });
  t.equal(other.status, 200, 'an unlisted origin is not refused by davgate (the browser withholds the answer)');
  t.equal(other.headers['access-control-allow-origin'], undefined, 'but gets no CORS header');
});

t.test('regression: CORS is off by default: no CORS header at all', async (t) => {
  const res = await preflight(plain, APP);
  t.equal(res.status, 401);
  for (const k of Object.keys(res.headers)) t.notOk(k.startsWith('access-control-'), `no ${k}`);
  const get = await gatewayRequest(plain, '/', 'PROPFIND', { headers: { origin: APP, depth: '0' } });
  t.equal(get.status, 207);
  for (const k of Object.keys(get.headers)) t.notOk(k.startsWith('access-control-'), `no ${k}`);
  t.notMatch(String(get.headers['vary'] ?? ''), /Origin/);
});
