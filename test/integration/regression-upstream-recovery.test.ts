/**
 * Regressions (issue 8):
 * - "Recovery is slow": an Apache stopped and restarted 20 s later was still answered 503 for 20 s after it was
 *   back (cool-down plus the 30 s probe interval). A down upstream is now probed by the fast loop
 *   (`health.downIntervalMs`, default 2 s) and serves again after its first successful probe.
 * - "every GET of a file on a down upstream waited the retry backoff": a request for a down upstream's file is
 *   answered at once (503 with Retry-After), without a retry and without sending anything to it.
 *
 * The upstream is "stopped" by closing the relay in front of it (its port then refuses connections) and
 * "restarted" by listening on the same port again. Probe rounds are run by hand (`runOnce('fast')`): counts and
 * states are asserted, never times.
 */
import t from 'tap';
import { DEFAULTS } from '../../src/config/schema.js';
import { startRelay } from '../../src/sim/relay.js';
import { startProber, type Prober } from '../../src/upstream/prober.js';
import type { Upstream } from '../../src/upstream/upstream.js';
import { gatewayRequest, placementOrder, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
let prober: Prober;
t.before(async () => {
  // idleDropMs 0: the relays never drop connections; they are only there to be closed and reopened.
  h = await startHarness({ relay: { idleDropMs: 0 } });
  // A second prober on the same gateway, whose rounds the test runs itself (the harness's fire once an hour).
  prober = startProber(h.server.gateway);
});
t.teardown(async () => {
  prober?.stop();
  await h?.stop();
});

/** The sum of a counter's values whose labels match `labels`. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = await h.server.gateway.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

const NAME = 'song.mp3';
let victim: Upstream;
let victimIndex: number;
let port: number;

t.test('setup: a file owned by one upstream', async (t) => {
  t.equal((await gatewayRequest(h, '/rec/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, `/rec/${NAME}`, 'PUT', { body: 'la la la' })).status, 201);
  const ownerId = placementOrder(h, `/rec/${NAME}`)[0]!;
  victimIndex = h.upstreams.findIndex((u) => u.id === ownerId);
  victim = h.server.gateway.upstreams.find((u) => u.id === ownerId)!;
  port = h.relays[victimIndex]!.port;
});

t.test('a stopped upstream is marked down by the consecutive-failures path', async (t) => {
  await h.relays[victimIndex]!.close();
  let reads = 0;
  while (victim.health.healthy && reads < DEFAULTS.failThreshold) {
    const res = await gatewayRequest(h, `/rec/${NAME}`, 'GET');
    t.ok(res.status === 502 || res.status === 503, `read during the outage answers ${res.status}, never 404`);
    reads++;
  }
  t.notOk(victim.health.healthy, `marked down after ${reads} reads`);
  t.equal(victim.health.lastDownCause, 'consecutive');
  t.ok((await counter('davgate_upstream_health_failures_total', { upstream: victim.id, reason: 'connect' })) >= DEFAULTS.failThreshold);
  t.equal(await counter('davgate_upstream_health_transitions_total', { upstream: victim.id, to: 'down' }), 1);
});

t.test('regression: a request for a down upstream\'s file is answered at once, without a retry or a send', async (t) => {
  const retries = await counter('davgate_failovers_total', { upstream: victim.id, reason: 'retry' });
  const sent = await counter('davgate_upstream_requests_total', { upstream: victim.id });
  const res = await gatewayRequest(h, `/rec/${NAME}`, 'GET');
  t.equal(res.status, 503, 'the file lives only there: 503, never 404');
  t.equal(res.headers['retry-after'], String(Math.ceil(h.config.health.downIntervalMs / 1000)), 'Retry-After: the next fast probe');
  t.equal(await counter('davgate_failovers_total', { upstream: victim.id, reason: 'retry' }), retries, 'no retry (and so no backoff)');
  t.equal(await counter('davgate_upstream_requests_total', { upstream: victim.id }), sent, 'nothing sent to the down upstream');
});

t.test('the fast loop probes the down upstream; a failed probe keeps it down', async (t) => {
  const before = await counter('davgate_health_probes_total', { upstream: victim.id, result: 'fail' });
  await prober.runOnce('fast');
  t.equal(await counter('davgate_health_probes_total', { upstream: victim.id, result: 'fail' }), before + 1);
  t.notOk(victim.health.healthy);
  const others = h.server.gateway.upstreams.filter((u) => u !== victim);
  for (const u of others) t.equal(await counter('davgate_health_probes_total', { upstream: u.id }), 0, `fast loop leaves healthy ${u.id} alone`);
});

t.test('regression: restarted on the same port, it serves again after the next fast probe', async (t) => {
  const target = new URL(h.upstreams[victimIndex]!.url);
  h.relays[victimIndex] = await startRelay({ targetHost: target.hostname, targetPort: Number(target.port), port });
  t.equal((await gatewayRequest(h, `/rec/${NAME}`, 'GET')).status, 503, 'still down until a probe says otherwise');
  await prober.runOnce('fast');
  t.ok(victim.health.healthy, 'up after one fast probe');
  t.equal(await counter('davgate_upstream_health_transitions_total', { upstream: victim.id, to: 'up' }), 1);
  const res = await gatewayRequest(h, `/rec/${NAME}`, 'GET');
  t.equal(res.status, 200);
  t.equal(res.body, 'la la la');
  t.ok(DEFAULTS.healthDownIntervalMs <= 5_000, 'the default fast interval brings it back within the 5 s target');
});
