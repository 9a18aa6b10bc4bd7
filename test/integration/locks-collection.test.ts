/**
 * A depth-infinity lock on a collection whose members live on three upstreams (issue 3): davgate holds the
 * lock itself, so every member is protected whichever upstream stores it, and the upstreams never see LOCK,
 * UNLOCK, an `If` header or a lock token. Also: refresh, UNLOCK through a member, LOCK on unmapped URLs
 * (RFC 4918 §7.3, §9.10.4), shared locks, and the lock metrics.
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import t from 'tap';
import { DAV_NS, parseXml, textOf, type XmlElement } from '../../src/dav/xml.js';
import { gatewayRequest, placementOrder, startHarness, whereIs, whereIsDir, type DavResponse, type Harness } from '../helpers/harness.js';

const UPSTREAMS = ['a', 'b', 'c'] as const;
const LOCKINFO = (scope: 'exclusive' | 'shared', owner = 'http://example.org/~tester') =>
  '<?xml version="1.0" encoding="utf-8"?>' +
  `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype>` +
  `<D:owner><D:href>${owner}</D:href></D:owner></D:lockinfo>`;

/** What an upstream received that could carry lock state. */
interface Seen {
  upstream: string;
  method: string;
  url: string;
  if: string | undefined;
  lockToken: string | undefined;
}

let h: Harness;
const seen: Seen[] = [];
let requestsSeen = 0;

t.before(async () => {
  h = await startHarness();
  // Observe every request an upstream gets, before webdav-server handles it (a second 'request' listener).
  for (const u of h.upstreams) {
    u.httpServer.prependListener('request', (req: IncomingMessage) => {
      requestsSeen++;
      const ifh = req.headers['if'];
      const lt = req.headers['lock-token'];
      const method = req.method ?? '';
      if (method === 'LOCK' || method === 'UNLOCK' || ifh !== undefined || lt !== undefined) {
        seen.push({ upstream: u.id, method, url: req.url ?? '', if: ifh as string | undefined, lockToken: lt as string | undefined });
      }
    });
  }
});
t.teardown(async () => {
  await h?.stop();
});

/** Percent-encoded path of a key made of safe characters. */
const req = (p: string, method: string, opts: Parameters<typeof gatewayRequest>[3] = {}): Promise<DavResponse> =>
  gatewayRequest(h, p, method, opts);

function onDisk(upstreamId: string, key: string): string {
  const u = h.upstreams.find((x) => x.id === upstreamId)!;
  return path.join(u.dataDir, ...key.split('/').filter((s) => s !== ''));
}

function readOn(upstreamId: string, key: string): string | undefined {
  try {
    return readFileSync(onDisk(upstreamId, key), 'utf8');
  } catch {
    return undefined;
  }
}

/** Names `/<dir>/<prefix>N.txt` whose owner is `upstream`, `n` of them. */
function namesOwnedBy(dir: string, prefix: string, upstream: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n && i < 10_000; i++) {
    const key = `${dir}${prefix}${i}.txt`;
    if (placementOrder(h, key)[0] === upstream) out.push(key);
  }
  return out;
}

