/**
 * idle: dropped idle connections. A relay (`startRelay` from dist/sim/relay.js, idleDropMs 1500) in front of
 * each Apache forgets a connection idle for 1.5 s without telling anyone and resets the next bytes on it, as
 * NAT boxes and load balancers do on the way to a hosted account. davgate (default health settings) runs over
 * the three relays; the client sends bursts of 40 requests (30 GETs of 4 KiB files, 10 PROPFIND Depth 1 of a
 * 30-member folder) separated by gaps of 1–2 s, for --idle-seconds (60 by default). The client talks to davgate
 * directly; only davgate's upstream connections go through the relays.
 *
 * Counted: client-visible errors (any answer but 200/207, or a socket error) and upstreams davgate marked
 * down (`davgate_upstream_up` on /metrics, sampled every 100 ms). Target: 0 and 0.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROPFIND_BODY, agent, dav, eachLimit, log, request } from '../lib/load.js';

/** One line for the report. */
export const description = 'bursts of GETs and listings with 1–2 s gaps through relays that drop idle connections after 1.5 s';

const IDLE_DROP_MS = 1500;
const FILES = 30;
const BURST_GETS = 30;
const BURST_LISTS = 10;

/** Upstream ids whose `davgate_upstream_up` is 0 in a /metrics text. */
function downIn(metricsText) {
  const down = [];
  for (const m of metricsText.matchAll(/^davgate_upstream_up\{[^}]*upstream="([^"]+)"[^}]*\}\s+(\S+)/gm)) if (Number(m[2]) === 0) down.push(m[1]);
  return down;
}

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const { apaches } = await ctx.cluster();
  const { startRelay } = await import(pathToFileURL(path.join(ctx.distDir, 'sim/relay.js')).href);
  const relays = [];
  let gw;
  const a = agent(64);
  try {
    for (const ap of apaches) relays.push(await startRelay({ targetHost: '127.0.0.1', targetPort: ap.port, idleDropMs: IDLE_DROP_MS }));
    gw = await ctx.gateway(
      apaches.map((ap, i) => ({ id: ap.id, url: `http://127.0.0.1:${relays[i].port}/dav/` })),
      { maxConcurrent: 8 },
    );
    const auth = ctx.gwAuth;
    for (const d of ['idle/', 'idle/list/']) await dav(`${gw.url}${d}`, { method: 'MKCOL', auth, ok: [201, 405] });
    const body = randomBytes(4096);
    const files = Array.from({ length: FILES }, (_, i) => `${gw.url}idle/f${i}.bin`);
    await eachLimit(files, 8, (u) => dav(u, { method: 'PUT', auth, body }));
    await eachLimit(Array.from({ length: 30 }, (_, i) => `${gw.url}idle/list/m${i}.txt`), 8, (u) => dav(u, { method: 'PUT', auth, body: body.subarray(0, 16) }));

    const everDown = new Set();
    let downSamples = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = await request(`${gw.url}metrics`, { keep: true, agent: a });
        if (r.status === 200) {
          samples++;
          const down = downIn(r.text);
          if (down.length) downSamples++;
          for (const id of down) everDown.add(id);
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    })();

    const statuses = {};
    let requests = 0;
    let errors = 0;
    let bursts = 0;
    const latencies = [];
    const deadline = Date.now() + ctx.opts.idleS * 1000;
    while (Date.now() < deadline) {
      bursts++;
      const reqs = [
        ...Array.from({ length: BURST_GETS }, (_, i) => () => request(files[(bursts * 7 + i) % FILES], { headers: { authorization: auth }, agent: a })),
        ...Array.from({ length: BURST_LISTS }, () => () =>
          request(`${gw.url}idle/list/`, { method: 'PROPFIND', headers: { authorization: auth, depth: '1', 'content-type': 'application/xml; charset=utf-8' }, body: Buffer.from(PROPFIND_BODY), agent: a }),
        ),
      ];
      const out = await Promise.all(reqs.map((f) => f()));
      for (const r of out) {
        requests++;
        latencies.push(r.ms);
        const k = r.status || r.error || 'error';
        statuses[k] = (statuses[k] ?? 0) + 1;
        if (r.status !== 200 && r.status !== 207) errors++;
      }
      // 1–2 s of silence: longer than the relay's 1.5 s about half the time.
      await new Promise((res) => setTimeout(res, 1000 + Math.random() * 1000));
    }
    sampling = false;
    await sampler;
    const relayStats = relays.map((r) => ({ ...r.stats }));
    log(`idle: ${bursts} bursts, ${requests} requests, ${errors} client errors ${JSON.stringify(statuses)}; upstreams ever down: [${[...everDown].join(', ')}] in ${downSamples}/${samples} samples; relays ${JSON.stringify(relayStats)}`);
    latencies.sort((x, y) => x - y);
    return {
      idleDropMs: IDLE_DROP_MS,
      seconds: ctx.opts.idleS,
      bursts,
      requests,
      clientErrors: errors,
      statuses,
      upstreamsMarkedDown: everDown.size,
      upstreamsEverDown: [...everDown],
      downSamples,
      samples,
      p50Ms: Math.round(latencies[latencies.length >> 1] ?? 0),
      p99Ms: Math.round(latencies[Math.ceil(latencies.length * 0.99) - 1] ?? 0),
      relays: relayStats,
    };
  } finally {
    a.destroy();
    await gw?.stop();
    for (const r of relays) await r.close();
  }
}
