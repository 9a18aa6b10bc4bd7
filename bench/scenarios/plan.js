/**
 * plan: the original plan's scenarios, the same client work through davgate over 3 simulated accounts and
 * over 1. What makes 3 accounts faster than 1 in reality is what one account will do for one client: a hosted
 * account serves a few requests at once (above that 坚果云 answers 503 BlockedTemporarily, jianguoyun.md §2)
 * and each connection gets a limited bandwidth. So each account here is `dist/sim/jianguoyun.js` with an
 * in-flight cap, a fixed latency per request, and a relay that limits every connection's bandwidth; davgate
 * sends each account at most that cap. Apache on loopback would show no speed-up at all (the three share the
 * same disk and CPU, and loopback has no bandwidth limit), which is not what a user of free accounts sees.
 *
 * Steps (each on both setups, interleaved; the songs once per setup, as they take most of the time):
 *   uploads  50 concurrent PUTs of 1 MiB: success rate
 *   covers   100 covers of 50–300 KiB uploaded 16 at a time: total time
 *   downloads 100 concurrent GETs of those covers: mean and p99 latency
 *   songs    100 songs of 3–10 MiB uploaded 16 at a time: total time, MiB/s, speed-up 3 vs 1
 */
import { startSims } from '../lib/children.js';
import { dav, eachLimit, log, mean, median, quantile, ratio, request, round } from '../lib/load.js';

/** One line for the report. */
export const description = "the original plan's workloads through davgate over 3 simulated accounts vs 1";

/** The account model (see the module comment). */
export const ACCOUNT = Object.freeze({ maxInFlight: 4, latencyMs: 40, bytesPerSec: 3 * 2 ** 20 });
const CLIENT_CONCURRENCY = 16;
const KiB = 1024;
const MiB = 2 ** 20;

/** Deterministic sizes (a tiny LCG), so every run moves the same bytes. */
function sizes(count, min, max, seed) {
  let s = seed;
  return Array.from({ length: count }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return min + Math.floor((s / 2 ** 31) * (max - min + 1));
  });
}

async function timed(fn) {
  const t0 = performance.now();
  const out = await fn();
  return { ms: performance.now() - t0, out };
}

const isOk = (r) => r.status >= 200 && r.status < 300;

/** One step on one setup; returns its measurements. */
async function step(name, s, auth, r) {
  const base = `${s.gw.url}plan/r${r}-`;
  const a = s.agent;
  if (name === 'uploads') {
    const { ms, out } = await timed(() => Promise.all(Array.from({ length: 50 }, (_, i) => request(`${base}up-${i}.bin`, { method: 'PUT', headers: { authorization: auth }, body: { size: MiB }, agent: a }))));
    return { ok: out.filter(isOk).length, of: 50, successRate: round2(out.filter(isOk).length / 50), totalMs: Math.round(ms), statuses: statuses(out) };
  }
  if (name === 'covers') {
    const sz = sizes(100, 50 * KiB, 300 * KiB, 7 + r);
    const { ms, out } = await timed(() => eachLimit(sz, CLIENT_CONCURRENCY, (size, i) => request(`${base}cover-${i}.jpg`, { method: 'PUT', headers: { authorization: auth }, body: { size }, agent: a })));
    s.covers = sz.map((_, i) => `${base}cover-${i}.jpg`);
    return { ok: out.filter(isOk).length, of: 100, totalMs: Math.round(ms), mib: round2(sz.reduce((x, y) => x + y, 0) / MiB), statuses: statuses(out) };
  }
  if (name === 'downloads') {
    const out = await Promise.all(s.covers.map((u) => request(u, { headers: { authorization: auth }, agent: a })));
    const lat = out.map((r) => r.ms);
    return { ok: out.filter(isOk).length, of: 100, meanMs: Math.round(mean(lat)), p99Ms: Math.round(quantile(lat, 0.99)), statuses: statuses(out) };
  }
  if (name === 'songs') {
    const sz = sizes(100, 3 * MiB, 10 * MiB, 11);
    const { ms, out } = await timed(() => eachLimit(sz, CLIENT_CONCURRENCY, (size, i) => request(`${base}song-${i}.mp3`, { method: 'PUT', headers: { authorization: auth }, body: { size }, agent: a })));
    const total = sz.reduce((x, y) => x + y, 0);
    return { ok: out.filter(isOk).length, of: 100, totalMs: Math.round(ms), mib: Math.round(total / MiB), mibPerSec: round2(total / MiB / (ms / 1000)), statuses: statuses(out) };
  }
  throw new Error(name);
}

