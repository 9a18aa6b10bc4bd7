/**
 * Regression (review finding 6): a write made while a 坚果云 account was cooling (503 BlockedTemporarily) was
 * journalled for it (replace-from the candidate that took the write), and the journal was never replayed once
 * the cool-down ended. Cooling never marks the upstream down, so `Upstream.onUp` never fired, and the prober
 * ran repairs only after a probe, which it skips ('skip-alive') while client traffic reaches the account. The
 * newest bytes stayed displaced and only the in-memory journal stopped the old copy being served.
 * Now every prober round replays the journal of every available upstream that owes repairs.
 */
import t from 'tap';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { forwarder } from '../helpers/forwarder.js';
import { rank } from '../../src/placement/hrw.js';
import { startProber } from '../../src/upstream/prober.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the repair journal of an account that cooled down is replayed once it is back, though it is busy', async (t) => {
  const key = '/r/file.txt';
  const other = '/r/other-' + [...Array(50).keys()].find((i) => owner(`/r/other-${i}`) === owner(key));
  const n = Number(owner(key).slice(1));
  let blockNext = false;
  let fwd: Awaited<ReturnType<typeof forwarder>> | undefined;
  t.teardown(async () => fwd?.close());
  const r = await jianguoyunRig(t, {
    upstream: { coolingMs: 500 },
    config: { health: { intervalMs: 3_600_000, failThreshold: 100 } },
    beforeStart: async (sims: JianguoyunSim[]) => {
      fwd = await forwarder(sims[n]!.origin, () => {
        if (!blockNext) return { kind: 'pass' };
        blockNext = false;
        return { kind: 'blocked' };
      });
    },
    urlOf: (s, i) => (i === n ? `${fwd!.origin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`),
  });
  const gw = r.server.gateway;
  const u = gw.upstreams[n]!;
  const put = (p: string, text: string) => r.call('PUT', p, { 'content-length': String(Buffer.byteLength(text)) }, text);
  t.equal((await r.call('MKCOL', '/r/')).status, 201);
  t.equal((await put(key, 'v1')).status, 201);
  t.equal((await put(other, 'x')).status, 201);
  blockNext = true;
  await r.call('GET', key);
  t.ok(u.cooling, 'owner cooling');
  t.equal((await put(key, 'v2')).status, 201, 'v2 lands on another account');
  t.equal(gw.repairs.pendingFor(u.id), 1, 'one repair journalled for the owner');

  const prober = startProber(gw);
  t.teardown(() => prober.stop());
  await prober.runOnce();
  t.equal(gw.repairs.pendingFor(u.id), 1, 'no replay while the owner is cooling');

  while (u.cooling) await sleep(50);
  // Client traffic reaches the owner again (healthy, not cooling): the prober will skip its probe.
  t.equal((await r.call('GET', other)).status, 200);
  t.ok(u.health.healthy && u.lastTrafficOkAt > 0, 'traffic shows the owner alive');
  const before = fwd!.seen.length;
  await prober.runOnce();
  t.equal(gw.repairs.size, 0, `the journal was replayed after the cool-down (still ${gw.repairs.size} pending)`);
  t.notOk(
    fwd!.seen.slice(before).some((s) => s.method === 'PROPFIND' && s.url.endsWith(`/dav/我的坚果云/`)),
    'the probe itself was skipped (the account was busy), the replay ran anyway',
  );
  const got = await r.call('GET', key);
  t.equal(got.text, 'v2', 'the owner serves the newest bytes');
  t.ok(
    fwd!.seen.slice(before).some((s) => s.method === 'PUT' && s.url.endsWith('/r/file.txt')),
    'the newest bytes were written back to the owner',
  );
});
