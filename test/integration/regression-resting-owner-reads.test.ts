/**
 * Regression (new-user trial, finding 2): a read of a file whose account was resting (throttled, or out of
 * davgate's request budget) went on to ask every other account, spending their budgets on 404s until they
 * ran out too, and files that live on those accounts then answered 503 as well. A resting owner now answers
 * for its files with 503 + Retry-After at once, unless the repair journal says the file was written elsewhere.
 */
import t from 'tap';
import { rank } from '../../src/placement/hrw.js';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;

t.test('reads of a throttled account’s file cost the other accounts nothing', async (t) => {
  // Each simulated account allows 16 requests per hour; davgate's budget is high, so j0 throttles for real.
  const rig = await jianguoyunRig(t, { sim: { budget: 16, windowMs: 3_600_000 }, upstream: { coolingMs: 3_600_000 } });
  t.equal((await rig.call('MKCOL', '/c/')).status, 201);
  const names = Array.from({ length: 9 }, (_, i) => `/c/f${i}.txt`);
  for (const n of names) t.equal((await rig.call('PUT', n, { 'content-length': '1' }, 'x')).status, 201);
  const mine = names.find((n) => owner(n) === 'j0')!;
  const theirs = names.find((n) => owner(n) === 'j1')!;
  t.ok(mine && theirs, 'files on j0 and j1');
  let r = await rig.call('GET', mine);
  for (let i = 0; i < 30 && r.status === 200; i++) r = await rig.call('GET', mine);
  t.equal(r.status, 503, 'j0 throttled');
  t.ok(rig.sims[0]!.counters.throttled >= 1);
  const others = () => [rig.sims[1]!.counters.requests, rig.sims[2]!.counters.requests];
  const before = others();
  for (let i = 0; i < 5; i++) {
    const again = await rig.call('GET', mine);
    t.equal(again.status, 503, 'still 503, never 404');
    t.ok(Number(again.headers['retry-after']) > 60, 'Retry-After is the rest left');
  }
  t.same(others(), before, 'the other accounts were not asked');
  t.equal((await rig.call('GET', theirs)).status, 200, 'a file on another account is served');
  // Regression (new-user trial, finding 6): a listing said "j0 is down" with Retry-After: 1.
  const listing = await rig.call('PROPFIND', '/c/', { depth: '1' });
  t.equal(listing.status, 503, 'a listing cannot be complete while j0 rests');
  t.ok(Number(listing.headers['retry-after']) > 60, `its Retry-After is the rest left (${listing.headers['retry-after']})`);
  t.match(listing.text, /cooling/, 'and the reason says cooling, not down');
});
