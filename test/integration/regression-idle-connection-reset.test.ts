/**
 * Regression (issue 8, "Healthy upstreams are marked down when idle connections die"): a NAT box or load
 * balancer between davgate and an account silently forgets a connection that sat idle, and resets the next
 * request sent on it. davgate reused such connections, answered 503 and marked healthy upstreams down
 * (400 × 503 out of 480 in the reported run, all three upstreams down).
 *
 * A relay (`src/sim/relay.ts`) in front of each in-process upstream forgets connections idle for longer than
 * `IDLE_DROP_MS`; bursts of GETs and listings are separated by gaps longer than that, but shorter than the
 * time undici keeps an idle connection (so the next burst reuses dead connections). Only counts are asserted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { gatewayRequest, startHarness, type Harness } from '../helpers/harness.js';

const IDLE_DROP_MS = 300;
/** Gaps between bursts: past the relay's idle drop, well within the upstreams' `Keep-Alive: timeout=5`. */
const GAP_MS = 600;
const BURSTS = 4;
const BURST_SIZE = 24;
const FILES = 12;

let h: Harness;
t.before(async () => {
  h = await startHarness({ relay: { idleDropMs: IDLE_DROP_MS } });
});
t.teardown(async () => {
  await h?.stop();
});

t.test('regression: bursts after idle gaps through connection-dropping relays: no errors, nobody marked down', async (t) => {
  t.equal((await gatewayRequest(h, '/idle/', 'MKCOL')).status, 201);
  for (let i = 0; i < FILES; i++) {
    t.equal((await gatewayRequest(h, `/idle/f${i}.txt`, 'PUT', { body: `file ${i}` })).status, 201);
  }
  const statuses = new Map<number, number>();
  for (let b = 0; b < BURSTS; b++) {
    await sleep(GAP_MS);
    // GETs, listings, and overwrites (a client's PUT body, read in full and kept, is sent again too).
    const burst = Array.from({ length: BURST_SIZE }, (_, i) =>
      i % 4 === 3
        ? gatewayRequest(h, '/idle/', 'PROPFIND', { headers: { depth: '1' } })
        : i % 8 === 5
          ? gatewayRequest(h, `/idle/f${i % FILES}.txt`, 'PUT', { body: `file ${i % FILES}` })
          : gatewayRequest(h, `/idle/f${(b * BURST_SIZE + i) % FILES}.txt`, 'GET'),
    );
    for (const res of await Promise.all(burst)) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  }
  const resets = h.relays.reduce((n, r) => n + r.stats.resets, 0);
  t.ok(resets > 0, `the relays did reset reused connections (${resets}), so the race was exercised`);
  const errors = [...statuses].filter(([s]) => s >= 300).reduce((n, [, c]) => n + c, 0);
  t.equal(errors, 0, `no client-visible errors (statuses: ${JSON.stringify(Object.fromEntries(statuses))})`);
  const down = h.server.gateway.enabled.filter((u) => !u.health.healthy).map((u) => u.id);
  t.same(down, [], 'no upstream marked down');
  const metrics = await h.server.gateway.metrics.registry.getSingleMetric('davgate_upstream_stale_connections_total')?.get();
  const count = (result: string) => (metrics?.values ?? []).filter((v) => v.labels['result'] === result).reduce((n, v) => n + v.value, 0);
  t.ok(count('resent') > 0, `requests on dead connections were resent at once (${count('resent')})`);
  t.equal(count('failed'), 0, 'none had to give up');
  const failures = await h.server.gateway.metrics.registry.getSingleMetric('davgate_upstream_health_failures_total')?.get();
  t.same(failures?.values.filter((v) => v.value > 0) ?? [], [], 'no health failure counted');
});
