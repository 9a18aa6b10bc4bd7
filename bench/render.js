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

const RENDERERS = { overhead };

/** The Markdown for a report (the object bench/run.js writes). */
export function render(report) {
  const m = report.machine;
  const out = [
    `davgate ${m.commit ?? '?'}${m.dirty ? ' (modified)' : ''} · Node ${m.node} · ${m.cpuModel} (${m.cores} cores, load ${m.loadAverage1m} at start) · ` +
      `${report.params.durationS} s × ${report.params.rounds} interleaved rounds, median · ${report.date.slice(0, 10)} · whole run ${report.seconds ?? '?'} s`,
  ];
  for (const [name, s] of Object.entries(report.scenarios)) {
    out.push('', `**${name}**: ${s.description}${s.commit && s.commit !== m.commit ? ` (from an earlier run, ${s.commit})` : ''}`, '');
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
