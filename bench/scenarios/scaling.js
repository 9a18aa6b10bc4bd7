/**
 * scaling: does davgate turn N accounts into N accounts' worth of service? Each simulated account serves at
 * most C requests at once (503 BlockedTemporarily above C) and each takes L ms, so one account's capacity is
 * C/L and N accounts' is N·C/L. davgate runs with maxConcurrent = C per account. The client offers 3× the N
 * accounts' capacity: 3·N·C closed-loop connections, each of which would send 1/L requests per second if
 * nothing queued. davgate should queue the excess (never send an account more than C) and serve ≈ N·C/L.
 *
 * GETs of 1 KiB files from memory, the same number of files on each account (so a hash imbalance does not
 * decide the result). Rounds interleave N = 1, 3, 5.
 */
import { randomBytes } from 'node:crypto';
import { startSims } from '../lib/children.js';
import { cannon, dav, eachLimit, listCount, log, medianOf, request, round } from '../lib/load.js';

/** One line for the report. */
export const description = 'N simulated accounts (in-flight cap C, latency L) offered 3× their capacity through davgate';

const C = 4;
const L = 50;
const ACCOUNTS = [1, 3, 5];
const FILES_PER_ACCOUNT = 12;

/** Uploads candidate files through davgate, then keeps the same number per account (asking each account). */
async function placeFiles(gw, sims, gwAuth) {
  const n = sims.accounts.length;
  const names = Array.from({ length: FILES_PER_ACCOUNT * n * 3 }, (_, i) => `f${String(i).padStart(3, '0')}.bin`);
  const body = randomBytes(1024);
  await eachLimit(names, 8, (f) => dav(`${gw.url}scale/${f}`, { method: 'PUT', auth: gwAuth, body }));
  const byAccount = sims.accounts.map(() => []);
  const simAuth = `Basic ${Buffer.from(`bench:${sims.accounts[0].password}`).toString('base64')}`;
  await eachLimit(names, 8, async (f) => {
    for (let k = 0; k < n; k++) {
      if ((await request(`${sims.accounts[k].directUrl}scale/${f}`, { method: 'HEAD', headers: { authorization: simAuth } })).status === 200) {
        byAccount[k].push(f);
        return;
      }
    }
  });
  const per = Math.min(FILES_PER_ACCOUNT, ...byAccount.map((l) => l.length));
  if (per === 0) throw new Error(`an account got none of ${names.length} files: ${byAccount.map((l) => l.length).join('/')}`);
  return byAccount.flatMap((l) => l.slice(0, per));
}

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const setups = [];
  try {
    for (const n of ACCOUNTS) {
      const sims = await startSims(ctx.distDir, { count: n, maxInFlight: C, latencyMs: L, password: ctx.creds.password });
      setups.push({ n, sims });
      const gw = await ctx.gateway(sims.accounts, { maxConcurrent: C });
      setups.at(-1).gw = gw;
      await dav(`${gw.url}scale/`, { method: 'MKCOL', auth: ctx.gwAuth, ok: [201, 405] });
      setups.at(-1).files = await placeFiles(gw, sims, ctx.gwAuth);
      log(`scaling N=${n}: ${setups.at(-1).files.length} files, ${await listCount(`${gw.url}scale/`, ctx.gwAuth)} listed`);
    }
    const runs = Object.fromEntries(ACCOUNTS.map((n) => [n, []]));
    const before = {};
    for (const s of setups) before[s.n] = (await s.sims.counters()).reduce((a, c) => a + c.throttledInFlight, 0);
    for (let r = 0; r < ctx.opts.rounds; r++) {
      for (const s of setups) {
        const spec = {
          url: s.gw.url,
          connections: 3 * s.n * C,
          requests: s.files.map((f) => ({ method: 'GET', path: `${new URL(s.gw.url).pathname}scale/${f}`, headers: { authorization: ctx.gwAuth } })),
        };
        if (r === 0) await cannon({ ...spec, durationS: ctx.opts.warmupS });
        const res = await cannon({ ...spec, durationS: ctx.opts.durationS });
        runs[s.n].push(res);
        log(`scaling round ${r + 1} N=${s.n}: ${res.rps} req/s of capacity ${(s.n * C * 1000) / L}, p50 ${res.p50} ms${res.non2xx || res.errors ? `, ${res.non2xx} non-2xx ${JSON.stringify(res.statusCounts)}, ${res.errors} errors` : ''}`);
      }
    }
    const rows = [];
    for (const s of setups) {
      const m = medianOf(runs[s.n]);
      const capacity = (s.n * C * 1000) / L;
      const throttled = (await s.sims.counters()).reduce((a, c) => a + c.throttledInFlight, 0) - before[s.n];
      rows.push({ accounts: s.n, connections: 3 * s.n * C, capacityRps: capacity, ...m, servedOverCapacity: round(m.rps / capacity, 2), accountRefusals: throttled });
    }
    return { capPerAccount: C, latencyMs: L, offered: '3 × N·C/L (3·N·C closed-loop connections)', rows };
  } finally {
    for (const s of setups) {
      await s.gw?.stop();
      await s.sims.stop();
    }
  }
}
