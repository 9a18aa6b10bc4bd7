/**
 * Range requests through davgate to simulated 坚果云 accounts (src/sim/jianguoyun.ts), which answer a range that
 * reaches EOF with 416 and misread `bytes=-N` (jianguoyun.md §4 "Range" row, statement 8). Clients must see
 * RFC 9110 §14 / §15.3.7 / §15.5.17 behaviour: clamped 206s, `416` with `Content-Range: bytes *\/size`, real suffix
 * ranges; an in-bounds range still costs one upstream request (the sims' counters). A generic upstream (the same
 * simulator without the profile) keeps its headers passed through unchanged.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const SIZE = 1000;
/** A file of known bytes: byte i is 'a' + i mod 26. */
const BYTES = Array.from({ length: SIZE }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
const FILE = '/r/known.bin';
const FAR = { budget: { requests: 100_000, windowMs: 60_000, minSpacingMs: 0 } };

type Tap = { teardown(fn: () => unknown): void };
type Call = (method: string, path: string, headers?: Record<string, string>, body?: string) => Promise<{
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}>;

/** davgate in front of `urls` (one upstream each), every one with `extra` (profile, budget…). */
async function gateway(t: Tap, urls: { url: string; sim: JianguoyunSim }[], extra: Record<string, unknown>): Promise<Call> {
  const server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: urls.map((x, i) => ({ id: `j${i}`, url: x.url, username: x.sim.username, password: x.sim.password, ...extra })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
      },
    }),
  );
  t.teardown(() => server.close());
  return async (method, path, headers = {}, body) => {
    const r = await request(new URL(path.slice(1), server.url), { method: method as 'GET', headers, body });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  };
}

async function sims(t: Tap, n: number): Promise<JianguoyunSim[]> {
  const out: JianguoyunSim[] = [];
  for (let i = 0; i < n; i++) out.push(await startJianguoyunSim({ budget: 100_000 }));
  t.teardown(async () => {
    for (const s of out) await s.stop();
  });
  return out;
}

/** What a recording proxy saw of one request. */
interface Seen {
  readonly method: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
}

/**
 * A loopback proxy in front of one simulated account that records the Range headers davgate sends, and can run
 * `afterPropfind` once a PROPFIND's answer is in hand but before davgate receives it (to change the file between
 * davgate's size check and its GET).
 */
