#!/usr/bin/env node
/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes `*.cpuprofile`) by self time: the top functions, and the
 * same time grouped by file (davgate's own modules, each dependency, Node internals, GC, idle). Used to find the
 * per-request work on davgate's hot path (issue 8); see bench/README.md.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/davgate.js serve …   # put load on it, then stop it (SIGTERM)
 *   node bench/profile-summary.js /tmp/prof/CPU.*.cpuprofile [--top 40] [--match src/]
 *
 * `--match` keeps only functions whose file path contains the string (e.g. `dist/` for davgate's own code).
 * Self time is the time a function was on top of the stack; "total" adds everything it called (inclusive time,
 * counted once per sample even for recursion).
 *
 * Plain ESM JavaScript on purpose: no TypeScript loader needed, no dependencies.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, match: { type: 'string' } },
});
if (positionals.length === 0) {
  console.error('usage: node bench/profile-summary.js FILE.cpuprofile [--top N] [--match SUBSTRING]');
  process.exit(2);
}

for (const file of positionals) summarise(file, Number(values.top), values.match);

/** Prints the self-time and inclusive-time tables of one profile. */
function summarise(file, top, match) {
  /** @type {{nodes: {id:number, callFrame:{functionName:string,url:string,lineNumber:number}, children?:number[]}[], samples:number[], timeDeltas:number[], startTime:number, endTime:number}} */
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Time per sample: timeDeltas[i] is the gap before sample i, so sample i lasted timeDeltas[i + 1].
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + dt);
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busyUs = totalUs - idleUs;

  const label = (cf) => `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
  const fnSelf = new Map();
  const groupSelf = new Map();
  const fnTotal = new Map();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') continue;
    fnSelf.set(label(cf), (fnSelf.get(label(cf)) ?? 0) + us);
    groupSelf.set(group(cf), (groupSelf.get(group(cf)) ?? 0) + us);
    // Inclusive: each distinct frame on this sample's stack gets the time once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur).callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      fnTotal.set(l, (fnTotal.get(l) ?? 0) + us);
    }
  }

  const pct = (us) => ((100 * us) / busyUs).toFixed(1).padStart(5) + '%';
  const ms = (us) => (us / 1000).toFixed(0).padStart(7) + ' ms';
  console.log(`${file}\n  wall ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (${((100 * busyUs) / totalUs).toFixed(0)}%); percentages are of busy time\n`);
  console.log('by file (self time)');
  for (const [g, us] of [...groupSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${ms(us)}  ${g}`);
  const keep = ([l]) => !match || l.includes(match);
  console.log(`\ntop functions by self time${match ? ` (matching ${match})` : ''}`);
  for (const [l, us] of [...fnSelf].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${ms(us)}  ${l}`);
  console.log(`\ntop functions by total (inclusive) time${match ? ` (matching ${match})` : ''}`);
  for (const [l, us] of [...fnTotal].filter(keep).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${ms(us)}  ${l}`);
  console.log('');
}

/** A file URL without the long prefix: `node_modules/x/…`, `dist/…`, or the Node internal name. */
function shortUrl(url) {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** The bucket a frame's self time is counted in: a dependency, a davgate module, a Node internal, or a V8 pseudo-frame. */
function group(cf) {
  if (!cf.url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  const nm = cf.url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = cf.url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = cf.url.lastIndexOf('/dist/');
  if (dist >= 0) return cf.url.slice(dist + 1);
  if (cf.url.startsWith('node:')) return 'node:' + cf.url.slice(5).split('/').slice(0, 2).join('/');
  return shortUrl(cf.url);
}