/** Value of a metric line `name{labels} value` (0 when absent). */
async function metric(name: string, labels = ''): Promise<number> {
  const r = await req('/metrics', 'GET');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  const line = r.body.split('\n').find((l) => l.startsWith(labels === '' ? `${name} ` : `${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const conflicts = (reason: 'conflict' | 'token_missing') => metric('davgate_lock_conflicts_total', `reason="${reason}"`);

function descendants(el: XmlElement, local: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (typeof c === 'string') continue;
    if (c.ns === DAV_NS && c.local === local) out.push(c);
    descendants(c, local, out);
  }
  return out;
}

/** Lock tokens (hrefs inside DAV:locktoken) anywhere in `el`. */
function tokensIn(el: XmlElement): string[] {
  return descendants(el, 'locktoken').flatMap((lt) => descendants(lt, 'href').map((x) => textOf(x).trim()));
}

function tokenOf(r: DavResponse): string {
  const m = /^<(urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})>$/.exec(String(r.headers['lock-token']));
  if (!m) throw new Error(`no urn:uuid Lock-Token in ${JSON.stringify(r.headers['lock-token'])} (${r.status} ${r.body})`);
  return m[1]!;
}

/** The tagged form of an `If` header for a gateway path. */
const tagged = (p: string, token: string) => `<${new URL(p.replace(/^\//, ''), h.url).toString()}> (<${token}>)`;
const untagged = (token: string) => `(<${token}>)`;

const PROPPATCH = (v: string) =>
  '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:davgate-test">' +
  `<D:set><D:prop><Z:note>${v}</Z:note></D:prop></D:set></D:propertyupdate>`;

t.test('a depth-infinity lock on a collection covers members on every upstream', async (t) => {
  t.equal((await req('/lc/', 'MKCOL')).status, 201, 'MKCOL /lc/');
  // Per upstream: [0] PUT/PROPPATCH target, [1] DELETE target, [2] MOVE target.
  const members: Record<string, string[]> = {};
  for (const u of UPSTREAMS) members[u] = namesOwnedBy('/lc/', `m-${u}-`, u, 3);
  const all = UPSTREAMS.flatMap((u) => members[u]!);
  t.equal(all.length, 9, '9 members');
  for (const k of all) t.equal((await req(k, 'PUT', { body: `v1 ${k}` })).status, 201, `PUT ${k}`);
  const holders = new Set(all.flatMap((k) => whereIs(h, k)));
  t.same([...holders].sort(), ['a', 'b', 'c'], 'members are on 3 upstreams');
  for (const u of UPSTREAMS) for (const k of members[u]!) t.same(whereIs(h, k), [u], `${k} is on ${u}`);

  const activeBefore = await metric('davgate_locks_active');
  const missingBefore = await conflicts('token_missing');
  const conflictBefore = await conflicts('conflict');

  // LOCK /lc/ Depth infinity exclusive.
  const lock = await req('/lc/', 'LOCK', {
    headers: { depth: 'infinity', 'content-type': 'application/xml', timeout: 'Second-600' },
    body: LOCKINFO('exclusive'),
  });
  t.equal(lock.status, 200, 'LOCK /lc/ → 200');
  const token = tokenOf(lock);
  const lockBody = parseXml(lock.body);
  const active = descendants(lockBody, 'activelock');
  t.equal(active.length, 1, 'one activelock');
  t.same(descendants(active[0]!, 'lockroot').flatMap((r) => descendants(r, 'href').map((x) => textOf(x).trim())), ['/lc/'], 'lockroot /lc/');
  t.same(tokensIn(lockBody), [token], 'body token = header token');
  t.equal(descendants(active[0]!, 'exclusive').length, 1, 'exclusive');
  t.equal(textOf(descendants(active[0]!, 'depth')[0]!).trim().toLowerCase(), 'infinity', 'depth infinity');
  t.match(lock.body, /http:\/\/example\.org\/~tester/, 'owner href kept');
  t.equal(await metric('davgate_locks_active'), activeBefore + 1, 'locks_active +1');

  // Without the token: every write is 423 lock-token-submitted naming /lc/.
  const expect423 = (r: DavResponse, what: string) => {
    t.equal(r.status, 423, `${what} → 423`);
    t.match(r.body, /lock-token-submitted/, `${what}: lock-token-submitted`);
    t.match(r.body, /<D:href>\/lc\/<\/D:href>/, `${what}: names /lc/`);
  };
  let refused = 0;
  for (const u of UPSTREAMS) {
    const [f1, f2, f3] = members[u] as [string, string, string];
    expect423(await req(f1, 'PUT', { body: 'nope' }), `PUT ${f1} (${u})`);
    t.equal(readOn(u, f1), `v1 ${f1}`, `${f1} unchanged on ${u}`);
    expect423(await req(f2, 'DELETE'), `DELETE ${f2} (${u})`);
    t.same(whereIs(h, f2), [u], `${f2} still on ${u}`);
    expect423(await req(f3, 'MOVE', { headers: { destination: new URL(`out-${u}.txt`, h.url).toString() } }), `MOVE ${f3} out (${u})`);
    t.same(whereIs(h, f3), [u], `${f3} not moved`);
    const fresh = namesOwnedBy('/lc/', `new-${u}-`, u, 1)[0]!;
    expect423(await req(fresh, 'PUT', { body: 'new' }), `PUT new ${fresh} (${u})`);
    t.same(whereIs(h, fresh), [], `${fresh} not created`);
    expect423(await req(f1, 'PROPPATCH', { body: PROPPATCH('x'), headers: { 'content-type': 'application/xml' } }), `PROPPATCH ${f1} (${u})`);
    refused += 5;
  }
  expect423(await req('/lc/sub/', 'MKCOL'), 'MKCOL /lc/sub/');
  refused++;
  t.same(whereIsDir(h, '/lc/sub'), [], '/lc/sub not created');
  t.equal(await conflicts('token_missing'), missingBefore + refused, `lock_conflicts_total{token_missing} +${refused}`);

  // With the token, untagged and tagged: every write succeeds.
  for (const u of UPSTREAMS) {
    const [f1, f2, f3] = members[u] as [string, string, string];
    for (const [form, ifOf] of [
      ['untagged', (_p: string) => untagged(token)],
      ['tagged', (p: string) => tagged(p, token)],
    ] as const) {
      const put = await req(f1, 'PUT', { body: `v2 ${form}`, headers: { if: ifOf(f1) } });
      t.ok([200, 204].includes(put.status), `PUT ${f1} ${form} → ${put.status}`);
      t.equal(readOn(u, f1), `v2 ${form}`, `${f1} written on ${u} (${form})`);
      const pp = await req(f1, 'PROPPATCH', { body: PROPPATCH(form), headers: { if: ifOf(f1), 'content-type': 'application/xml' } });
      t.equal(pp.status, 207, `PROPPATCH ${f1} ${form}`);
      t.match(pp.body, /200 OK/, `PROPPATCH ${f1} ${form}: prop set`);
      const fresh = namesOwnedBy('/lc/', `new-${form}-${u}-`, u, 1)[0]!;
      t.equal((await req(fresh, 'PUT', { body: 'new', headers: { if: ifOf(fresh) } })).status, 201, `PUT new ${fresh} ${form}`);
      t.same(whereIs(h, fresh), [u], `${fresh} created on ${u}`);
      const del = await req(f2, 'DELETE', { headers: { if: ifOf(f2) } });
      t.equal(del.status, 204, `DELETE ${f2} ${form}`);
      t.same(whereIs(h, f2), [], `${f2} deleted`);
      // Put it back for the other form (PUT into the locked collection, with the token).
      t.equal((await req(f2, 'PUT', { body: 'back', headers: { if: ifOf(f2) } })).status, 201, `PUT ${f2} back ${form}`);
      const out = `/out-${u}-${form}.txt`;
      const mv = await req(f3, 'MOVE', { headers: { destination: new URL(out.slice(1), h.url).toString(), if: ifOf(f3) } });
      t.equal(mv.status, 201, `MOVE ${f3} out ${form}`);
      t.equal(whereIs(h, f3).length, 0, `${f3} gone from /lc/`);
      t.equal(whereIs(h, out).length, 1, `${out} exists`);
      // And back in: the destination is in the locked collection, so its token is needed (tagged with it).
      const back = await req(out, 'MOVE', { headers: { destination: new URL(f3.slice(1), h.url).toString(), if: tagged(f3, token) } });
      t.equal(back.status, 201, `MOVE ${out} back into /lc/`);
    }
  }
  // A tagged list naming another resource in the lock's scope (the root) also submits the token (§10.4.1).
  const viaRoot = await req(members['a']![0]!, 'PUT', { body: 'via root tag', headers: { if: tagged('/lc/', token) } });
  t.ok([200, 204].includes(viaRoot.status), `PUT with If tagged <…/lc/> → ${viaRoot.status}`);
  t.equal(readOn('a', members['a']![0]!), 'via root tag', 'written');
  const mk = await req('/lc/sub/', 'MKCOL', { headers: { if: untagged(token) } });
  t.equal(mk.status, 201, 'MKCOL /lc/sub/ with token');
  t.same(whereIsDir(h, '/lc/sub').length > 0, true, '/lc/sub exists');

  // A second lock anywhere inside conflicts.
  const f = members['b']![0]!;
  for (const scope of ['exclusive', 'shared'] as const) {
    const r = await req(f, 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO(scope) });
    t.equal(r.status, 423, `second ${scope} LOCK on ${f} → 423`);
    t.match(r.body, /no-conflicting-lock/, `${scope}: no-conflicting-lock`);
    t.equal(r.headers['lock-token'], undefined, `${scope}: no Lock-Token`);
  }
  t.equal(await conflicts('conflict'), conflictBefore + 2, 'lock_conflicts_total{conflict} +2');
  t.equal(await metric('davgate_locks_active'), activeBefore + 1, 'still one lock');

  // PROPFIND Depth 1: every response shows the lock and supportedlock.
  const pf = await req('/lc/', 'PROPFIND', {
    headers: { depth: '1', 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/><D:supportedlock/><D:resourcetype/></D:prop></D:propfind>',
  });
  t.equal(pf.status, 207, 'PROPFIND Depth 1');
  const responses = descendants(parseXml(pf.body), 'response');
  const hrefs = responses.map((r) => textOf(descendants(r, 'href')[0]!).trim());
  for (const k of all) t.ok(hrefs.includes(k), `PROPFIND lists ${k}`);
  t.ok(hrefs.includes('/lc/'), 'PROPFIND lists /lc/');
  for (const r of responses) {
    const href = textOf(descendants(r, 'href')[0]!).trim();
    t.same(tokensIn(r), [token], `${href}: lockdiscovery has the token`);
    t.equal(descendants(r, 'supportedlock').length, 1, `${href}: supportedlock`);
    t.equal(descendants(r, 'lockentry').length, 2, `${href}: two lockentries`);
  }

  // Refresh.
  const bad = await req('/lc/', 'LOCK', { headers: { if: '(<urn:uuid:00000000-0000-4000-8000-000000000000>)', timeout: 'Second-100' } });
  t.equal(bad.status, 412, 'refresh with an unknown token → 412');
  const refresh = await req(members['c']![0]!, 'LOCK', { headers: { if: untagged(token), timeout: 'Second-100' } });
  t.equal(refresh.status, 200, 'refresh (through a member URL) → 200');
  const refreshed = parseXml(refresh.body);
  t.same(tokensIn(refreshed), [token], 'refresh names the same token');
  const tmo = /^Second-(\d+)$/.exec(textOf(descendants(refreshed, 'timeout')[0]!).trim());
  t.ok(tmo && Number(tmo[1]) > 0 && Number(tmo[1]) <= 100, `refreshed timeout ≤ Second-100 (${tmo?.[0]})`);

  // UNLOCK: wrong token → 409; through a member URL with the right token → 204.
  const wrong = await req('/lc/', 'UNLOCK', { headers: { 'lock-token': '<urn:uuid:00000000-0000-4000-8000-000000000000>' } });
  t.equal(wrong.status, 409, 'UNLOCK wrong token → 409');
  t.match(wrong.body, /lock-token-matches-request-uri/, 'lock-token-matches-request-uri');
  const outside = await req('/out-a-untagged.txt', 'UNLOCK', { headers: { 'lock-token': `<${token}>` } });
  t.equal(outside.status, 409, 'UNLOCK from a URL outside the lock → 409');
  const ul = await req(members['a']![0]!, 'UNLOCK', { headers: { 'lock-token': `<${token}>` } });
  t.equal(ul.status, 204, 'UNLOCK through a member → 204');
  t.equal(await metric('davgate_locks_active'), activeBefore, 'locks_active back');
  for (const u of UPSTREAMS) {
    const k = members[u]![0]!;
    const r = await req(k, 'PUT', { body: `v3 ${u}` });
    t.ok([200, 204].includes(r.status), `PUT ${k} after UNLOCK, no token → ${r.status}`);
    t.equal(readOn(u, k), `v3 ${u}`, `${k} written on ${u}`);
  }
  t.equal((await req(members['a']![1]!, 'DELETE')).status, 204, 'DELETE after UNLOCK');
});

t.test('LOCK on unmapped URLs', async (t) => {
  t.equal((await req('/lc2/', 'MKCOL')).status, 201, 'MKCOL /lc2/');
  const activeBefore = await metric('davgate_locks_active');
  const r = await req('/lc2/new.txt', 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('exclusive') });
  t.equal(r.status, 201, 'LOCK unmapped → 201');
  const token = tokenOf(r);
  const owner = placementOrder(h, '/lc2/new.txt')[0]!;
  t.same(whereIs(h, '/lc2/new.txt'), [owner], `empty file on its owner ${owner}`);
  t.equal(statSync(onDisk(owner, '/lc2/new.txt')).size, 0, 'empty');
  t.equal((await req('/lc2/new.txt', 'PUT', { body: 'x' })).status, 423, 'locked-empty resource refuses writes without token');
  t.equal((await req('/lc2/new.txt', 'PUT', { body: 'x', headers: { if: untagged(token) } })).status, 200, 'write with token (webdav-server answers 200 to an overwrite)');
  t.equal(await metric('davgate_locks_active'), activeBefore + 1, 'locks_active +1');

  const missing = await req('/nowhere/new.txt', 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('exclusive') });
  t.equal(missing.status, 409, 'LOCK with a missing parent → 409');
  t.same(whereIs(h, '/nowhere/new.txt'), [], 'nothing created');
  t.equal(await metric('davgate_locks_active'), activeBefore + 1, 'the failed LOCK holds no lock');

  t.equal((await req('/lc2/new.txt', 'UNLOCK', { headers: { 'lock-token': `<${token}>` } })).status, 204, 'UNLOCK');
  t.equal(await metric('davgate_locks_active'), activeBefore, 'locks_active back');
});

t.test('two shared locks on one file', async (t) => {
  const k = namesOwnedBy('/', 'shared-', 'c', 1)[0]!;
  t.equal((await req(k, 'PUT', { body: 's0' })).status, 201, `PUT ${k}`);
  const activeBefore = await metric('davgate_locks_active');
  const l1 = await req(k, 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('shared', 'http://example.org/one') });
  const l2 = await req(k, 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('shared', 'http://example.org/two') });
  t.equal(l1.status, 200, 'first shared LOCK');
  t.equal(l2.status, 200, 'second shared LOCK');
  const t1 = tokenOf(l1);
  const t2 = tokenOf(l2);
  t.not(t1, t2, 'distinct tokens');
  t.equal(await metric('davgate_locks_active'), activeBefore + 2, 'locks_active +2');
  const ex = await req(k, 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('exclusive') });
  t.equal(ex.status, 423, 'exclusive LOCK over shared → 423');
  t.equal((await req(k, 'PUT', { body: 'none' })).status, 423, 'write without a token → 423');
  for (const [i, tok] of [t1, t2].entries()) {
    const r = await req(k, 'PUT', { body: `s${i + 1}`, headers: { if: untagged(tok) } });
    t.ok([200, 204].includes(r.status), `write with token ${i + 1} → ${r.status}`);
    t.equal(readOn('c', k), `s${i + 1}`, `content ${i + 1} on c`);
  }
  const pf = await req(k, 'PROPFIND', {
    headers: { depth: '0' },
    body: '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>',
  });
  t.same(tokensIn(parseXml(pf.body)).sort(), [t1, t2].sort(), 'lockdiscovery lists both shared locks');
  for (const tok of [t1, t2]) t.equal((await req(k, 'UNLOCK', { headers: { 'lock-token': `<${tok}>` } })).status, 204, 'UNLOCK shared');
  t.equal(await metric('davgate_locks_active'), activeBefore, 'locks_active back');
});

t.test('upstreams never saw LOCK, UNLOCK, If or Lock-Token', async (t) => {
  t.ok(requestsSeen > 50, `the upstream observer saw requests (${requestsSeen})`);
  t.same(seen, [], 'no lock traffic reached an upstream');
});

// Regressions found by this file (Apache mod_dav passes both; davgate did not).
t.test('regression (LOCK on an unmapped URL skipped the parent\'s depth-0 lock): LOCK on an unmapped member of a depth-0 locked collection needs the collection\'s token', async (t) => {
  t.equal((await req('/d0/', 'MKCOL')).status, 201, 'MKCOL /d0/');
  const l = await req('/d0/', 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('exclusive') });
  t.equal(l.status, 200, 'LOCK /d0/ depth 0');
  const token = tokenOf(l);
  t.equal((await req('/d0/put.txt', 'PUT', { body: 'x' })).status, 423, 'PUT of a new member without the token → 423 (membership)');
  const ln = await req('/d0/new.txt', 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('exclusive') });
  t.equal(ln.status, 423, 'LOCK of an unmapped member without the collection\'s token → 423 (Apache: 207 with 423)');
  t.same(whereIs(h, '/d0/new.txt'), [], 'no member was created');
  if (ln.status === 201) await req('/d0/new.txt', 'UNLOCK', { headers: { 'lock-token': String(ln.headers['lock-token']) } });
  t.equal((await req('/d0/', 'UNLOCK', { headers: { 'lock-token': `<${token}>` } })).status, 204, 'UNLOCK /d0/');
});

