/**
 * listings: a folder with 1,000 members on each of the 3 Apache (3,000 distinct names), listed with PROPFIND
 * Depth 1 at c=1: directly on each Apache (1,000 members each) and through davgate (3,000 merged). davgate's
 * latency is compared with the slowest single upstream listing (it cannot answer before the slowest one has),
 * and its CPU per listing is its child's `process.cpuUsage()` delta over the run divided by listings served.
 * Rounds interleaved: a, b, c, davgate.
 *
 * The members are written straight into the Apache data dirs (no 3,000 PUTs); mod_dav_fs lists what is on disk.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeDataDir } from '../lib/apache.js';
import { gatewayCpuMs } from '../lib/children.js';
import { PROPFIND_BODY, cannon, listCount, log, medianOf, ratio, round } from '../lib/load.js';

/** One line for the report. */
export const description = 'PROPFIND Depth 1 of 3 × 1,000 members merged by davgate vs the slowest single Apache listing';

const PER_UPSTREAM = 1000;

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const { apaches } = await ctx.cluster();
  for (const a of apaches) {
    const dir = makeDataDir(a, 'list1k');
    for (let i = 0; i < PER_UPSTREAM; i++) writeFileSync(path.join(dir, `${a.id}-${String(i).padStart(4, '0')}.txt`), `${a.id}${i}\n`);
  }
  const gw = await ctx.gateway(apaches, { maxConcurrent: 4 });
  try {
    const merged = await listCount(`${gw.url}list1k/`, ctx.gwAuth);
    log(`listings: davgate lists ${merged} members (expected ${PER_UPSTREAM * apaches.length})`);
    const req = (url, auth) => ({
      url,
      connections: 1,
      requests: [{ method: 'PROPFIND', path: new URL(url).pathname, headers: { authorization: auth, depth: '1', 'content-type': 'application/xml; charset=utf-8' }, body: PROPFIND_BODY }],
    });
    const targets = [...apaches.map((a) => ({ name: a.id, spec: req(`${a.url}list1k/`, ctx.apacheAuth) })), { name: 'davgate', spec: req(`${gw.url}list1k/`, ctx.gwAuth) }];
    const runs = Object.fromEntries(targets.map((t) => [t.name, []]));
    const cpu = [];
    for (let r = 0; r < ctx.opts.rounds; r++) {
      for (const t of targets) {
        if (r === 0) await cannon({ ...t.spec, durationS: ctx.opts.warmupS });
        const cpu0 = t.name === 'davgate' ? await gatewayCpuMs(gw) : 0;
        const res = await cannon({ ...t.spec, durationS: ctx.opts.durationS });
        if (t.name === 'davgate') cpu.push(((await gatewayCpuMs(gw)) - cpu0) / Math.max(1, res.ok));
        runs[t.name].push(res);
        log(`listings round ${r + 1} ${t.name}: ${res.rps} listings/s p50 ${res.p50} ms p99 ${res.p99} ms${t.name === 'davgate' ? `, ${round(cpu.at(-1), 1)} CPU ms per listing` : ''}`);
      }
    }
    const sides = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, medianOf(v)]));
    const slowest = apaches.map((a) => a.id).reduce((s, id) => (sides[id].p50 > sides[s].p50 ? id : s), apaches[0].id);
    cpu.sort((a, b) => a - b);
    return {
      perUpstream: PER_UPSTREAM,
      merged,
      upstreams: Object.fromEntries(apaches.map((a) => [a.id, sides[a.id]])),
      davgate: sides.davgate,
      slowest,
      p50VsSlowest: ratio(sides.davgate.p50, sides[slowest].p50),
      p99VsSlowest: ratio(sides.davgate.p99, sides[slowest].p99),
      cpuMsPerListing: round(cpu[cpu.length >> 1], 1),
    };
  } finally {
    await gw.stop();
  }
}
