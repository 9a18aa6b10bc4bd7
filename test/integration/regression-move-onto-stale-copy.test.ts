/**
 * Regression (break-test finding 4): MOVE (Overwrite: T) onto a file whose owner account holds an OLDER copy that the repair journal marks
 * stale (the file was overwritten while the owner was cooling, so the new bytes sit on the next candidate).
 * copymove.ts: statAll reports the owner's stale copy as 'absent', so the newer displaced copy is deleted,
 * no set-aside is done on the owner, and the account answers the native MOVE with 409 DuplicateName (it never
 * overwrites). The client gets 409, and the newest bytes of the destination are gone: what remains is the old
 * copy on the owner, which comes back once the journal entry is dropped.
 */
import t from 'tap';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { forwarder } from '../helpers/forwarder.js';
import { rank } from '../../src/placement/hrw.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sameOwnerPair(prefix: string): [string, string, number] {
  const byOwner = new Map<string, string[]>();
  for (let i = 0; i < 60; i++) {
    const k = `/o/${prefix}${i}.txt`;
    const list = byOwner.get(owner(k)) ?? [];
    list.push(k);
    byOwner.set(owner(k), list);
    if (list.length === 2) return [list[0]!, list[1]!, Number(owner(k).slice(1))];
  }
  throw new Error('no pair');
}

t.test('MOVE onto a file whose owner holds a stale copy', async (t) => {
  const [a, b, n] = sameOwnerPair('z');
  let blockNext = false;
  let fwd: Awaited<ReturnType<typeof forwarder>> | undefined;
  t.teardown(async () => fwd?.close());
  const r = await jianguoyunRig(t, {
    upstream: { coolingMs: 800 },
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
  const put = (p: string, text: string) => r.call('PUT', p, { 'content-length': String(Buffer.byteLength(text)) }, text);
  t.equal((await r.call('MKCOL', '/o/')).status, 201);
  t.equal((await put(a, 'A')).status, 201);
  t.equal((await put(b, 'B version 1')).status, 201);
  // The owner gets throttled once and cools down for 800 ms.
  blockNext = true;
  await r.call('GET', b);
  t.ok(r.server.gateway.upstreams[n]!.cooling, 'the owner is cooling');
  t.equal((await put(b, 'B version 2')).status, 201, 'meanwhile B is overwritten (it lands on the next candidate)');
  await sleep(1000);
  t.notOk(r.server.gateway.upstreams[n]!.cooling, 'the owner is back');
  t.equal((await r.call('GET', b)).text, 'B version 2', 'GET serves the newest B');

  const mv = await r.call('MOVE', a, { destination: r.url(b), overwrite: 'T' });
  t.comment(`MOVE answered ${mv.status}`);
  t.ok(mv.status === 204 || mv.status === 201, 'MOVE with Overwrite: T replaces the destination (RFC 4918 §9.9.3)');
  const after = await r.call('GET', b);
  t.comment(`GET b after the MOVE: ${after.status} ${JSON.stringify(after.text)}`);
  if (mv.status >= 400) {
    t.equal(after.text, 'B version 2', 'a refused MOVE leaves the destination as it was');
  } else {
    t.equal(after.text, 'A', 'the destination holds the source');
  }
  // Let the journal be replayed (a probe round), then read again.
  await r.server.gateway.runRepairs(r.server.gateway.upstreams[n]!);
  const later = await r.call('GET', b);
  t.comment(`GET b after the repair round: ${later.status} ${JSON.stringify(later.text)}`);
  t.not(later.text, 'B version 1', 'the overwritten version 1 never comes back');
});
