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
import { Readable } from 'node:stream';
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

t.test('regression: PUTs of 100 KB to 1 MB after idle gaps are resent whole (break-test: 502 past ~64 KB)', async (t) => {
  t.equal((await gatewayRequest(h, '/idle-put/', 'MKCOL')).status, 201);
  const sizes = [100_000, 500_000, 1_000_000];
  const statuses: number[] = [];
  let intact = 0;
  const before = h.relays.reduce((n, r) => n + r.stats.resets, 0);
  for (let round = 0; round < 3; round++) {
    for (const size of sizes) {
      // A listing touches every upstream, so each keeps an idle connection that the relay then forgets.
      await gatewayRequest(h, '/idle-put/', 'PROPFIND', { headers: { depth: '1' } });
      await sleep(GAP_MS);
      const body = Buffer.alloc(size, `${round}-${size};`);
      const key = `/idle-put/r${round}-${size}.bin`;
      // The body arrives after davgate has started the upstream request, as with curl's `Expect: 100-continue`:
      // when the stale connection fails, only part of it has been read from the client.
      const put = await gatewayRequest(h, key, 'PUT', {
        body: Readable.from(
          (async function* () {
            yield body.subarray(0, 16_384);
            await sleep(100);
            yield body.subarray(16_384);
          })(),
        ),
        headers: { 'content-length': String(size) },
      });
      statuses.push(put.status);
      const back = await gatewayRequest(h, key, 'GET');
      if (back.status === 200 && back.bytes.equals(body)) intact++;
    }
  }
  const resets = h.relays.reduce((n, r) => n + r.stats.resets, 0) - before;
  t.ok(resets > 0, `the relays reset reused connections under these PUTs (${resets})`);
  t.same([...new Set(statuses)], [201], `every PUT created its file (statuses ${statuses.join(' ')})`);
  t.equal(intact, sizes.length * 3, 'every file reads back byte for byte');
});