const round2 = (v) => round(v, 2);
function statuses(out) {
  const c = {};
  for (const r of out) {
    const k = r.status || r.error || 'error';
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
}

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const { default: http } = await import('node:http');
  const setups = [];
  try {
    for (const n of [1, 3]) {
      const sims = await startSims(ctx.distDir, { count: n, ...ACCOUNT, password: ctx.creds.password });
      const s = { n, sims, agent: new http.Agent({ keepAlive: true, maxSockets: 200 }) };
      setups.push(s);
      s.gw = await ctx.gateway(sims.accounts, { maxConcurrent: ACCOUNT.maxInFlight });
      await dav(`${s.gw.url}plan/`, { method: 'MKCOL', auth: ctx.gwAuth, ok: [201, 405] });
    }
    const res = { uploads: { 1: [], 3: [] }, covers: { 1: [], 3: [] }, downloads: { 1: [], 3: [] }, songs: { 1: [], 3: [] } };
    for (let r = 0; r < ctx.opts.rounds; r++) {
      for (const name of ['uploads', 'covers', 'downloads', ...(r === 0 ? ['songs'] : [])]) {
        for (const s of setups) {
          const m = await step(name, s, ctx.gwAuth, r);
          res[name][s.n].push(m);
          log(`plan round ${r + 1} ${name} over ${s.n}: ${JSON.stringify(m)}`);
        }
      }
    }
    const refusals = [];
    for (const s of setups) refusals.push((await s.sims.counters()).reduce((a, c) => a + c.throttledInFlight, 0));
    const med = (name, n, k) => median(res[name][n].map((m) => m[k]));
    const sum = (name, n, k) => res[name][n].reduce((a, m) => a + m[k], 0);
    const side = (n) => ({
      uploads: { ok: sum('uploads', n, 'ok'), of: sum('uploads', n, 'of'), successRate: round2(sum('uploads', n, 'ok') / sum('uploads', n, 'of')), totalMs: med('uploads', n, 'totalMs') },
      covers: { ok: sum('covers', n, 'ok'), of: sum('covers', n, 'of'), totalMs: med('covers', n, 'totalMs'), mib: med('covers', n, 'mib') },
      downloads: { ok: sum('downloads', n, 'ok'), of: sum('downloads', n, 'of'), meanMs: med('downloads', n, 'meanMs'), p99Ms: med('downloads', n, 'p99Ms') },
      songs: { ok: sum('songs', n, 'ok'), of: sum('songs', n, 'of'), totalMs: med('songs', n, 'totalMs'), mib: med('songs', n, 'mib'), mibPerSec: med('songs', n, 'mibPerSec') },
      accountRefusals: refusals[n === 1 ? 0 : 1],
    });
    const one = side(1);
    const three = side(3);
    return {
      account: { ...ACCOUNT, note: 'simulated account: 503 above maxInFlight, latencyMs per request, bytesPerSec per connection and direction' },
      clientConcurrency: CLIENT_CONCURRENCY,
      one,
      three,
      speedUp: {
        uploads: ratio(one.uploads.totalMs, three.uploads.totalMs),
        covers: ratio(one.covers.totalMs, three.covers.totalMs),
        downloadsMean: ratio(one.downloads.meanMs, three.downloads.meanMs),
        songs: ratio(one.songs.totalMs, three.songs.totalMs),
      },
      raw: res,
    };
  } finally {
    for (const s of setups) {
      s.agent.destroy();
      await s.gw?.stop();
      await s.sims.stop();
    }
  }
}
