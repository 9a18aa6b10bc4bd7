/**
 * Regression (issue 8, front door): `promtool check metrics` flagged `davgate_nodejs_active_*_total` (prom-client
 * default gauges with a counter's suffix). This lints a real scrape of a running gateway — every `davgate_`
 * metric, after traffic that gives the labelled ones samples — with Prometheus's own linter, when `promtool` is
 * installed (Debian package `prometheus`; `.ci/run` installs it). Without it the test is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { request } from 'undici';
import { gatewayRequest, startHarness } from '../helpers/harness.js';

const PROMTOOL = process.env['DG_PROMTOOL'] ?? ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

t.test('regression: promtool check metrics is clean on a real scrape', { skip: PROMTOOL ? false : 'promtool not installed (apt-get install prometheus); skipped' }, async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  // Traffic that fills the labelled series: writes, reads, a listing, a 404, a 401, a lock.
  t.equal((await gatewayRequest(h, '/m/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/m/a.txt', 'PUT', { body: 'a' })).status, 201);
  t.equal((await gatewayRequest(h, '/m/a.txt', 'GET')).status, 200);
  t.equal((await gatewayRequest(h, '/m/', 'PROPFIND', { headers: { depth: '1' } })).status, 207);
  t.equal((await gatewayRequest(h, '/m/missing', 'GET')).status, 404);
  t.equal((await gatewayRequest(h, '/m/a.txt', 'GET', { auth: null })).status, 401);
  const lock = await gatewayRequest(h, '/m/a.txt', 'LOCK', {
    headers: { 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
  });
  t.equal(lock.status, 200);

  const res = await request(new URL('metrics', h.url));
  t.equal(res.statusCode, 200);
  const scrape = await res.body.text();
  const declared = h.server.gateway.metrics.registry.getMetricsAsArray().map((m) => m.name);
  for (const name of declared) t.match(scrape, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is in the scrape`);
  t.ok(declared.includes('davgate_http_requests_total') && declared.includes('davgate_nodejs_eventloop_lag_seconds'), 'own and process metrics both');
  const unprefixed = scrape.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('davgate_'));
  t.same(unprefixed, [], 'every sample is a davgate_ metric');

  const lint = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
  t.equal(lint.error, undefined, 'promtool ran');
  t.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no lint problem');
  t.equal(lint.status, 0, 'promtool check metrics exits 0');
});
