/**
 * Regression (review finding 7): requests already waiting in an account's admission queue (or in its budget
 * wait) when the account started cooling after `503 BlockedTemporarily` were still sent to it, one after
 * another: `Upstream.request` checked `cooling` only on entry. Each got another BlockedTemporarily, and the
 * vendor counts refused requests too, so each prolonged the block (jianguoyun.md §1, statement 1).
 * Now cooling is re-checked after every wait, right before sending.
 */
import t from 'tap';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { forwarder } from '../helpers/forwarder.js';

t.test('after the first BlockedTemporarily no queued request reaches the cooling account', async (t) => {
  const r = await jianguoyunRig(t, {
    accounts: 1,
    // The account's real budget is smaller than what davgate was told (another device uses it too, or the
    // operator's estimate was off): davgate's own budget cannot prevent the first block, cooling must do the rest.
    sim: { budget: 30, latencyMs: 15 },
    upstream: { maxConcurrent: 1 },
    config: { health: { intervalMs: 3_600_000, failThreshold: 1000 } },
  });
  for (let i = 0; i < 5; i++) t.equal((await r.call('PUT', `/f${i}.txt`, { 'content-length': '1' }, 'x')).status, 201);
  const sim = r.sims[0]!;
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => r.call('GET', `/f${i % 5}.txt`)));
  const codes = new Map<number, number>();
  for (const a of answers) codes.set(a.status, (codes.get(a.status) ?? 0) + 1);
  t.comment(`client saw ${JSON.stringify([...codes])}; account: ${sim.counters.requests} requests, ${sim.counters.throttled} BlockedTemporarily`);
  t.ok(r.server.gateway.upstreams[0]!.cooling, 'davgate noticed the block and is cooling');
  t.ok(sim.counters.throttled <= 1, `at most maxConcurrent (1) request met the block; got ${sim.counters.throttled}`);
  const refused = answers.filter((a) => a.status === 503);
  t.ok(refused.length > 0, 'the queued requests were answered 503');
  t.ok(
    refused.every((a) => Number(a.headers['retry-after']) > 0),
    'each with a Retry-After (the rest left), like a request that arrives while cooling',
  );
});

t.test('a request waiting for budget when the account starts cooling is not sent, and gives its booking back', async (t) => {
  let fwd: Awaited<ReturnType<typeof forwarder>> | undefined;
  t.teardown(async () => fwd?.close());
  const SPACING = 1_500;
  const r = await jianguoyunRig(t, {
    accounts: 1,
    // Requests at least 1.5 s apart: the second GET below sleeps in the budget wait while the first is throttled.
    upstream: { maxConcurrent: 4, budget: { requests: 100, windowMs: 60_000, minSpacingMs: SPACING }, coolingMs: 60_000 },
    config: { health: { intervalMs: 3_600_000, failThreshold: 1000 }, limits: { queueTimeoutMs: 30_000 } },
    beforeStart: async (sims: JianguoyunSim[]) => {
      fwd = await forwarder(sims[0]!.origin, (s) => (s.method === 'GET' ? { kind: 'blocked' } : { kind: 'pass' }));
    },
    urlOf: () => `${fwd!.origin}/dav/${SANDBOX}/`,
  });
  t.equal((await r.call('PUT', '/f.txt', { 'content-length': '1' }, 'x')).status, 201);
  const u = r.server.gateway.upstreams[0]!;
  await new Promise((res) => setTimeout(res, SPACING));
  const answers = await Promise.all([r.call('GET', '/f.txt'), r.call('GET', '/f.txt')]);
  t.same(answers.map((a) => a.status), [503, 503], 'both answered 503');
  t.ok(u.cooling, 'davgate is cooling');
  const gets = fwd!.seen.filter((s) => s.method === 'GET').length;
  t.equal(gets, 1, 'only the first GET reached the account; the one in the budget wait was not sent');
  t.equal(u.budget!.used(), fwd!.seen.length, 'the budget counts exactly the requests that reached the account');
  t.equal(u.budget!.remaining(), 100 - fwd!.seen.length, 'the unsent booking was given back');
});
