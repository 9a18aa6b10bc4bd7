/**
 * Regression (review finding 12): an app password that stops working while davgate runs (revoked, or
 * "years-old app passwords were seen to stop working", jianguoyun.md §6) got 401 on every request, which
 * `Upstream.request` counted as a healthy answer (it even refreshed `lastTrafficOkAt`, so probes were
 * skipped). The upstream was never taken out: new files kept being placed on it (clients got 502) and davgate
 * kept presenting the refused password, and repeated wrong passwords get the account locked (jianguoyun.md §6;
 * the simulator's `lockAfterFailures`). Now a 401 counts as a failure for passive health.
 */
import t from 'tap';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { authRewriter } from '../helpers/forwarder.js';
import { rank } from '../../src/placement/hrw.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => Number(rank(k, IDS)[0]!.id.slice(1));

t.test('a revoked app password takes the account out of service; clients never see a 401', async (t) => {
  let revoked = false;
  let fwd: Awaited<ReturnType<typeof authRewriter>> | undefined;
  t.teardown(async () => fwd?.close());
  const r = await jianguoyunRig(t, {
    sim: { budget: 100_000, lockAfterFailures: 10 },
    // failThreshold 3 is the default; written out because the assertions below count on it.
    config: { health: { intervalMs: 3_600_000, failThreshold: 3 } },
    beforeStart: async (sims: JianguoyunSim[]) => {
      fwd = await authRewriter(sims[0]!.origin, () => (revoked ? 'Basic ' + Buffer.from('sim@example.com:revoked').toString('base64') : undefined));
    },
    urlOf: (s, i) => (i === 0 ? `${fwd!.origin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`),
  });
  const j0 = r.server.gateway.upstreams[0]!;
  const before = [...Array(50).keys()].map((i) => `/before-${i}.txt`).find((k) => owner(k) === 0)!;
  t.equal((await r.call('PUT', before, { 'content-length': '1' }, 'x')).status, 201);
  const aliveBefore = j0.lastTrafficOkAt;
  t.ok(aliveBefore > 0, 'j0 answered real traffic before the password was revoked');
  revoked = true;
  const keys = [...Array(400).keys()].map((i) => `/n${i}.txt`).filter((k) => owner(k) === 0).slice(0, 30);
  const answers = [];
  for (const k of keys) answers.push(await r.call('PUT', k, { 'content-length': '1' }, 'x'));
  const statuses = answers.map((a) => a.status);
  const sim = r.sims[0]!;
  t.comment(`client: ${JSON.stringify(statuses.reduce<Record<number, number>>((a, s) => ((a[s] = (a[s] ?? 0) + 1), a), {}))}; j0 saw ${sim.counters.unauthorized} wrong-password requests`);
  t.equal(sim.counters.unauthorized, 3, 'davgate stopped presenting the refused password after failThreshold (3) refusals');
  t.notOk(j0.health.healthy, 'the account is marked down');
  t.equal(j0.lastTrafficOkAt, aliveBefore, 'a 401 never counts as traffic that shows the account alive');
  t.equal(statuses.filter((s) => s === 201).length, keys.length - 3, 'new files go to the other accounts meanwhile');
  t.ok(statuses.every((s) => s !== 401), 'the upstream 401 never reaches the client (it would ask for davgate’s credentials)');
  t.ok(
    answers.filter((a) => a.status !== 201).every((a) => a.status === 502 && a.headers['www-authenticate'] === undefined),
    'the refused ones are 502 without a challenge',
  );
});