t.test('regression (shared locks pooled only per root): a shared lock holder may write although another shared lock rooted elsewhere covers the resource', async (t) => {
  t.equal((await req('/sh/', 'MKCOL')).status, 201, 'MKCOL /sh/');
  t.equal((await req('/sh/m.txt', 'PUT', { body: 'm' })).status, 201, 'PUT /sh/m.txt');
  const a = await req('/sh/', 'LOCK', { headers: { depth: 'infinity', 'content-type': 'application/xml' }, body: LOCKINFO('shared', 'http://example.org/a') });
  const b = await req('/sh/m.txt', 'LOCK', { headers: { depth: '0', 'content-type': 'application/xml' }, body: LOCKINFO('shared', 'http://example.org/b') });
  t.equal(a.status, 200, 'shared depth-infinity lock A on /sh/');
  t.equal(b.status, 200, 'shared depth-0 lock B on /sh/m.txt');
  const ta = tokenOf(a);
  const tb = tokenOf(b);
  t.equal((await req('/sh/m.txt', 'PUT', { body: 'none' })).status, 423, 'write without a token → 423');
  for (const [who, tok] of [['A', ta], ['B', tb]] as const) {
    const r = await req('/sh/m.txt', 'PUT', { body: who, headers: { if: untagged(tok) } });
    t.ok([200, 204].includes(r.status), `holder of ${who} alone may write /sh/m.txt (Apache: 204), got ${r.status}`);
  }
  for (const [k, tok] of [['/sh/', ta], ['/sh/m.txt', tb]] as const) await req(k, 'UNLOCK', { headers: { 'lock-token': `<${tok}>` } });
});
