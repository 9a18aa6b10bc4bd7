/**
 * Regression (break-test finding 5): a collection MOVE/COPY while a member has a stale copy on its owner (overwritten while the owner was
 * cooling; the newer bytes sit on the next candidate, and — finding 5 — nothing replays the journal once the
 * cool-down is over). Each account moves/copies its own part of the folder, so the new path ends up with BOTH
 * copies; MOVE then drops the journal entries below the source (repairs.takeBelow) and COPY never had any for
 * the new path. A read of the new path asks candidates in HRW order and may get the old version.
 */
import t from 'tap';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { forwarder } from '../helpers/forwarder.js';
import { rank } from '../../src/placement/hrw.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const ranked = (k: string) => rank(k, IDS).map((x) => Number(x.id.slice(1)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A member name whose owner at /d is `o`, whose failover is `c`, and where at /e (and /f) `o` ranks before `c`. */
function pick(): { name: string; o: number; c: number } {
  for (let i = 0; i < 500; i++) {
    const name = `m${i}.txt`;
    const [o, c] = ranked(`/d/${name}`) as [number, number];
    const e = ranked(`/e/${name}`);
    const f = ranked(`/f/${name}`);
    if (e.indexOf(o) < e.indexOf(c) && f.indexOf(o) < f.indexOf(c)) return { name, o, c };
  }
  throw new Error('none');
}

t.test('collection MOVE and COPY carry the stale copy along with the fresh one', async (t) => {
  const { name, o } = pick();
  let blockNext = false;
  let fwd: Awaited<ReturnType<typeof forwarder>> | undefined;
  t.teardown(async () => fwd?.close());
  const r = await jianguoyunRig(t, {
    upstream: { coolingMs: 500 },
    config: { health: { intervalMs: 3_600_000, failThreshold: 100 } },
    beforeStart: async (sims: JianguoyunSim[]) => {
      fwd = await forwarder(sims[o]!.origin, () => {
        if (!blockNext) return { kind: 'pass' };
        blockNext = false;
        return { kind: 'blocked' };
      });
    },
    urlOf: (s, i) => (i === o ? `${fwd!.origin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`),
  });
  const put = (p: string, text: string) => r.call('PUT', p, { 'content-length': String(Buffer.byteLength(text)) }, text);
  t.equal((await r.call('MKCOL', '/d/')).status, 201);
  t.equal((await put(`/d/${name}`, 'version 1')).status, 201);
  blockNext = true;
  await r.call('GET', `/d/${name}`);
  t.ok(r.server.gateway.upstreams[o]!.cooling, 'owner cooling');
  t.equal((await put(`/d/${name}`, 'version 2')).status, 201, 'version 2 lands on the next candidate');
  await sleep(700);
  t.equal((await r.call('GET', `/d/${name}`)).text, 'version 2', 'before: version 2 is served');

  t.equal((await r.call('COPY', '/d/', { destination: r.url('/f/') })).status, 201, 'collection COPY');
  const copied = await r.call('GET', `/f/${name}`);
  t.equal(copied.text, 'version 2', `the copy serves version 2 (got ${JSON.stringify(copied.text)})`);

  t.equal((await r.call('MOVE', '/d/', { destination: r.url('/e/') })).status, 201, 'collection MOVE');
  const moved = await r.call('GET', `/e/${name}`);
  t.equal(moved.text, 'version 2', `the moved file serves version 2 (got ${JSON.stringify(moved.text)})`);
});
