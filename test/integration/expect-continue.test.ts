/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): davgate answers `100 Continue` to the client itself, the body is
 * stored intact, and the Expect header never crosses to the upstream (davgate strips it, see
 * `proxy/headers.ts`).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import t from 'tap';
import { basicAuth, gatewayRequest, startHarness, whereIs, type Harness } from '../helpers/harness.js';

let h: Harness;
/** Headers of every request the upstreams received. */
const seen: { id: string; method: string; url: string; headers: IncomingHttpHeaders }[] = [];

t.before(async () => {
  h = await startHarness();
  for (const u of h.upstreams) {
    u.httpServer.on('request', (req: IncomingMessage) => {
      seen.push({ id: u.id, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    });
    // With a 'checkContinue' listener Node would stop answering 100 itself; only observe via 'request'.
  }
});
t.teardown(async () => {
  await h?.stop();
});

/**
 * PUT with `Expect: 100-continue`, writing the body only after the `continue` event.
 * @returns final status, whether `continue` was seen before the body was written, and the response body
 */
function putExpectingContinue(urlPath: string, body: Buffer, extra: Record<string, string> = {}): Promise<{ status: number; continued: boolean; body: string }> {
  const gw = new URL(h.url);
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request({
      host: gw.hostname,
      port: Number(gw.port),
      path: urlPath,
      method: 'PUT',
      agent: false,
      headers: {
        authorization: basicAuth(h.auth.username, h.auth.password),
        expect: '100-continue',
        'content-length': String(body.length),
        'content-type': 'application/octet-stream',
        ...extra,
      },
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // A final answer without 100 (e.g. 401/409) means the body was never sent; finish the request.
        if (!continued) req.destroy();
        resolve({ status: res.statusCode ?? 0, continued, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

t.test('setup', async (t) => {
  t.equal((await gatewayRequest(h, '/ec/', 'MKCOL')).status, 201);
});

t.test('PUT with Expect: 100-continue: 100 then 201, bytes stored, no Expect upstream', async (t) => {
  const data = randomBytes(300_000);
  const before = seen.length;
  const res = await putExpectingContinue('/ec/upload.bin', data);
  t.ok(res.continued, 'the client got 100 Continue before sending the body');
  t.equal(res.status, 201);
  t.same(whereIs(h, '/ec/upload.bin').length, 1, 'stored on one upstream');
  const get = await gatewayRequest(h, '/ec/upload.bin', 'GET');
  t.equal(get.status, 200);
  t.equal(Buffer.compare(get.bytes, data), 0, 'bytes intact');

  const upstreamSide = seen.slice(before);
  const puts = upstreamSide.filter((r) => r.method === 'PUT');
  t.equal(puts.length, 1, 'one PUT reached an upstream');
  t.equal(puts[0]!.headers['content-length'], String(data.length), 'length passed on');
  for (const r of upstreamSide) t.equal(r.headers['expect'], undefined, `${r.method} ${r.url} on ${r.id}: no Expect`);
});

t.test('overwrite with Expect: 100-continue: 200 (webdav-server over an existing file)', async (t) => {
  const data = Buffer.from('second version');
  const before = seen.length;
  const res = await putExpectingContinue('/ec/upload.bin', data);
  t.ok(res.continued);
  t.equal(res.status, 200);
  t.equal((await gatewayRequest(h, '/ec/upload.bin', 'GET')).body, 'second version');
  for (const r of seen.slice(before)) t.equal(r.headers['expect'], undefined, `${r.method} ${r.url}: no Expect`);
});

t.test('an empty body with Expect: 100-continue', async (t) => {
  const res = await putExpectingContinue('/ec/empty.txt', Buffer.alloc(0));
  t.equal(res.status, 201);
  const get = await gatewayRequest(h, '/ec/empty.txt', 'GET');
  t.equal(get.status, 200);
  t.equal(get.bytes.length, 0);
});
