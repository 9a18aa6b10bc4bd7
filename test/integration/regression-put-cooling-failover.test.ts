/**
 * Regression (review finding 14): a PUT whose owner answers the PUT itself with 503 BlockedTemporarily. The vendor
 * stored nothing (jianguoyun.md §1), and a new file on a cooling account goes to the next candidate (README: "new
 * files go to the next account"). put.ts failed over only on 'down' or a connect error, so the client got 503 —
 * after uploading the whole (spooled) body — instead of a stored file. Now the next HRW candidate takes the file
 * when the body can be sent again (spooled, or kept in memory when ≤ 1 MiB); an overwrite that lands elsewhere is
 * journalled exactly like a PUT made while the owner is down (Gateway.afterWrite), and a body that cannot be
 * replayed still gets 503 with nothing stored anywhere.
 */
import { Readable } from 'node:stream';
import t from 'tap';
import { request } from 'undici';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX, type Rig } from '../helpers/jianguoyun-rig.js';
import { forwarder } from '../helpers/forwarder.js';
import { rank } from '../../src/placement/hrw.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const ranked = (k: string) => rank(k, IDS).map((x) => Number(x.id.slice(1)));

/** A rig whose account `n` sits behind a forwarder that answers PUTs 503 BlockedTemporarily while `block.on`. */
async function rigThrottling(t: { teardown(fn: () => unknown): void }, n: number, block: { on: boolean }): Promise<Rig> {
  let fwd: Awaited<ReturnType<typeof forwarder>> | undefined;
  t.teardown(async () => fwd?.close());
  return jianguoyunRig(t, {
    config: { health: { intervalMs: 3_600_000, failThreshold: 100 } },
    beforeStart: async (sims: JianguoyunSim[]) => {
      fwd = await forwarder(sims[n]!.origin, (s) => (block.on && s.method === 'PUT' ? { kind: 'blocked' } : { kind: 'pass' }));
    },
    urlOf: (s, i) => (i === n ? `${fwd!.origin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`),
  });
}

for (const kind of ['chunked (spooled)', 'small with Content-Length'] as const) {
  t.test(`${kind} PUT throttled by its owner goes to the next candidate`, async (t) => {
    const key = kind.startsWith('chunked') ? '/new-chunked.bin' : '/new-small.bin';
    const r = await rigThrottling(t, ranked(key)[0]!, { on: true });
    const data = Buffer.alloc(200_000, 7);
    const res = await request(r.url(key), {
      method: 'PUT',
      ...(kind.startsWith('chunked')
        ? { body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]) }
        : { body: data, headers: { 'content-length': String(data.length) } }),
    });
    await res.body.dump();
    t.equal(res.statusCode, 201, 'stored on the next candidate');
    const g = await r.call('GET', key);
    t.equal(g.status, 200);
    t.equal(g.text.length, data.length, 'the whole body');
    t.equal(r.sims[ranked(key)[1]!]!.counters.byMethod['PUT'], 1, 'on the second HRW candidate');
  });
}

t.test('an overwrite throttled by the owner lands on the next candidate and is journalled', async (t) => {
  const key = '/existing.txt';
  const [owner, next] = ranked(key) as [number, number];
  const block = { on: false };
  const r = await rigThrottling(t, owner, block);
  t.equal((await r.call('PUT', key, { 'content-length': '3' }, 'old')).status, 201, 'first written on the owner');
  block.on = true;
  const res = await r.call('PUT', key, { 'content-length': '3' }, 'new');
  t.equal(res.status, 201, 'the new bytes are stored on the next candidate');
  const gw = r.server.gateway;
  t.same(gw.repairs.get(key, `j${owner}`), { action: 'replace-from', source: `j${next}` }, 'the owner owes the new copy (afterWrite)');
  t.equal((await r.call('GET', key)).text, 'new', 'a read gets the new bytes, not the owner’s stale copy');
});

t.test('a body too large to replay is not sent elsewhere', async (t) => {
  const key = '/big.bin';
  const order = ranked(key);
  const r = await rigThrottling(t, order[0]!, { on: true });
  const data = Buffer.alloc(2 * 1024 * 1024, 1); // past the 1 MiB in-memory replay limit, and not spooled
  const res = await request(r.url(key), { method: 'PUT', body: data, headers: { 'content-length': String(data.length) } });
  await res.body.dump();
  t.equal(res.statusCode, 503, 'the throttle is answered');
  t.ok(res.headers['retry-after'], 'with Retry-After');
  for (const i of order.slice(1)) t.equal(r.sims[i]!.counters.byMethod['PUT'] ?? 0, 0, `no PUT reached j${i}`);
});
