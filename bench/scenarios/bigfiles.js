/**
 * bigfiles: a 1 GiB PUT and then GET of the same file, directly against one Apache, through nginx and through
 * davgate, one after the other (one round: each transfer moves 1 GiB). davgate's memory is sampled from
 * /proc/<pid>/status (VmRSS every 50 ms during its transfers; VmHWM at the end): streaming means its RSS
 * should not grow with the file size.
 */
import { request, log, round, ratio } from '../lib/load.js';
import { memoryOf } from '../lib/procs.js';

/** One line for the report. */
export const description = '1 GiB PUT and GET: direct Apache vs nginx vs davgate, and davgate peak RSS';

const SIZE = 2 ** 30;
const MiB = 2 ** 20;

/** Samples VmRSS of `pid` every 50 ms until stopped; returns the peak (bytes). */
function sampler(pid) {
  let peak = 0;
  const t = setInterval(() => {
    const m = memoryOf(pid);
    if (m && m.rss > peak) peak = m.rss;
  }, 50);
  return () => {
    clearInterval(t);
    return peak;
  };
}

async function transfer(url, auth, method) {
  const r = await request(url, { method, headers: { authorization: auth }, body: method === 'PUT' ? { size: SIZE } : undefined });
  const ok = method === 'PUT' ? r.status === 201 || r.status === 204 || r.status === 200 : r.status === 200 && r.bytes === SIZE;
  return { status: r.status, ok, error: r.error, seconds: round(r.ms / 1000, 2), mibPerSec: round(SIZE / MiB / (r.ms / 1000), 0) };
}

/**
 * Runs the scenario with `ctx` (options, the shared Apache/nginx cluster, gateway and credentials; see run.js).
 * @returns the result stored under its name in bench/results/latest.json
 */
export async function run(ctx) {
  const { apaches, nginx } = await ctx.cluster();
  const gw = await ctx.gateway(apaches, { maxConcurrent: 4 });
  try {
    // Let the gateway settle (start-up checks, first probes) before taking its resting RSS.
    await new Promise((r) => setTimeout(r, 1000));
    const rest = memoryOf(gw.pid);
    const targets = {
      direct: { url: `${apaches[0].url}big-direct.bin`, auth: ctx.apacheAuth },
      nginx: { url: `${nginx.url}big-nginx.bin`, auth: ctx.apacheAuth },
      davgate: { url: `${gw.url}big-davgate.bin`, auth: ctx.gwAuth },
    };
    const out = {};
    const peaks = {};
    for (const method of ['PUT', 'GET']) {
      for (const [side, t] of Object.entries(targets)) {
        const stop = side === 'davgate' ? sampler(gw.pid) : undefined;
        const r = await transfer(t.url, t.auth, method);
        if (stop) peaks[method] = stop();
        (out[side] ??= {})[method] = r;
        log(`bigfiles ${method} ${side}: ${JSON.stringify(r)}${stop ? ` davgate peak RSS ${round(peaks[method] / MiB, 0)} MiB` : ''}`);
      }
    }
    for (const t of Object.values(targets)) await request(t.url, { method: 'DELETE', headers: { authorization: t.auth } });
    const end = memoryOf(gw.pid);
    return {
      sizeBytes: SIZE,
      ...out,
      ratios: {
        putVsDirect: ratio(out.davgate.PUT.mibPerSec, out.direct.PUT.mibPerSec),
        putVsNginx: ratio(out.davgate.PUT.mibPerSec, out.nginx.PUT.mibPerSec),
        getVsDirect: ratio(out.davgate.GET.mibPerSec, out.direct.GET.mibPerSec),
        getVsNginx: ratio(out.davgate.GET.mibPerSec, out.nginx.GET.mibPerSec),
      },
      davgateMemoryMiB: {
        restRss: round(rest.rss / MiB, 0),
        peakRssDuringPut: round(peaks.PUT / MiB, 0),
        peakRssDuringGet: round(peaks.GET / MiB, 0),
        growthDuringGet: round((peaks.GET - rest.rss) / MiB, 0),
        vmHwm: round(end.hwm / MiB, 0),
      },
    };
  } finally {
    await gw.stop();
  }
}
