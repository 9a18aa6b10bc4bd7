/**
 * OPTIONS is answered by davgate alone; front-side Basic auth guards WebDAV and never leaks to upstreams;
 * the operational routes (/healthz, /readyz, /metrics) and the admin status API answer as documented.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import t from 'tap';
import { basicAuth, davRequest, gatewayRequest, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
/** Every request an upstream's HTTP server received: upstream id, method, url, headers. */
const seen: { id: string; method: string; url: string; headers: IncomingHttpHeaders }[] = [];

t.before(async () => {
  h = await startHarness();
  for (const u of h.upstreams) {
    // A second 'request' listener only observes; webdav-server's own listener still answers.
    u.httpServer.on('request', (req: IncomingMessage) => {
      seen.push({ id: u.id, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    });
  }
});
t.teardown(async () => {
  await h?.stop();
});

/** Sum of a metric's samples whose labels include `labels` (0 when the metric has no sample yet). */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

async function metricsText(): Promise<string> {
  const res = await davRequest(new URL('metrics', h.url).toString(), 'GET', { auth: null });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.body;
}

const EXPECTED_ALLOW = ['OPTIONS', 'GET', 'HEAD', 'PUT', 'DELETE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK'];

t.test('OPTIONS at / and at a deep path: 200, DAV 1, 2, full Allow, no upstream request', async (t) => {
  const before = metricSum(await metricsText(), 'davgate_upstream_requests_total');
  const seenBefore = seen.length;
  for (const p of ['/', '/some/deep/path/that/does/not/exist.txt']) {
    const res = await gatewayRequest(h, p, 'OPTIONS');
    t.equal(res.status, 200, `${p}: status`);
    t.equal(res.headers['dav'], '1, 2', `${p}: DAV`);
    const allow = String(res.headers['allow']).split(',').map((s) => s.trim());
    t.same([...allow].sort(), [...EXPECTED_ALLOW].sort(), `${p}: Allow lists every method`);
    t.equal(res.body, '', `${p}: empty body`);
  }
  const after = metricSum(await metricsText(), 'davgate_upstream_requests_total');
  t.equal(after, before, 'davgate_upstream_requests_total unchanged');
  t.equal(seen.length, seenBefore, 'no upstream saw a request');
});

t.test('no credentials: 401 with a Basic challenge, no upstream request', async (t) => {
  const seenBefore = seen.length;
  const res = await gatewayRequest(h, '/', 'PROPFIND', { auth: null, headers: { depth: '0' } });
  t.equal(res.status, 401);
  t.match(String(res.headers['www-authenticate']), /^Basic realm="davgate"/);
  t.equal(seen.length, seenBefore, 'nothing reached an upstream');
});

t.test('wrong password, unknown user, malformed header: 401 each', async (t) => {
  const seenBefore = seen.length;
  const cases: [string, Record<string, string>][] = [
    ['wrong password', { authorization: basicAuth(h.auth.username, 'not-the-password') }],
    ['unknown user', { authorization: basicAuth('nobody', h.auth.password) }],
    ['not Basic', { authorization: 'Bearer ' + h.adminToken }],
    ['garbage', { authorization: 'Basic %%%' }],
  ];
  for (const [name, headers] of cases) {
    const res = await gatewayRequest(h, '/x.txt', 'GET', { auth: null, headers });
    t.equal(res.status, 401, name);
    t.match(String(res.headers['www-authenticate']), /^Basic realm="davgate"/, `${name}: challenge`);
  }
  // OPTIONS needs credentials too (it is served on the WebDAV route).
  const opt = await gatewayRequest(h, '/', 'OPTIONS', { auth: null });
  t.equal(opt.status, 401, 'OPTIONS without credentials');
  t.equal(seen.length, seenBefore, 'nothing reached an upstream');
});

t.test("the client's Authorization never reaches an upstream; davgate sends each upstream's own", async (t) => {
  // The gateway user's password differs from every upstream's, so success proves davgate authenticated itself.
  for (const u of h.upstreams) t.not(u.password, h.auth.password, `upstream ${u.id} has its own password`);
  const seenBefore = seen.length;
  t.equal((await gatewayRequest(h, '/auth-check/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/auth-check/f.txt', 'PUT', { body: 'hello' })).status, 201);
  const get = await gatewayRequest(h, '/auth-check/f.txt', 'GET');
  t.equal(get.status, 200);
  t.equal(get.body, 'hello');
  const list = await gatewayRequest(h, '/auth-check/', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(list.status, 207);

  const mine = seen.slice(seenBefore);
  t.ok(mine.length >= h.upstreams.length, `upstreams saw ${mine.length} requests`);
  const clientAuth = basicAuth(h.auth.username, h.auth.password);
  for (const r of mine) {
    const u = h.upstreams.find((x) => x.id === r.id)!;
    t.equal(r.headers['authorization'], basicAuth(u.username, u.password), `${r.method} ${r.url} on ${r.id}: upstream creds`);
    t.not(r.headers['authorization'], clientAuth);
  }
  // Neither the password nor the client's header appears anywhere in any upstream request header.
  const all = JSON.stringify(mine.map((r) => r.headers));
  t.notOk(all.includes(h.auth.password), 'client password never sent');
  t.notOk(all.includes(clientAuth.slice('Basic '.length)), 'client credentials never sent');
});

t.test('/healthz and /readyz answer 200 without credentials', async (t) => {
  const health = await davRequest(new URL('healthz', h.url).toString(), 'GET', { auth: null });
  t.equal(health.status, 200);
  t.same(JSON.parse(health.body), { status: 'ok' });
  const ready = await davRequest(new URL('readyz', h.url).toString(), 'GET', { auth: null });
  t.equal(ready.status, 200);
  t.same(JSON.parse(ready.body), { ready: true, upstreamsUp: 3, upstreams: 3 });
});

t.test('/metrics: the documented metrics, and no path among label values', async (t) => {
  // A request with a distinctive path first, so that a path label would show up.
  const marker = 'metrics-path-marker-7f3a';
  t.equal((await gatewayRequest(h, `/${marker}/file.txt`, 'GET')).status, 404);
  const text = await metricsText();
  for (const name of [
    'davgate_http_requests_total',
    'davgate_upstream_up',
    'davgate_upstream_in_flight_requests',
    'davgate_upstream_queue_length',
    'davgate_failovers_total',
    'davgate_http_request_duration_seconds',
  ]) {
    t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} declared`);
  }
  for (const u of h.upstreams) {
    t.equal(metricSum(text, 'davgate_upstream_up', { upstream: u.id }), 1, `upstream ${u.id} up`);
    t.equal(metricSum(text, 'davgate_upstream_in_flight_requests', { upstream: u.id }), 0, `upstream ${u.id} idle`);
    t.equal(metricSum(text, 'davgate_upstream_queue_length', { upstream: u.id }), 0, `upstream ${u.id} queue empty`);
  }
  t.ok(metricSum(text, 'davgate_http_requests_total', { method: 'GET', status_class: '4xx' }) >= 1, 'the 404 was counted');
  t.ok(metricSum(text, 'davgate_http_request_duration_seconds_count', { method: 'GET' }) >= 1, 'duration observed');

  t.notOk(text.includes(marker), 'the request path never appears');
  t.notOk(text.includes('auth-check'), 'no earlier path appears either');
  const labelNames = new Set<string>();
  const labelValues: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*\{([^}]*)\}/.exec(line);
    if (!m) continue;
    for (const lm of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labelNames.add(lm[1]!);
      labelValues.push(lm[2]!);
    }
  }
  for (const bad of ['path', 'url', 'key', 'route', 'href']) t.notOk(labelNames.has(bad), `no "${bad}" label`);
  t.same(labelValues.filter((v) => v.startsWith('/')), [], 'no label value looks like a path');
});

t.test('admin status: 401 without or with a wrong bearer, JSON without credentials with the token', async (t) => {
  const url = new URL('api/admin/webdav/status', h.url).toString();
  const none = await davRequest(url, 'GET', { auth: null });
  t.equal(none.status, 401, 'no token');
  const wrong = await davRequest(url, 'GET', { auth: null, headers: { authorization: 'Bearer not-the-token' } });
  t.equal(wrong.status, 401, 'wrong token');
  const basic = await davRequest(url, 'GET', { headers: {} });
  t.equal(basic.status, 401, 'WebDAV Basic credentials do not open the admin API');
  for (const r of [none, wrong, basic]) t.notMatch(r.body, /"upstreams"/);

  const ok = await davRequest(url, 'GET', { auth: null, headers: { authorization: `Bearer ${h.adminToken}` } });
  t.equal(ok.status, 200);
  t.match(String(ok.headers['content-type']), /^application\/json/);
  const body = JSON.parse(ok.body) as { strategy: string; upstreams: Record<string, unknown>[] };
  t.equal(body.strategy, 'hash');
  t.equal(body.upstreams.length, h.upstreams.length);
  for (const [i, u] of h.upstreams.entries()) {
    const s = body.upstreams[i]!;
    t.equal(s['id'], u.id);
    t.equal(s['url'], u.url, `${u.id}: url without userinfo`);
    t.notMatch(String(s['url']), /@/, `${u.id}: no userinfo in url`);
    t.equal(s['enabled'], true);
    t.equal(s['healthy'], true);
    t.equal(s['inFlight'], 0);
    t.equal(s['maxConcurrent'], h.config.upstreams[i]!.maxConcurrent);
    t.equal(s['queue'], 0);
    t.ok(s['lastLatencyMs'] === null || typeof s['lastLatencyMs'] === 'number', `${u.id}: lastLatencyMs`);
    t.notOk(ok.body.includes(u.password), `${u.id}: password nowhere in the body`);
  }
  t.notOk(ok.body.includes(h.adminToken), 'the admin token is not echoed');
  t.notOk(/password|authorization/i.test(ok.body), 'no credential fields');
});
