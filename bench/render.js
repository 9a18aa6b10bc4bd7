#!/usr/bin/env node
/**
 * Renders bench/results/latest.json as Markdown: one table per scenario, the README's Benchmarks section.
 *
 *   node bench/render.js                       # print the Markdown
 *   node bench/render.js --in other.json       # render another run
 *   node bench/render.js --write README.md     # replace what is between <!-- bench:start --> and <!-- bench:end -->
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (x) => (x === null || x === undefined ? '—' : x >= 100 ? fmt(x, 0) : fmt(x, x >= 10 ? 1 : 2).replace(/\.?0+$/, '') || '0');
const x = (r) => (r === null || r === undefined ? '—' : `${fmt(r, 2)}×`);
const mib = (b) => fmt(b / 2 ** 20, 0);
const errs = (s) => `${s.non2xx ?? 0} / ${s.errors ?? 0}`;

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `| ${head.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function overhead(r) {
  const rows = [];
  for (const m of r.measures) {
    const nx = m.nginx.partial ? `${fmt(m.nginx.rps)} (partial: ${m.nginx.members} of ${r.members} members)` : fmt(m.nginx.rps);
    rows.push([
      m.label,
      fmt(m.direct.rps),
      nx,
      fmt(m.davgate.rps),
      m.nginx.partial ? `${x(m.ratios.vsDirect.rps)} / (${x(m.ratios.vsNginx.rps)})` : `${x(m.ratios.vsDirect.rps)} / ${x(m.ratios.vsNginx.rps)}`,
      `${ms(m.direct.p50)} / ${ms(m.nginx.p50)} / ${ms(m.davgate.p50)}`,
      `${ms(m.direct.p99)} / ${ms(m.nginx.p99)} / ${ms(m.davgate.p99)}`,
      `${errs(m.direct)} · ${errs(m.nginx)} · ${errs(m.davgate)}`,
    ]);
  }
  return table(
    ['measure', 'direct Apache req/s', 'nginx req/s', 'davgate req/s', 'davgate ÷ direct / ÷ nginx', 'p50 ms (direct / nginx / davgate)', 'p99 ms', 'non-2xx / errors (d · n · g)'],
    rows,
  );
}

function scaling(r) {
  const rows = r.rows.map((w) => [
    `${w.accounts}`,
    fmt(w.connections),
    fmt(w.capacityRps),
    fmt(w.rps),
    x(w.servedOverCapacity),
    `${ms(w.p50)} / ${ms(w.p99)}`,
    `${w.non2xx} / ${w.errors}`,
    fmt(w.accountRefusals),
  ]);
  return [
    `Each account: at most C = ${r.capPerAccount} requests at once (503 above), ${r.latencyMs} ms per request; davgate maxConcurrent = C. Offered: ${r.offered}.`,
    '',
    table(['accounts N', 'client connections', 'capacity N·C/L req/s', 'served req/s', 'served ÷ capacity', 'p50 / p99 ms', 'client non-2xx / errors', '503s from accounts'], rows),
  ].join('\n');
}

function plan(r) {
  const a = r.account;
  const s = (v) => `${fmt(v / 1000, 1)} s`;
  const row = (label, f, sp, target) => [label, f(r.one), f(r.three), sp === undefined ? '' : x(sp), target];
  return [
    `Simulated accounts: ${a.maxInFlight} requests at once (503 above), ${a.latencyMs} ms per request, ${fmt(a.bytesPerSec / 2 ** 20, 0)} MiB/s per connection; ` +
      `davgate maxConcurrent ${a.maxInFlight} per account; client concurrency ${r.clientConcurrency} for batches.`,
    '',
    table(
      ['workload', 'davgate over 1 account', 'over 3 accounts', 'speed-up', 'target'],
      [
        row('50 concurrent uploads of 1 MiB: success', (o) => `${o.uploads.ok}/${o.uploads.of} (${s(o.uploads.totalMs)})`, r.speedUp.uploads, '> 95% (aim 100%)'),
        row('100 concurrent downloads (covers): mean / p99', (o) => `${ms(o.downloads.meanMs)} / ${ms(o.downloads.p99Ms)} ms (${o.downloads.ok}/${o.downloads.of} ok)`, r.speedUp.downloadsMean, 'mean < 500 ms'),
        row('100 songs of 3–10 MiB: total time', (o) => `${s(o.songs.totalMs)}, ${fmt(o.songs.mibPerSec, 1)} MiB/s (${o.songs.ok}/${o.songs.of} ok)`, r.speedUp.songs, '≥ 2.7× speed-up'),
        row('100 covers of 50–300 KiB: total time', (o) => `${s(o.covers.totalMs)} (${o.covers.ok}/${o.covers.of} ok)`, r.speedUp.covers, ''),
        row('503s the accounts answered', (o) => fmt(o.accountRefusals), undefined, '0'),
      ],
    ),
  ].join('\n');
}

function bigfiles(r) {
  const cell = (t) => `${fmt(t.seconds, 1)} s, ${fmt(t.mibPerSec)} MiB/s${t.ok ? '' : ` (FAILED: ${t.status || t.error})`}`;
  const m = r.davgateMemoryMiB;
  return [
    table(
      ['1 GiB', 'direct Apache', 'nginx', 'davgate', 'davgate ÷ direct / ÷ nginx'],
      [
        ['PUT', cell(r.direct.PUT), cell(r.nginx.PUT), cell(r.davgate.PUT), `${x(r.ratios.putVsDirect)} / ${x(r.ratios.putVsNginx)}`],
        ['GET', cell(r.direct.GET), cell(r.nginx.GET), cell(r.davgate.GET), `${x(r.ratios.getVsDirect)} / ${x(r.ratios.getVsNginx)}`],
      ],
    ),
    '',
    `davgate RSS: ${m.restRss} MiB at rest (target < 80), peak ${m.peakRssDuringPut} MiB during the PUT and ${m.peakRssDuringGet} MiB during the GET ` +
      `(growth ${m.growthDuringGet} MiB, target < 64); VmHWM ${m.vmHwm} MiB.`,
  ].join('\n');
}

function listings(r) {
  const rows = Object.entries(r.upstreams).map(([id, s]) => [`Apache ${id} alone, ${fmt(r.perUpstream)} members`, fmt(s.rps, 1), ms(s.p50), ms(s.p99), '', '']);
  rows.push([`davgate, ${fmt(r.merged)} merged`, fmt(r.davgate.rps, 1), ms(r.davgate.p50), ms(r.davgate.p99), `${x(r.p50VsSlowest)} / ${x(r.p99VsSlowest)}`, fmt(r.cpuMsPerListing, 1)]);
  return table(['PROPFIND Depth 1, c=1', 'listings/s', 'p50 ms', 'p99 ms', `÷ slowest (${r.slowest}) p50 / p99`, 'davgate CPU ms per listing'], rows);
}

function idle(r) {
  return table(
    ['relay drops idle after', 'run', 'requests', 'client errors', 'answers', 'upstreams marked down', 'p50 / p99 ms', 'relay resets'],
    [
      [
        `${fmt(r.idleDropMs)} ms`,
        `${r.seconds} s, ${r.bursts} bursts`,
        fmt(r.requests),
        `${fmt(r.clientErrors)} (target 0)`,
        Object.entries(r.statuses).map(([k, v]) => `${k}×${v}`).join(', '),
        `${r.upstreamsMarkedDown}${r.upstreamsEverDown.length ? ` (${r.upstreamsEverDown.join(', ')}; ${r.downSamples}/${r.samples} samples)` : ''} (target 0)`,
        `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`,
        fmt(r.relays.reduce((a, s) => a + s.resets, 0)),
      ],
    ],
  );
}

const RENDERERS = { overhead, scaling, plan, bigfiles, listings, idle };

/** The Markdown for a report (the object bench/run.js writes). */
export function render(report) {
  const m = report.machine;
  const out = [
    `davgate ${m.commit ?? '?'}${m.dirty ? ' (modified)' : ''} · Node ${m.node} · ${m.cpuModel} (${m.cores} cores, load ${m.loadAverage1m} at start) · ` +
      `${report.params.durationS} s × ${report.params.rounds} interleaved rounds, median · ${report.date.slice(0, 10)} · whole run ${report.seconds ?? '?'} s`,
  ];
  for (const [name, s] of Object.entries(report.scenarios)) {
    const p = s.params;
    const own = p ? `${p.durationS} s × ${p.rounds} rounds` : '';
    const earlier = s.date?.slice(0, 10) !== report.date.slice(0, 10) || s.commit !== m.commit;
    out.push('', `**${name}**: ${s.description}${s.seconds !== undefined ? ` (${s.seconds} s` : ' ('}${earlier ? `; from an earlier run: ${s.commit ?? '?'}, ${s.date?.slice(0, 10)}, ${own}` : ''})`, '');
    if (s.error) out.push(`failed: ${s.error}`);
    else if (RENDERERS[name]) out.push(RENDERERS[name](s.result));
    else out.push('```json', JSON.stringify(s.result), '```');
  }
  return out.join('\n');
}

function main() {
  const { values } = parseArgs({ options: { in: { type: 'string', default: path.join(HERE, 'results', 'latest.json') }, write: { type: 'string' } } });
  const md = render(JSON.parse(readFileSync(values.in, 'utf8')));
  if (!values.write) {
    console.log(md);
    return;
  }
  const text = readFileSync(values.write, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${values.write} has no ${START} … ${END} markers`);
  writeFileSync(values.write, `${text.slice(0, a + START.length)}\n${md}\n${text.slice(b)}`);
  console.error(`render: wrote the table into ${values.write}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
