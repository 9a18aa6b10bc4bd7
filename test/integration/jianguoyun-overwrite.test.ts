/**
 * MOVE/COPY with `Overwrite: T` (or none) onto an existing file, through davgate over simulated 坚果云 accounts.
 * The vendor ignores Overwrite and answers 409 DuplicateName whenever the destination exists (jianguoyun.md
 * statement 9); clients expect RFC 4918 §9.8.4/§9.9.3: the destination is replaced (204). On such an account
 * davgate replaces a file with GET + PUT (PUT overwrites in place there) and deletes a MOVE's source last, so
 * the destination is never missing and a failed operation loses nothing.
 *
 * The failure cases put a small fault-injecting HTTP forwarder (a real server on a real socket) between davgate
 * and one account: it refuses the PUT that carries the new bytes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { request } from 'undici';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { rank } from '../../src/placement/hrw.js';

/** The prefix an earlier design used for set-aside files; no such file may ever show up. */
const ASIDE_PREFIX = '.davgate-replaced-';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;

/** Forwards to `target` unless `fail(req)` says to answer 500 instead. */
async function faultyForwarder(target: string, fail: (method: string, url: string, destination: string | undefined) => boolean, failStatus = 500, failBody = '') {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fail(req.method ?? '', decodeURIComponent(req.url ?? ''), req.headers['destination'] as string | undefined)) {
        res.writeHead(failStatus, { 'content-type': 'text/xml; charset=UTF-8', 'content-length': String(Buffer.byteLength(failBody)) }).end(failBody);
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      void request(new URL(req.url ?? '/', target), { method: req.method as 'GET', headers, body: chunks.length ? Buffer.concat(chunks) : null })
        .then(async (r) => {
          res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders);
          res.end(Buffer.from(await r.body.arrayBuffer()));
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

async function rig(t: { teardown(fn: () => unknown): void }, failOn?: { upstream: number; fail: (method: string, url: string, destination: string | undefined) => boolean; failStatus?: number; failBody?: string }) {
  const forwarders: Awaited<ReturnType<typeof faultyForwarder>>[] = [];
  t.teardown(async () => {
    for (const f of forwarders) await f.close();
  });
  let forwarderOrigin = '';
  const r = await jianguoyunRig(t, {
    upstream: { coolingMs: 200 },
    config: { health: { intervalMs: 3_600_000, failThreshold: 100 } },
    sim: { budget: 100_000 },
    ...(failOn ? { urlOf: (s: JianguoyunSim, i: number) => (i === failOn.upstream ? `${forwarderOrigin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`) } : {}),
    ...(failOn ? { beforeStart: async (sims: JianguoyunSim[]) => {
      const f = await faultyForwarder(sims[failOn.upstream]!.origin, failOn.fail, failOn.failStatus, failOn.failBody);
      forwarders.push(f);
      forwarderOrigin = f.origin;
    } } : {}),
  });
  const dest = (p: string) => ({ destination: r.url(p) });
  const put = (p: string, text: string) => r.call('PUT', p, { 'content-length': String(Buffer.byteLength(text)) }, text);
  const listing = async (p: string) => (await r.call('PROPFIND', p, { depth: '1' })).text;
  return { sims: r.sims, call: r.call, dest, put, listing };
}

/** Two names in `/o/` owned by the same account, and that account's index. */
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

t.test('MOVE with Overwrite: T onto an existing file on the same account replaces it (204)', async (t) => {
  const { sims, call, dest, put, listing } = await rig(t);
  t.equal((await call('MKCOL', '/o/')).status, 201);
  const [a, b, n] = sameOwnerPair('m');
  await put(a, 'new bytes');
  await put(b, 'old bytes');
  const moves = sims[n]!.counters.byMethod['MOVE'] ?? 0;
  const r = await call('MOVE', a, { ...dest(b), overwrite: 'T' });
  t.equal(r.status, 204, 'replaced: 204 No Content');
  t.equal((await call('GET', b)).text, 'new bytes', 'the destination holds the source bytes');
  t.equal((await call('GET', a)).status, 404, 'the source is gone');
  t.notMatch(await listing('/o/'), ASIDE_PREFIX, 'no set-aside file is left behind');
  t.equal((sims[n]!.counters.byMethod['MOVE'] ?? 0) - moves, 0, 'no MOVE reached the account: it would answer 409 DuplicateName');
});

t.test('COPY without an Overwrite header onto an existing file replaces it; Overwrite: F is 412', async (t) => {
  const { call, dest, put, listing } = await rig(t);
  t.equal((await call('MKCOL', '/o/')).status, 201);
  const [a, b] = sameOwnerPair('c');
  await put(a, 'source');
  await put(b, 'target');
  const f = await call('COPY', a, { ...dest(b), overwrite: 'F' });
  t.equal(f.status, 412, 'Overwrite: F on an existing destination is 412 (RFC 4918 §10.6)');
  t.equal((await call('GET', b)).text, 'target', 'and changes nothing');
  const r = await call('COPY', a, dest(b));
  t.equal(r.status, 204);
  t.equal((await call('GET', b)).text, 'source');
  t.equal((await call('GET', a)).text, 'source', 'the source stays');
  t.notMatch(await listing('/o/'), ASIDE_PREFIX);
});

for (const [what, status, body] of [
  ['fails (500)', 500, ''],
  ['is throttled (503 BlockedTemporarily)', 503, '<?xml version="1.0" encoding="utf-8"?><d:error xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com"><s:exception>BlockedTemporarily</s:exception><s:message>Too many requests are received recently</s:message></d:error>'],
] as const) {
  t.test(`regression: a replacing MOVE whose upload ${what} leaves both files as they were`, async (t) => {
    const [a, b, n] = sameOwnerPair('f');
    let failing = false;
    const { call, dest, put, listing } = await rig(t, {
      upstream: n,
      fail: (method) => failing && method === 'PUT',
      failStatus: status,
      failBody: body,
    });
    t.equal((await call('MKCOL', '/o/')).status, 201);
    await put(a, 'new bytes');
    await put(b, 'old bytes');
    failing = true;
    const r = await call('MOVE', a, { ...dest(b), overwrite: 'T' });
    failing = false;
    t.ok(r.status >= 500, `the failed MOVE is an error (${r.status})`);
    if (status === 503) t.ok(Number(r.headers['retry-after']) >= 1, 'with Retry-After');
    // A throttled account rests (coolingMs 200 here); read once it serves again.
    let got = await call('GET', b);
    for (let i = 0; i < 200 && got.status === 503; i++) {
      await new Promise((res) => setTimeout(res, 20));
      got = await call('GET', b);
    }
    t.equal(got.text, 'old bytes', 'the destination still holds its old bytes');
    t.equal((await call('GET', a)).text, 'new bytes', 'the source is untouched');
    t.notMatch(await listing('/o/'), ASIDE_PREFIX);
  });
}

t.test('a MOVE onto an existing file on another account replaces it too', async (t) => {
  const { sims, call, dest, put, listing } = await rig(t);
  t.equal((await call('MKCOL', '/o/')).status, 201);
  let a = '';
  let b = '';
  for (let i = 0; i < 60 && !b; i++) {
    if (!a) a = `/o/x${i}.txt`;
    else if (owner(`/o/x${i}.txt`) !== owner(a)) b = `/o/x${i}.txt`;
  }
  await put(a, 'from elsewhere');
  await put(b, 'old');
  const propfinds = sims.map((s) => s.counters.byMethod['PROPFIND'] ?? 0);
  t.equal((await call('MOVE', a, dest(b))).status, 204);
  // The accounts store no dead properties, so davgate neither reads them (allprop PROPFIND) nor writes them
  // (PROPPATCH): only the existence checks remain, one PROPFIND per account plus the source's.
  const spent = sims.reduce((n, s, i) => n + (s.counters.byMethod['PROPFIND'] ?? 0) - propfinds[i]!, 0);
  t.ok(spent <= 4, `no allprop PROPFIND of the source (${spent} PROPFINDs)`);
  t.same(sims.map((s) => s.counters.byMethod['PROPPATCH'] ?? 0), [0, 0, 0], 'no PROPPATCH');
  t.equal((await call('GET', b)).text, 'from elsewhere');
  t.equal((await call('GET', a)).status, 404);
  t.notMatch(await listing('/o/'), ASIDE_PREFIX);
});