async function recorder(t: Tap, sim: JianguoyunSim): Promise<{ url: string; seen: Seen[]; afterPropfind?: () => Promise<void> }> {
  const origin = new URL(sim.url).origin;
  const state: { url: string; seen: Seen[]; afterPropfind?: () => Promise<void> } = { url: '', seen: [] };
  const server = createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      state.seen.push({ method, range: req.headers['range'], ifRange: req.headers['if-range'] as string | undefined });
      const headers = { ...req.headers };
      delete headers['host'];
      delete headers['connection'];
      const hasBody = headers['content-length'] !== undefined && headers['content-length'] !== '0';
      const up = await request(origin + req.url, { method: method as 'GET', headers, body: hasBody ? req : null });
      if (method === 'PROPFIND' && state.afterPropfind) {
        const hook = state.afterPropfind;
        delete state.afterPropfind;
        await hook();
      }
      const out = { ...up.headers };
      delete out['connection'];
      delete out['keep-alive'];
      delete out['transfer-encoding'];
      res.writeHead(up.statusCode, out as Record<string, string>);
      await pipeline(up.body, res);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dav/${SANDBOX}/`;
  return state;
}

/** Requests all accounts received, by method, since `before`. */
function spent(accounts: JianguoyunSim[], before: ReturnType<JianguoyunSim['snapshot']>[]): Record<string, number> {
  const out: Record<string, number> = {};
  accounts.forEach((s, i) => {
    for (const [m, n] of Object.entries(s.counters.byMethod)) {
      const d = n - (before[i]!.byMethod[m] ?? 0);
      if (d > 0) out[m] = (out[m] ?? 0) + d;
    }
  });
  return out;
}

async function putFile(t: Test, call: Call): Promise<void> {
  t.equal((await call('MKCOL', '/r/')).status, 201, 'MKCOL');
  t.equal((await call('PUT', FILE, { 'content-length': String(SIZE) }, BYTES)).status, 201, 'PUT the known file');
}

t.test('three 坚果云 accounts: Range answered as RFC 9110 says', async (t) => {
  const accounts = await sims(t, 3);
  const call = await gateway(t, accounts.map((sim) => ({ sim, url: `${sim.url}${SANDBOX}/` })), { profile: 'jianguoyun', ...FAR });
  await putFile(t, call);

  /** GET (or HEAD) with a Range, and what it cost the accounts. */
  const get = async (range: string, more: Record<string, string> = {}, method = 'GET') => {
    const before = accounts.map((s) => s.snapshot());
    const r = await call(method, FILE, { range, ...more });
    return { ...r, cost: spent(accounts, before) };
  };

  t.test('in-bounds ranges: 206, one upstream GET', async (t) => {
    for (const [range, start, end] of [
      ['bytes=10-19', 10, 19],
      ['bytes=0-0', 0, 0],
      ['bytes=999-999', 999, 999],
      ['bytes=990-', 990, 999],
      ['bytes=0-999', 0, 999],
    ] as const) {
      const r = await get(range);
      t.equal(r.status, 206, `${range}: 206`);
      t.equal(r.headers['content-range'], `bytes ${start}-${end}/${SIZE}`, `${range}: Content-Range`);
      t.equal(r.text, BYTES.slice(start, end + 1), `${range}: the bytes`);
      t.same(r.cost, { GET: 1 }, `${range}: exactly one upstream request`);
    }
  });

  t.test('a range reaching past EOF is clamped (§14.1.2), not refused', async (t) => {
    for (const [range, start] of [
      ['bytes=995-2000', 995],
      ['bytes=0-1000', 0],
      ['bytes=999-99999999999999999999', 999],
    ] as const) {
      const r = await get(range);
      t.equal(r.status, 206, `${range}: 206`);
      t.equal(r.headers['content-range'], `bytes ${start}-999/${SIZE}`, `${range}: clamped Content-Range`);
      t.equal(r.text, BYTES.slice(start), `${range}: the bytes up to EOF`);
      t.same(r.cost, { GET: 2, PROPFIND: 1 }, `${range}: the size is learned only after the vendor's 416`);
    }
  });

  t.test('a first byte at or past EOF: 416 with bytes */size (§15.5.17)', async (t) => {
    for (const range of ['bytes=1000-', 'bytes=1000-1000', 'bytes=5000-6000']) {
      const r = await get(range);
      t.equal(r.status, 416, `${range}: 416`);
      t.equal(r.headers['content-range'], `bytes */${SIZE}`, `${range}: Content-Range`);
      t.equal(r.text, '', `${range}: empty body`);
      t.same(r.cost, { GET: 1, PROPFIND: 1 }, `${range}: one GET, one PROPFIND`);
    }
  });

  t.test('suffix ranges are the last N bytes (§14.1.2)', async (t) => {
    for (const [range, start] of [
      ['bytes=-10', 990],
      ['bytes=-1', 999],
      ['bytes=-1000', 0],
      ['bytes=-5000', 0],
    ] as const) {
      const r = await get(range);
      t.equal(r.status, 206, `${range}: 206`);
      t.equal(r.headers['content-range'], `bytes ${start}-999/${SIZE}`, `${range}: Content-Range`);
      t.equal(r.text, BYTES.slice(start), `${range}: the last bytes`);
      t.same(r.cost, { PROPFIND: 1, GET: 1 }, `${range}: the size first, then one GET`);
    }
    const zero = await get('bytes=-0');
    t.equal(zero.status, 416, 'bytes=-0: 416');
    t.equal(zero.headers['content-range'], `bytes */${SIZE}`);
    t.same(zero.cost, { PROPFIND: 1 }, 'bytes=-0: answered from the size alone');
  });

  t.test('several ranges, unknown units and invalid specs: 200 with the whole file', async (t) => {
    for (const range of ['bytes=0-1,5-6', 'bytes=0-0,-1', 'pages=1-2', 'bytes=5-1']) {
      const r = await get(range);
      t.equal(r.status, 200, `${range}: 200`);
      t.equal(r.headers['content-range'], undefined, `${range}: no Content-Range`);
      t.equal(r.text, BYTES, `${range}: the whole file`);
      t.same(r.cost, { GET: 1 }, `${range}: one GET`);
    }
  });

  t.test('HEAD gets the headers a GET would (§9.3.2)', async (t) => {
    const clamped = await get('bytes=995-2000', {}, 'HEAD');
    t.equal(clamped.status, 206);
    t.equal(clamped.headers['content-range'], `bytes 995-999/${SIZE}`);
    t.equal(clamped.headers['content-length'], '5');
    t.equal(clamped.text, '');
    const suffix = await get('bytes=-3', {}, 'HEAD');
    t.equal(suffix.status, 206);
    t.equal(suffix.headers['content-range'], `bytes 997-999/${SIZE}`);
    const past = await get('bytes=2000-', {}, 'HEAD');
    t.equal(past.status, 416);
    t.equal(past.headers['content-range'], `bytes */${SIZE}`);
    const inBounds = await get('bytes=1-2', {}, 'HEAD');
    t.equal(inBounds.status, 206);
    t.same(inBounds.cost, { HEAD: 1 }, 'an in-bounds HEAD costs one request');
  });

  t.test('If-Range (§13.1.5) passes through and is honoured on every path', async (t) => {
    const etag = String((await call('HEAD', FILE)).headers['etag']);
    t.ok(etag.length > 0, 'the file has an ETag');
    const ok = await get('bytes=995-2000', { 'if-range': etag });
    t.equal(ok.status, 206, 'matching If-Range, clamped range: 206');
    t.equal(ok.headers['content-range'], `bytes 995-999/${SIZE}`);
    const okSuffix = await get('bytes=-4', { 'if-range': etag });
    t.equal(okSuffix.status, 206, 'matching If-Range, suffix: 206');
    t.equal(okSuffix.text, BYTES.slice(996));
    const okIn = await get('bytes=3-5', { 'if-range': etag });
    t.equal(okIn.status, 206, 'matching If-Range, in bounds: 206');
    t.same(okIn.cost, { GET: 1 });
    for (const range of ['bytes=3-5', 'bytes=995-2000', 'bytes=-4', 'bytes=5000-', 'bytes=-0']) {
      const r = await get(range, { 'if-range': '"not-the-etag"' });
      t.equal(r.status, 200, `${range} with a stale If-Range: 200`);
      t.equal(r.text, BYTES, `${range} with a stale If-Range: the whole file`);
    }
  });

  t.test('If-None-Match is not pre-empted by a 416 of davgate (§13.2.2)', async (t) => {
    const etag = String((await call('HEAD', FILE)).headers['etag']);
    const r = await get('bytes=-0', { 'if-none-match': etag });
    t.equal(r.status, 304, 'the upstream answers the precondition first');
  });

  t.test('an empty file', async (t) => {
    t.equal((await call('PUT', '/r/empty.bin', { 'content-length': '0' }, '')).status, 201);
    const a = await call('GET', '/r/empty.bin', { range: 'bytes=0-' });
    t.equal(a.status, 416, 'bytes=0- of nothing: 416');
    t.equal(a.headers['content-range'], 'bytes */0');
    const b = await call('GET', '/r/empty.bin', { range: 'bytes=-5' });
    t.equal(b.status, 200, 'a suffix of nothing: 200, no 206 can describe zero bytes');
    t.equal(b.text, '');
  });

  t.test('a missing file is still 404', async (t) => {
    t.equal((await call('GET', '/r/nope.bin', { range: 'bytes=-5' })).status, 404);
    t.equal((await call('GET', '/r/nope.bin', { range: 'bytes=5-' })).status, 404);
  });
});

