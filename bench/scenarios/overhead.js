/**
 * overhead: what one extra hop costs. GET 4 KiB, PUT 64 KiB and PROPFIND Depth 1 of a 100-member collection
 * (c = connections, plus a c=1 latency run for PROPFIND), each directly against one Apache (the one holding the
 * GET file), through nginx (`hash $uri consistent` over 3 Apache) and through davgate (over the same 3).
 * Rounds are interleaved (direct, nginx, davgate, repeated) and the median over rounds is reported.
 */
import { randomBytes } from 'node:crypto';
import { PROPFIND_BODY, cannon, dav, eachLimit, listCount, log, medianOf, ratio, request } from '../lib/load.js';

/** One line for the report. */
export const description = 'GET 4 KiB, PUT 64 KiB, PROPFIND Depth 1 of 100 members: direct Apache vs nginx vs davgate';

const GET_BYTES = 4 * 1024;
const PUT_BYTES = 64 * 1024;
const MEMBERS = 100;
/** Distinct PUT targets, so no two connections write one file at once. */
const PUT_FILES = 64;

/** Makes the tree under `root` (a URL ending in `/`) through one front: the GET file and 100 members. */
async function fill(root, auth) {
  const small = randomBytes(64);
  await dav(`${root}get-4k.bin`, { method: 'PUT', auth, body: randomBytes(GET_BYTES) });
  const names = Array.from({ length: MEMBERS }, (_, i) => `member-${String(i).padStart(3, '0')}.txt`);
  await eachLimit(names, 8, (n) => dav(`${root}list/${n}`, { method: 'PUT', auth, body: small }));
}

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const { apaches, nginx } = await ctx.cluster();
  const auth = ctx.apacheAuth;
  const gw = await ctx.gateway(apaches, { maxConcurrent: Math.max(4, ctx.opts.connections) });
  try {
    // davgate places /bench/… itself.
    for (const d of ['bench/', 'bench/list/', 'bench/put/']) await dav(`${gw.url}${d}`, { method: 'MKCOL', auth: ctx.gwAuth, ok: [201, 405] });
    await fill(`${gw.url}bench/`, ctx.gwAuth);
    // The direct baseline uses the Apache that holds davgate's GET file, so the two GET rows differ only by the hop.
    let holder = apaches[0];
    for (const a of apaches) {
      if ((await request(`${a.url}bench/get-4k.bin`, { method: 'HEAD', headers: { authorization: auth } })).status === 200) holder = a;
    }
    for (const d of ['direct/', 'direct/list/', 'direct/put/']) await dav(`${holder.url}${d}`, { method: 'MKCOL', auth, ok: [201, 405] });
    await fill(`${holder.url}direct/`, auth);
    // nginx sends each path to one Apache by its hash; the collections must exist on all three for PUTs to land.
    for (const a of apaches) for (const d of ['nx/', 'nx/list/', 'nx/put/']) await dav(`${a.url}${d}`, { method: 'MKCOL', auth, ok: [201, 405] });
    await fill(`${nginx.url}nx/`, auth);

    const counts = {
      direct: await listCount(`${holder.url}direct/list/`, auth),
      nginx: await listCount(`${nginx.url}nx/list/`, auth),
      davgate: await listCount(`${gw.url}bench/list/`, ctx.gwAuth),
    };
    log(`overhead: direct is apache ${holder.id}; PROPFIND members seen: direct ${counts.direct}, nginx ${counts.nginx}, davgate ${counts.davgate}`);

    const targets = {
      direct: { url: holder.url, base: `${new URL(holder.url).pathname}direct/`, auth },
      nginx: { url: nginx.url, base: `${new URL(nginx.url).pathname}nx/`, auth },
      davgate: { url: gw.url, base: `${new URL(gw.url).pathname}bench/`, auth: ctx.gwAuth },
    };
    const putBody = randomBytes(PUT_BYTES);
    const putFiles = Array.from({ length: PUT_FILES }, (_, i) => `f${String(i).padStart(2, '0')}.bin`);
    const c = ctx.opts.connections;
    const measures = [
      { name: 'get', label: `GET 4 KiB, c=${c}`, connections: c, requests: (t) => [{ method: 'GET', path: `${t.base}get-4k.bin`, headers: { authorization: t.auth } }] },
      {
        name: 'put',
        label: `PUT 64 KiB, c=${c}`,
        connections: c,
        requests: (t) => putFiles.map((f) => ({ method: 'PUT', path: `${t.base}put/${f}`, headers: { authorization: t.auth, 'content-type': 'application/octet-stream' }, body: putBody })),
      },
      ...[c, 1].map((conns) => ({
        name: conns === 1 ? 'propfind-c1' : 'propfind',
        label: `PROPFIND Depth 1, ${MEMBERS} members, c=${conns}`,
        connections: conns,
        requests: (t) => [{ method: 'PROPFIND', path: `${t.base}list/`, headers: { authorization: t.auth, depth: '1', 'content-type': 'application/xml; charset=utf-8' }, body: PROPFIND_BODY }],
      })),
    ];

    const results = [];
    for (const m of measures) {
      const runs = { direct: [], nginx: [], davgate: [] };
      for (let round = 0; round < ctx.opts.rounds; round++) {
        for (const side of Object.keys(runs)) {
          const t = targets[side];
          const spec = { url: t.url, requests: m.requests(t), connections: m.connections };
          if (round === 0) await cannon({ ...spec, durationS: ctx.opts.warmupS });
          const r = await cannon({ ...spec, durationS: ctx.opts.durationS });
          runs[side].push(r);
          log(`overhead ${m.name} round ${round + 1} ${side}: ${r.rps} req/s p50 ${r.p50} p99 ${r.p99}${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx ${JSON.stringify(r.statusCounts)}, ${r.errors} errors)` : ''}`);
        }
      }
      const sides = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, medianOf(v)]));
      const isList = m.name.startsWith('propfind');
      if (isList) {
        for (const side of Object.keys(sides)) sides[side].members = counts[side];
        // nginx cannot merge listings: its PROPFIND reaches one Apache and answers a third of the members.
        sides.nginx.partial = counts.nginx < MEMBERS;
      }
      const { direct, nginx: nx, davgate } = sides;
      results.push({
        name: m.name,
        label: m.label,
        connections: m.connections,
        ...sides,
        ratios: {
          vsDirect: { rps: ratio(davgate.rps, direct.rps), p50: ratio(davgate.p50, direct.p50), p99: ratio(davgate.p99, direct.p99) },
          vsNginx: { rps: ratio(davgate.rps, nx.rps), p50: ratio(davgate.p50, nx.p50), p99: ratio(davgate.p99, nx.p99) },
        },
      });
    }
    return { directApache: holder.id, members: MEMBERS, getBytes: GET_BYTES, putBytes: PUT_BYTES, measures: results };
  } finally {
    await gw.stop();
  }
}
