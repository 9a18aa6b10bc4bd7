/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): davgate answers `100 Continue` to the client itself, only once a
 * handler reads the body (`front/expect-continue.ts`), so a refusal (401, 400, 413) comes before it and the body
 * stays on the client; the body is stored intact, and the Expect header never crosses to the upstream (davgate
 * strips it, see `proxy/headers.ts`).
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

/** What {@link sendExpectingContinue} saw. */
interface ContinueResult {
  status: number;
  /** Whether `100 Continue` arrived (and the body was sent after it). */
  continued: boolean;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A request with `Expect: 100-continue`, writing the body only after the `continue` event; a final answer without
 * 100 means the body is never sent.
 * @param auth - send the harness user's credentials (default), a wrong password, or none
 */
function sendExpectingContinue(
  method: string,
  urlPath: string,
  body: Buffer,
  opts: { auth?: 'ok' | 'wrong' | 'none'; headers?: Record<string, string> } = {},
): Promise<ContinueResult> {
  const gw = new URL(h.url);
  const auth = opts.auth ?? 'ok';
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request({
      host: gw.hostname,
      port: Number(gw.port),
      path: urlPath,
      method,
      agent: false,
      headers: {
        ...(auth === 'none' ? {} : { authorization: basicAuth(h.auth.username, auth === 'ok' ? h.auth.password : 'wrong-password') }),
        expect: '100-continue',
        'content-length': String(body.length),
        'content-type': 'application/octet-stream',
        ...opts.headers,
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
        resolve({ status: res.statusCode ?? 0, continued, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

/** PUT with `Expect: 100-continue` as the test user. */
function putExpectingContinue(urlPath: string, body: Buffer, extra: Record<string, string> = {}): Promise<ContinueResult> {
  return sendExpectingContinue('PUT', urlPath, body, { headers: extra });
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

t.test('regression: 401 before 100 Continue (an unauthenticated PUT never gets its body read)', async (t) => {
  for (const auth of ['none', 'wrong'] as const) {
    const before = seen.length;
    const res = await sendExpectingContinue('PUT', '/ec/secret.bin', randomBytes(64 * 1024), { auth });
    t.equal(res.status, 401, `${auth} credentials: 401`);
    t.notOk(res.continued, `${auth} credentials: no 100 Continue, so the body stayed on the client`);
    t.equal(res.headers['connection'], 'close', 'the connection is closed: the unread body cannot be taken as the next request');
    t.match(res.headers['www-authenticate'], /^Basic realm=/);
    t.equal(seen.length, before, 'no upstream request');
  }
  t.same(whereIs(h, '/ec/secret.bin'), [], 'nothing stored');
});

t.test('regression: 401 before 100 Continue, other refusals too: a bad path, an XML body over the limit', async (t) => {
  const bad = await sendExpectingContinue('PUT', '/ec/%2e%2e/escape.bin', Buffer.from('x'));
  t.equal(bad.status, 400, 'dot segment: 400');
  t.notOk(bad.continued, 'no 100 before the 400');
  t.equal(bad.headers['connection'], 'close');

  const long = await sendExpectingContinue('PUT', `/ec/${'n'.repeat(9000)}`, Buffer.from('x'));
  t.equal(long.status, 414, 'a name over limits.maxNameBytes: 414');
  t.notOk(long.continued, 'no 100 before the 414');

  const big = await sendExpectingContinue('PROPFIND', '/ec/', Buffer.alloc(h.config.limits.maxXmlBodyBytes + 1, 0x20), {
    headers: { depth: '0', 'content-type': 'application/xml' },
  });
  t.equal(big.status, 413, 'an XML body declared over limits.maxXmlBodyBytes: 413');
  t.notOk(big.continued, 'no 100 before the 413');
});

t.test('regression: 401 before 100 Continue, an authenticated PROPFIND with a body still gets 100 and its answer', async (t) => {
  const body = Buffer.from('<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>');
  const res = await sendExpectingContinue('PROPFIND', '/ec/', body, { headers: { depth: '0', 'content-type': 'application/xml' } });
  t.ok(res.continued, '100 Continue once the handler reads the body');
  t.equal(res.status, 207);
  t.match(res.body, /collection/);
});
