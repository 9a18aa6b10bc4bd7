/**
 * MOVE/COPY with `Overwrite: T` (or none) onto an existing file, through davgate over simulated 坚果云 accounts.
 * The vendor ignores Overwrite and answers 409 DuplicateName whenever the destination exists (jianguoyun.md
 * statement 9); clients expect RFC 4918 §9.8.4/§9.9.3: the destination is replaced (204). davgate sets the old
 * file aside and deletes it only after success, so a failed operation loses nothing.
 *
 * The failure case puts a small fault-injecting HTTP forwarder (a real server on a real socket) between davgate
 * and one account: it answers 500 to the COPY/MOVE itself while passing the set-aside renames through.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { request } from 'undici';
import type { JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';
import { rank } from '../../src/placement/hrw.js';
import { asideKey, ASIDE_PREFIX, needsSetAside } from '../../src/methods/replace.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;

/** Forwards to `target` unless `fail(req)` says to answer 500 instead. */
async function faultyForwarder(target: string, fail: (method: string, url: string, destination: string | undefined) => boolean) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fail(req.method ?? '', decodeURIComponent(req.url ?? ''), req.headers['destination'] as string | undefined)) {
        res.writeHead(500, { 'content-length': '0' }).end();
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

async function rig(t: { teardown(fn: () => unknown): void }, failOn?: { upstream: number; fail: (method: string, url: string, destination: string | undefined) => boolean }) {
  const forwarders: Awaited<ReturnType<typeof faultyForwarder>>[] = [];
  t.teardown(async () => {
    for (const f of forwarders) await f.close();
  });
  let forwarderOrigin = '';
  const r = await jianguoyunRig(t, {
    config: { health: { intervalMs: 3_600_000, failThreshold: 100 } },
    sim: { budget: 100_000 },
    ...(failOn ? { urlOf: (s: JianguoyunSim, i: number) => (i === failOn.upstream ? `${forwarderOrigin}/dav/${SANDBOX}/` : `${s.url}${SANDBOX}/`) } : {}),
    ...(failOn ? { beforeStart: async (sims: JianguoyunSim[]) => {
      const f = await faultyForwarder(sims[failOn.upstream]!.origin, failOn.fail);
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

t.test('pure parts', async (t) => {
  t.ok(needsSetAside('jianguoyun'));
  t.notOk(needsSetAside('generic'));
  t.equal(asideKey('/a/b.txt', () => 'cafe'), `/a/${ASIDE_PREFIX}cafe-b.txt`);
  t.equal(asideKey('/b.txt', () => 'cafe'), `/${ASIDE_PREFIX}cafe-b.txt`);
});

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
  t.ok((sims[n]!.counters.byMethod['MOVE'] ?? 0) - moves >= 2, 'the account did the set-aside rename and the move');
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

t.test('a MOVE that fails after the destination was set aside puts it back', async (t) => {
  const [a, b, n] = sameOwnerPair('f');
  let failing = false;
  const { call, dest, put, listing } = await rig(t, {
    upstream: n,
    // Fail the client's MOVE itself (neither its URL nor its Destination is a set-aside name), not the renames.
    fail: (method, url, destination) => failing && method === 'MOVE' && !url.includes(ASIDE_PREFIX) && !(destination ?? '').includes(ASIDE_PREFIX),
  });
  t.equal((await call('MKCOL', '/o/')).status, 201);
  await put(a, 'new bytes');
  await put(b, 'old bytes');
  failing = true;
  const r = await call('MOVE', a, { ...dest(b), overwrite: 'T' });
  failing = false;
  t.ok(r.status >= 500, `the failed MOVE is an error (${r.status})`);
  t.equal((await call('GET', b)).text, 'old bytes', 'the destination still holds its old bytes');
  t.equal((await call('GET', a)).text, 'new bytes', 'the source is untouched');
  t.notMatch(await listing('/o/'), ASIDE_PREFIX, 'the set-aside file was renamed back');
});

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