t.test('the file changes between the size check and the GET: no bytes of the wrong size', async (t) => {
  const [sim] = await sims(t, 1);
  const proxy = await recorder(t, sim!);
  const call = await gateway(t, [{ sim: sim!, url: proxy.url }], { profile: 'jianguoyun', ...FAR });
  await putFile(t, call);
  const etag = String((await call('HEAD', FILE)).headers['etag']);
  const shorter = BYTES.slice(0, 600);
  // Right after the size PROPFIND, the file shrinks to 600 bytes behind davgate's back.
  proxy.afterPropfind = async () => {
    const r = await request(`${sim!.url}${SANDBOX}${FILE}`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from(`${sim!.username}:${sim!.password}`).toString('base64')}`, 'content-length': '600' },
      body: shorter,
    });
    await r.body.dump();
  };
  proxy.seen.length = 0;
  const r = await call('GET', FILE, { range: 'bytes=-10' });
  t.same(
    proxy.seen.map((s) => [s.method, s.range, s.ifRange]),
    [
      ['PROPFIND', undefined, undefined],
      ['GET', 'bytes=990-999', etag],
    ],
    'the GET names the ETag learned with the size',
  );
  t.equal(r.status, 200, 'the account answers the changed file whole');
  t.equal(r.text, shorter, 'and that is what the client gets');
  t.equal(r.headers['content-range'], undefined);
});

t.test('a generic upstream: Range and If-Range pass through unchanged; a wrong 206 or a bare 416 is mended', async (t) => {
  const [sim] = await sims(t, 1);
  const proxy = await recorder(t, sim!);
  // The same simulated account, configured without the jianguoyun profile.
  const call = await gateway(t, [{ sim: sim!, url: proxy.url }], {});
  await putFile(t, call);
  proxy.seen.length = 0;
  const suffix = await call('GET', FILE, { range: 'bytes=-10' });
  const past = await call('GET', FILE, { range: 'bytes=995-2000', 'if-range': 'x' });
  const many = await call('GET', FILE, { range: 'bytes=0-1, 5-6' });
  t.same(
    proxy.seen.map((s) => [s.method, s.range, s.ifRange]),
    [
      ['GET', 'bytes=-10', undefined],
      // The account's 206 is the start of the file, not its last 10 bytes (partAnswersSpec): its bytes are
      // dropped, the size learned, and the whole file served.
      ['PROPFIND', undefined, undefined],
      ['GET', undefined, undefined],
      ['GET', 'bytes=995-2000', 'x'],
      ['GET', 'bytes=0-1, 5-6', undefined],
    ],
    'headers exactly as the client sent them',
  );
  t.equal(suffix.status, 200, 'the vendor’s suffix misreading never reaches the client: the whole file instead (RFC 9110 §14.2)');
  t.equal(suffix.headers['content-range'], undefined);
  t.equal(past.status, 200, 'the vendor’s If-Range mismatch answer, relayed');
  t.equal(many.status, 200);
  proxy.seen.length = 0;
  const refused = await call('GET', FILE, { range: 'bytes=995-2000' });
  t.equal(refused.status, 416, 'the vendor’s 416, relayed');
  t.equal(refused.headers['content-range'], `bytes */${SIZE}`, 'regression: with Content-Range: bytes */LEN, learned with one PROPFIND');
  t.same(proxy.seen.map((s) => s.method), ['GET', 'PROPFIND']);
});
