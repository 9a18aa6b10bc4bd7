#!/usr/bin/env node
/**
 * davgate benchmark suite (issue 8 part 6). Real upstreams: three Debian apache2 (mod_dav_fs, Basic auth),
 * nginx as the peer (`hash $uri consistent` over the same three), davgate in its own child process, simulated
 * accounts (dist/sim/jianguoyun.js) where an account's limits are the point. See bench/README.md.
 *
 *   npm run bench                         # build, then every scenario (< 15 min on 2 cores)
 *   npm run bench -- overhead listings    # build, then the scenarios named
 *   node bench/run.js overhead --duration 10 --rounds 5   # after npm run build
 *
 * Writes bench/results/latest.json (a scenario run alone replaces only its own entry) and
 * bench/results/latest.md (the Markdown of `node bench/render.js`), and prints that Markdown.
 *
 * Plain ESM JavaScript on purpose: no TypeScript loader; it imports only the compiled dist/.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startApacheCluster } from './lib/apache.js';
import { startGateway } from './lib/children.js';
import { basic, log, round } from './lib/load.js';
import { startNginx } from './lib/nginx.js';
import { killAllSync, removeDir } from './lib/procs.js';
import { render } from './render.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

/** Defaults, named so the README can cite them. */
export const BENCH_DEFAULTS = Object.freeze({
  durationS: 5,
  warmupS: 1,
  rounds: 3,
  connections: 16,
  idleS: 60,
  /** Whole-suite watchdog (min): everything still running is killed by PID and the bench exits 2. */
  watchdogMin: 20,
  /** bcrypt cost of the bench user; davgate caches verified credentials, so it is paid once. */
  bcryptCost: 10,
});

/** Scenario names in run order; each is `bench/scenarios/<name>.js` exporting `description` and `run(ctx)`. */
export const SCENARIOS = ['overhead', 'scaling', 'plan', 'bigfiles', 'listings', 'idle'];

