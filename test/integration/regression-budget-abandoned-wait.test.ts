/**
 * Regression (review finding 10): a request that waited for budget and was then abandoned by its client (sync
 * clients time out and retry) kept its reservation: `Upstream.request` booked a send time, slept, and on abort
 * released the admission slot but never gave the booking back. Nothing was sent, yet the booked times counted
 * against the window, so later requests waited for (or were refused for) budget that was never used.
 */
import t from 'tap';
import { request } from 'undici';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('abandoned budget waits do not eat the budget', async (t) => {
  const WINDOW = 2000;
  const REQUESTS = 5;
  const r = await jianguoyunRig(t, {
    accounts: 1,
    upstream: { budget: { requests: REQUESTS, windowMs: WINDOW, minSpacingMs: 0 }, maxConcurrent: 4 },
    config: { health: { intervalMs: 3_600_000 }, limits: { queueTimeoutMs: 30_000 } },
  });
  t.equal((await r.call('PUT', '/x.txt', { 'content-length': '1' }, 'x')).status, 201);
  // (the start-up sandbox check and the PUT used 2 of 5)
  const sim = r.sims[0]!;
  const budget = r.server.gateway.upstreams[0]!.budget!;
  // 24 impatient clients: each gives up after 150 ms, most of them while waiting for budget.
  await Promise.all(
    Array.from({ length: 24 }, () =>
      request(r.url('/x.txt'), { signal: AbortSignal.timeout(150) }).then((x) => x.body.dump(), () => undefined),
    ),
  );
  const inFlight = () => r.server.gateway.upstreams[0]!.status().inFlight;
  while (inFlight() > 0) await sleep(10);
    t.comment(`the account received ${sim.counters.requests} requests in all`);
  t.ok(budget.used() <= sim.counters.requests, 'davgate counts only requests the account received');
  t.equal(budget.remaining(), REQUESTS - budget.used(), 'no booking of an abandoned wait is left');
  // A full window later the account has seen nothing in the last window: the whole budget is back.
  await sleep(WINDOW + 50);
  t.equal(budget.remaining(), REQUESTS, 'after a quiet window the whole budget is back');
  const g = await r.call('GET', '/x.txt');
  t.equal(g.status, 200);
});
