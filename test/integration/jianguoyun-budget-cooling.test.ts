/**
 * The jianguoyun profile against three simulated 坚果云 accounts (src/sim/jianguoyun.ts, scaled down):
 * - a burst larger than one account's budget completes with no `BlockedTemporarily` reaching any account,
 *   as the simulators' own counters show (davgate waits for budget instead);
 * - a throttled account cools down: reads of its files answer 503 with Retry-After (never 404), the other
 *   accounts keep working, and it serves again after the cool-down.
 */
import t from 'tap';
import type { JianguoyunSimOptions } from '../../src/sim/jianguoyun.js';
import { rank } from '../../src/placement/hrw.js';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const rig = (t: { teardown(fn: () => unknown): void }, sim: JianguoyunSimOptions, upstream: Record<string, unknown>) =>
  jianguoyunRig(t, { sim, upstream, config: { limits: { queueTimeoutMs: 60_000 } } });

t.test('a burst larger than one account budget completes without a throttle', async (t) => {
  // Each account allows 20 requests per 2 s; davgate keeps 18 (its safety margin).
  const { sims, call } = await rig(t, { budget: 20, windowMs: 2_000 }, { budget: { requests: 18, windowMs: 2_000, minSpacingMs: 0 } });
  t.equal((await call('MKCOL', '/b/')).status, 201);
  const names = Array.from({ length: 40 }, (_, i) => `/b/f${i}.txt`);
  const puts = await Promise.all(names.map((n) => call('PUT', n, { 'content-length': '2' }, 'ok')));
  t.same([...new Set(puts.map((r) => r.status))], [201], 'every PUT succeeded');
  const gets = await Promise.all(names.map((n) => call('GET', n)));
  t.same([...new Set(gets.map((r) => `${r.status} ${r.text}`))], ['200 ok'], 'every GET succeeded');
  const total = sims.reduce((n, s) => n + s.counters.requests, 0);
  t.ok(total > 60, `the accounts served ${total} requests, more than one budget`);
  t.same(sims.map((s) => s.counters.throttled), [0, 0, 0], 'no BlockedTemporarily reached any account');
});

t.test('a throttled account cools down, others keep working, then it recovers', async (t) => {
  let simNow = Date.now();
  // The accounts allow only 12 requests per hour (simulated clock); davgate's budget is set high on purpose so
  // that the account itself throttles.
  const { sims, call } = await rig(t, { budget: 12, windowMs: 3_600_000, now: () => simNow }, { budget: { requests: 1000, windowMs: 3_600_000, minSpacingMs: 0 }, coolingMs: 300 });
  const ids = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
  const owner = (k: string) => rank(k, ids)[0]!.id;
  t.equal((await call('MKCOL', '/c/')).status, 201);
  const files = Array.from({ length: 9 }, (_, i) => `/c/g${i}.txt`);
  for (const f of files) t.equal((await call('PUT', f, { 'content-length': '1' }, 'x')).status, 201, `PUT ${f}`);
  // Drive j0 over its budget with reads of its files.
  const mine = files.filter((f) => owner(f) === 'j0');
  const others = files.filter((f) => owner(f) !== 'j0');
  t.ok(mine.length > 0 && others.length > 0, 'files on j0 and on others');
  let r = await call('GET', mine[0]!);
  for (let i = 0; i < 20 && r.status === 200; i++) r = await call('GET', mine[0]!);
  t.equal(r.status, 503, 'a read of a throttled account’s file: 503');
  t.ok(Number(r.headers['retry-after']) >= 1, 'with Retry-After');
  t.ok(sims[0]!.counters.throttled >= 1, 'the account did throttle');
  const before = sims[0]!.counters.requests;
  const again = await call('GET', mine[0]!);
  t.equal(again.status, 503, 'still 503 while cooling, never 404');
  t.equal(sims[0]!.counters.requests, before, 'nothing sent to the cooling account');
  for (const f of others.filter((f) => owner(f) !== 'j0')) {
    const g = await call('GET', f);
    if (sims[Number(owner(f).slice(1))]!.counters.throttled === 0) t.equal(g.status, 200, `${f} on ${owner(f)} still served`);
  }
  // The account's window frees (simulated clock) and davgate's cool-down ends.
  simNow += 3_600_001;
  let back = await call('GET', mine[0]!);
  for (let i = 0; i < 200 && back.status !== 200; i++) {
    await new Promise((res) => setTimeout(res, 20));
    back = await call('GET', mine[0]!);
  }
  t.equal(back.status, 200, 'served again after the cool-down');
});