function machine() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return undefined;
    }
  };
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    loadAverage1m: round(os.loadavg()[0], 2),
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain', '--untracked-files=no') ? true : undefined,
  };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dist: { type: 'string', default: path.join(ROOT, 'dist') },
      duration: { type: 'string', default: String(BENCH_DEFAULTS.durationS) },
      rounds: { type: 'string', default: String(BENCH_DEFAULTS.rounds) },
      connections: { type: 'string', default: String(BENCH_DEFAULTS.connections) },
      'idle-seconds': { type: 'string', default: String(BENCH_DEFAULTS.idleS) },
      scenario: { type: 'string', multiple: true },
      out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: node bench/run.js [NAME...] [--duration S] [--rounds N] [--connections N] [--idle-seconds S] [--dist DIR] [--out FILE]');
    console.log(`scenarios: ${SCENARIOS.join(', ')}`);
    return;
  }
  const opts = {
    durationS: Number(values.duration),
    warmupS: BENCH_DEFAULTS.warmupS,
    rounds: Number(values.rounds),
    connections: Number(values.connections),
    idleS: Number(values['idle-seconds']),
  };
  if (!(opts.durationS > 0 && opts.durationS <= 60)) throw new Error('--duration must be in (0, 60] seconds');
  if (!(Number.isInteger(opts.rounds) && opts.rounds >= 1 && opts.rounds <= 9)) throw new Error('--rounds must be 1..9');
  if (!(Number.isInteger(opts.connections) && opts.connections >= 1 && opts.connections <= 256)) throw new Error('--connections must be 1..256');
  if (!(opts.idleS >= 5 && opts.idleS <= 300)) throw new Error('--idle-seconds must be in [5, 300]');
  const names = [...positionals, ...(values.scenario ?? [])];
  const chosen = names.length ? names : SCENARIOS;
  for (const n of chosen) if (!SCENARIOS.includes(n)) throw new Error(`unknown scenario ${n}; known: ${SCENARIOS.join(', ')}`);

  const distDir = path.resolve(values.dist);
  for (const rel of ['server.js', 'config/load.js', 'sim/jianguoyun.js', 'sim/relay.js']) {
    if (!existsSync(path.join(distDir, rel))) throw new Error(`${path.join(distDir, rel)} is missing: run \`npm run build\` first (npm run bench does)`);
  }

  const started = Date.now();
  const watchdog = setTimeout(() => {
    console.error(`bench: watchdog: still running after ${BENCH_DEFAULTS.watchdogMin} min; stopping every child by PID`);
    killAllSync();
    process.exit(2);
  }, BENCH_DEFAULTS.watchdogMin * 60_000);
  watchdog.unref();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(`bench: ${sig}: stopping every child by PID`);
      killAllSync();
      process.exit(130);
    });
  }

  const { default: bcrypt } = await import('bcryptjs');
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'davgate-bench-'));
  chmodSync(tmpRoot, 0o755); // the servers' worker user (www-data when root) must traverse it
  const creds = { username: 'bench', password: randomBytes(12).toString('base64url') };
  const gwUser = { username: 'client', password: randomBytes(12).toString('base64url') };
  let cluster;
  const ctx = {
    opts,
    distDir,
    tmpRoot,
    creds,
    apacheAuth: basic(creds.username, creds.password),
    gwAuth: basic(gwUser.username, gwUser.password),
    /** The 3 Apache and nginx over them, started on first use and shared by the scenarios that need them. */
    async cluster() {
      if (!cluster) {
        const c = await startApacheCluster({ count: 3, ...creds, tmpRoot });
        let nginx;
        try {
          nginx = await startNginx({ apaches: c.instances, tmpRoot });
        } catch (err) {
          await c.stop();
          throw err;
        }
        cluster = { apaches: c.instances, nginx, stop: async () => (await nginx.stop(), await c.stop()) };
        log(`apache ${c.instances.map((a) => `${a.id}=${a.url} (pid ${a.pid})`).join(', ')}; nginx ${nginx.url} (pid ${nginx.pid})`);
      }
      return cluster;
    },
    /** davgate in a child over `upstreams` (`{id, url, username?, password?}`; Apache credentials by default). */
    gateway(upstreams, { maxConcurrent = 4, extra } = {}) {
      return startGateway(distDir, {
        upstreams: upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username ?? creds.username, password: u.password ?? creds.password })),
        user: { username: gwUser.username, passwordHash: bcrypt.hashSync(gwUser.password, BENCH_DEFAULTS.bcryptCost) },
        maxConcurrent,
        extra,
      });
    },
  };

  const previous = existsSync(values.out) ? JSON.parse(readFileSync(values.out, 'utf8')) : undefined;
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    params: { ...opts, processes: 'load generator | davgate child | 3 apache2 (mpm_event) | nginx (1 worker) | simulated accounts child; all on 127.0.0.1' },
    // A run of some scenarios keeps the others' last results (each entry says when and at which commit it ran).
    scenarios: previous?.scenarios && !Array.isArray(previous.scenarios) ? { ...previous.scenarios } : {},
  };
  let failed = false;
  try {
    for (const name of chosen) {
      const mod = await import(`./scenarios/${name}.js`);
      log(`=== ${name}: ${mod.description}`);
      const t0 = Date.now();
      try {
        const result = await mod.run(ctx);
        report.scenarios[name] = { description: mod.description, date: new Date().toISOString(), commit: report.machine.commit, params: opts, seconds: round((Date.now() - t0) / 1000, 0), result };
        log(`=== ${name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
      } catch (err) {
        failed = true;
        console.error(`bench: ${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        report.scenarios[name] = { description: mod.description, date: new Date().toISOString(), commit: report.machine.commit, error: err instanceof Error ? err.message : String(err) };
        // Missing binaries fail every later scenario the same way: stop here with the clear message.
        if (/is missing: install the Debian package/.test(String(err?.message))) throw err;
      }
    }
  } finally {
    await cluster?.stop();
    removeDir(tmpRoot);
  }
  report.seconds = round((Date.now() - started) / 1000, 0);
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(`${values.out}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(`${values.out}.tmp`, values.out);
  const md = render(report);
  writeFileSync(values.out.replace(/\.json$/, '.md'), `${md}\n`);
  log(`wrote ${path.relative(process.cwd(), values.out)} and its .md; total ${report.seconds} s`);
  console.log(md);
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  killAllSync();
  process.exitCode = 1;
});
