#!/usr/bin/env node
/**
 * davgate benchmarks: each scenario runs against one upstream directly (the baseline) and then through the
 * gateway over three upstreams, in the same run, with the same load. Writes bench/results/latest.json and
 * prints a Markdown table.
 *
 *   npm run bench                              # build, then all scenarios, 5 s each, 16 connections
 *   node bench/run.js --duration 10 --scenario get-4k
 *   node bench/run.js --dist /path/to/other/dist --out /tmp/other.json   # benchmark another build
 *
 * Three processes, so that the load generator, the gateway and the upstreams do not share one event loop:
 * this one (fixtures and autocannon), a child with the three in-process WebDAV upstreams, and a child with the
 * gateway. Everything listens on 127.0.0.1 port 0. Every run is bounded by --duration; a watchdog ends the
 * whole benchmark if it hangs.
 *
 * Plain ESM JavaScript on purpose: it needs no TypeScript loader and imports only the compiled dist/.
 */
import { fork, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

/** Defaults, named so the README can cite them. */
const BENCH_DEFAULTS = Object.freeze({
  durationS: 5,
  warmupS: 1,
  connections: 16,
  upstreams: 3,
  listMembers: 200,
  getBytes: 4 * 1024,
  putBytes: 64 * 1024,
  /** Distinct PUT targets, so 16 connections never write one file at once. */
  putFiles: 64,
  /** Whole-benchmark watchdog (ms). */
  watchdogMs: 10 * 60_000,
  /** Per fixture request (ms). */
  fixtureTimeoutMs: 15_000,
  /** bcrypt cost for the bench user; the gateway caches verified credentials, so this is paid once. */
  bcryptCost: 10,
});

const SCENARIOS = Object.freeze({
  'get-4k': 'GET of one 4 KiB file',
  'propfind-200': 'PROPFIND Depth: 1 of a 200-member collection',
  'put-64k': 'PUT of 64 KiB files',
});

const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/>' +
  '<D:getetag/><D:getcontenttype/></D:prop></D:propfind>';

// ---------------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------------

/** Runs inside a child: `--child upstreams` or `--child gateway`; talks to the parent over IPC. */
async function child(role, distDir) {
  // If the parent dies, so do we: no orphaned servers.
  process.on('disconnect', () => process.exit(0));
  const dist = (rel) => pathToFileURL(path.join(distDir, rel)).href;
  try {
    if (role === 'upstreams') {
      const { startDavUpstreams } = await import(dist('demo/upstreams.js'));
      const count = Number(process.env.DAVGATE_BENCH_UPSTREAMS ?? BENCH_DEFAULTS.upstreams);
      const group = await startDavUpstreams({ count });
      process.once('message', async () => {
        await group.stop();
        process.exit(0);
      });
      process.send({
        ready: true,
        upstreams: group.upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username, password: u.password })),
      });
    } else if (role === 'gateway') {
      // Ask for the config only once listening for it: a message sent before a listener exists is lost.
      const configP = new Promise((resolve) => process.once('message', resolve));
      process.send({ want: 'config' });
      const [{ startServer }, { loadConfig }, object] = await Promise.all([
        import(dist('server.js')),
        import(dist('config/load.js')),
        configP,
      ]);
      // Validated like a config file, with the defaults users get.
      const server = await startServer(loadConfig({ object, env: {} }));
      process.once('message', async () => {
        await server.close();
        process.exit(0);
      });
      process.send({ ready: true, url: server.url });
    } else {
      throw new Error(`unknown child role ${role}`);
    }
  } catch (err) {
    process.send({ ready: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  }
}

/** Starts a child of this script and waits for its `ready` message. */
function startChild(role, distDir, firstMessage) {
  const proc = fork(fileURLToPath(import.meta.url), ['--child', role, '--dist', distDir], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 30 s`)), 30_000);
    const onMessage = (msg) => {
      if (msg.want === 'config') {
        proc.send(firstMessage);
        return;
      }
      clearTimeout(timer);
      proc.off('message', onMessage);
      if (msg.ready) resolve({ proc, info: msg });
      else reject(new Error(`${role} failed to start:\n${msg.error}`));
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited early with code ${code}`));
    });
  });
}

/** Asks a child to stop; kills it by its own PID if it has not exited within 15 s. */
async function stopChild(child) {
  if (!child || child.proc.exitCode !== null) return;
  const exited = new Promise((resolve) => child.proc.once('exit', resolve));
  try {
    child.proc.send({ stop: true });
  } catch {
    // channel already closed
  }
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------

function basic(username, password) {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** One fixture request; throws unless the status is one of `ok`. */
async function dav(url, { method = 'GET', auth, headers = {}, body, ok = [200, 201, 204, 207] } = {}) {
  const res = await fetch(url, {
    method,
    headers: { authorization: auth, ...headers },
    body,
    signal: AbortSignal.timeout(BENCH_DEFAULTS.fixtureTimeoutMs),
  });
  await res.arrayBuffer();
  if (!ok.includes(res.status)) throw new Error(`${method} ${url} answered ${res.status}`);
  return res.status;
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function eachLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Makes the same tree through the gateway (`/bench/…`, placed by davgate) and directly on the first upstream
 * (`<account>/bench-direct/…`): a 4 KiB file, a 200-member collection, and the PUT targets' folder.
 */
async function makeFixtures(gw, gwAuth, upstreams) {
  const direct = upstreams[0];
  const directAuth = basic(direct.username, direct.password);
  const small = randomBytes(64);
  const fourK = randomBytes(BENCH_DEFAULTS.getBytes);
  const names = Array.from({ length: BENCH_DEFAULTS.listMembers }, (_, i) => `member-${String(i).padStart(3, '0')}.txt`);

  for (const [base, auth, root] of [
    [gw, gwAuth, 'bench/'],
    [direct.url, directAuth, 'bench-direct/'],
  ]) {
    for (const dir of [root, `${root}list/`, `${root}put/`]) {
      await dav(`${base}${dir}`, { method: 'MKCOL', auth, ok: [201, 405] });
    }
    await dav(`${base}${root}get-4k.bin`, { method: 'PUT', auth, body: fourK });
    await eachLimit(names, 8, (n) => dav(`${base}${root}list/${n}`, { method: 'PUT', auth, body: small }));
  }

  // The GET baseline reads the same file from the account davgate placed it on, so the two rows differ only by
  // the gateway. If it cannot be found (a layout this script does not expect), use the direct copy.
  let getHolder = direct;
  let getPath = 'bench-direct/get-4k.bin';
  for (const u of upstreams) {
    const res = await fetch(`${u.url}bench/get-4k.bin`, {
      method: 'HEAD',
      headers: { authorization: basic(u.username, u.password) },
      signal: AbortSignal.timeout(BENCH_DEFAULTS.fixtureTimeoutMs),
    });
    if (res.status === 200) {
      getHolder = u;
      getPath = 'bench/get-4k.bin';
      break;
    }
  }

  // Count what a PROPFIND through the gateway returns, to show the merge really covers every account.
  const spread = [];
  for (const u of upstreams) {
    const res = await fetch(`${u.url}bench/list/`, {
      method: 'PROPFIND',
      headers: { authorization: basic(u.username, u.password), depth: '1', 'content-type': 'application/xml' },
      body: PROPFIND_BODY,
      signal: AbortSignal.timeout(BENCH_DEFAULTS.fixtureTimeoutMs),
    });
    const text = await res.text();
    spread.push(Math.max(0, (text.match(/<(?:[A-Za-z]+:)?response[\s>]/g) ?? []).length - 1));
  }
  return { getHolder, getPath, listSpread: spread };
}

// ---------------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------------

/** One autocannon run; `requests` as autocannon takes them, cycled across connections by a shared counter. */
async function load(autocannon, { url, requests, durationS, connections }) {
  let i = 0;
  const spread = requests.map((r) => ({
    ...r,
    // Each connection would otherwise start at requests[0]: all 16 would write the same file at once.
    setupRequest: (req) => ({ ...req, ...requests[i++ % requests.length] }),
  }));
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 30,
    requests: [spread[0]],
  });
  const statusCounts = {};
  for (const [code, n] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = n.count;
  return {
    requestsPerSec: round(result.requests.average, 1),
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: round(result.latency.average, 2),
      max: result.latency.max,
    },
    throughputBytesPerSec: Math.round(result.throughput.average),
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCounts,
  };
}

/**
 * autocannon 8 refuses any method outside RFC 7231 + PATCH (`lib/httpMethods.js`, checked when each request is
 * built). That list is one shared array, so adding the WebDAV methods to it is enough. Fails loudly if a later
 * autocannon moves it.
 */
function allowDavMethods() {
  const require = createRequire(import.meta.url);
  let methods;
  try {
    methods = require('autocannon/lib/httpMethods.js');
  } catch {
    methods = undefined;
  }
  if (!Array.isArray(methods)) {
    throw new Error('autocannon/lib/httpMethods.js is gone or changed: PROPFIND cannot be benchmarked with this autocannon');
  }
  for (const m of ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']) {
    if (!methods.includes(m)) methods.push(m);
  }
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The per-scenario request lists for the baseline and the gateway. */
function scenarioRequests(name, gwUrl, gwAuth, fx, upstreams) {
  const direct = upstreams[0];
  const directAuth = basic(direct.username, direct.password);
  const pathOf = (u) => new URL(u).pathname; // both ends with '/'
  switch (name) {
    case 'get-4k':
      return {
        baseline: {
          target: `upstream ${fx.getHolder.id} (direct)`,
          url: fx.getHolder.url,
          requests: [{ method: 'GET', path: `${pathOf(fx.getHolder.url)}${fx.getPath}`, headers: { authorization: basic(fx.getHolder.username, fx.getHolder.password) } }],
        },
        davgate: {
          target: `davgate over ${upstreams.length}`,
          url: gwUrl,
          requests: [{ method: 'GET', path: `${pathOf(gwUrl)}bench/get-4k.bin`, headers: { authorization: gwAuth } }],
        },
      };
    case 'propfind-200': {
      const headers = (auth) => ({ authorization: auth, depth: '1', 'content-type': 'application/xml; charset=utf-8' });
      return {
        baseline: {
          target: `upstream ${direct.id} (direct)`,
          url: direct.url,
          requests: [{ method: 'PROPFIND', path: `${pathOf(direct.url)}bench-direct/list/`, headers: headers(directAuth), body: PROPFIND_BODY }],
        },
        davgate: {
          target: `davgate over ${upstreams.length} (merged)`,
          url: gwUrl,
          requests: [{ method: 'PROPFIND', path: `${pathOf(gwUrl)}bench/list/`, headers: headers(gwAuth), body: PROPFIND_BODY }],
        },
      };
    }
    case 'put-64k': {
      const body = randomBytes(BENCH_DEFAULTS.putBytes);
      const files = Array.from({ length: BENCH_DEFAULTS.putFiles }, (_, i) => `f${String(i).padStart(2, '0')}.bin`);
      const reqs = (prefix, auth) =>
        files.map((f) => ({
          method: 'PUT',
          path: `${prefix}${f}`,
          // autocannon sets Content-Length from the body.
          headers: { authorization: auth, 'content-type': 'application/octet-stream' },
          body,
        }));
      return {
        baseline: { target: `upstream ${direct.id} (direct)`, url: direct.url, requests: reqs(`${pathOf(direct.url)}bench-direct/put/`, directAuth) },
        davgate: { target: `davgate over ${upstreams.length}`, url: gwUrl, requests: reqs(`${pathOf(gwUrl)}bench/put/`, gwAuth) },
      };
    }
    default:
      throw new Error(`unknown scenario ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  let commit;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    commit = undefined;
  }
  return {
    node: process.version,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    commit,
  };
}

function ratio(a, b) {
  return b > 0 ? round(a / b, 2) : null;
}

function markdown(report) {
  const lines = [
    `davgate ${report.machine.commit ?? ''} · Node ${report.machine.node} · ${report.machine.cpuModel} (${report.machine.cores} cores) · ` +
      `${report.params.connections} connections · ${report.params.durationS} s per run · ${report.date.slice(0, 10)}`,
    '',
    '| scenario | target | req/s | p50 ms | p99 ms | davgate/baseline req/s | p50 ratio | p99 ratio | non-2xx / errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of report.scenarios) {
    for (const side of ['baseline', 'davgate']) {
      const r = s[side];
      const isGw = side === 'davgate';
      lines.push(
        `| ${isGw ? '' : s.description} | ${r.target} | ${r.requestsPerSec} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ` +
          `${isGw ? s.ratio.requestsPerSec : ''} | ${isGw ? s.ratio.p50 : ''} | ${isGw ? s.ratio.p99 : ''} | ${r.non2xx} / ${r.errors + r.timeouts} |`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      dist: { type: 'string', default: path.join(ROOT, 'dist') },
      duration: { type: 'string', default: String(BENCH_DEFAULTS.durationS) },
      connections: { type: 'string', default: String(BENCH_DEFAULTS.connections) },
      scenario: { type: 'string', multiple: true },
      out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const distDir = path.resolve(values.dist);
  if (values.child) return child(values.child, distDir);
  if (values.help) {
    console.log('usage: node bench/run.js [--duration S] [--connections N] [--scenario NAME]... [--dist DIR] [--out FILE]');
    console.log(`scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
    return;
  }

  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  if (!(durationS > 0 && durationS <= 60)) throw new Error('--duration must be in (0, 60] seconds');
  if (!(Number.isInteger(connections) && connections >= 1 && connections <= 256)) throw new Error('--connections must be 1..256');
  const scenarios = values.scenario ?? Object.keys(SCENARIOS);
  for (const s of scenarios) if (!(s in SCENARIOS)) throw new Error(`unknown --scenario ${s}; known: ${Object.keys(SCENARIOS).join(', ')}`);

  for (const rel of ['server.js', 'demo/upstreams.js', 'config/schema.js']) {
    if (!existsSync(path.join(distDir, rel))) {
      throw new Error(`${path.join(distDir, rel)} is missing: run \`npm run build\` first (npm run bench does)`);
    }
  }

  const watchdog = setTimeout(() => {
    console.error(`bench: watchdog: still running after ${BENCH_DEFAULTS.watchdogMs / 1000} s, giving up`);
    process.exit(2);
  }, BENCH_DEFAULTS.watchdogMs);
  watchdog.unref();

  allowDavMethods();
  const [{ default: autocannon }, { default: bcrypt }, { DEFAULTS }] = await Promise.all([
    import('autocannon'),
    import('bcryptjs'),
    import(pathToFileURL(path.join(distDir, 'config/schema.js')).href),
  ]);

  let ups;
  let gw;
  try {
    ups = await startChild('upstreams', distDir);
    const upstreams = ups.info.upstreams;

    const user = { username: 'bench', password: randomBytes(12).toString('base64url') };
    // The config file's shape; the gateway child validates it with loadConfig (defaults as for users).
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: upstreams.map((u) => ({
        id: u.id,
        url: u.url,
        username: u.username,
        password: u.password,
        // At least the client's connection count, so the per-account limiter measures itself, not a queue.
        maxConcurrent: Math.max(DEFAULTS.maxConcurrent, connections),
      })),
      auth: {
        mode: 'basic',
        users: [{ username: user.username, passwordHash: bcrypt.hashSync(user.password, BENCH_DEFAULTS.bcryptCost) }],
      },
      log: { level: 'silent' },
    };
    gw = await startChild('gateway', distDir, config);
    const gwUrl = gw.info.url.endsWith('/') ? gw.info.url : `${gw.info.url}/`;
    const gwAuth = basic(user.username, user.password);

    console.error(`bench: upstreams ${upstreams.map((u) => u.url).join(' ')}; davgate ${gwUrl}`);
    const fx = await makeFixtures(gwUrl, gwAuth, upstreams);
    console.error(`bench: GET baseline reads from upstream ${fx.getHolder.id}; list members per account ${fx.listSpread.join('/')}`);

    const results = [];
    for (const name of scenarios) {
      const sides = scenarioRequests(name, gwUrl, gwAuth, fx, upstreams);
      const entry = { name, description: SCENARIOS[name] };
      for (const side of ['baseline', 'davgate']) {
        const { target, url, requests } = sides[side];
        console.error(`bench: ${name} / ${side}: warm-up ${BENCH_DEFAULTS.warmupS} s, then ${durationS} s`);
        await load(autocannon, { url, requests, durationS: BENCH_DEFAULTS.warmupS, connections });
        entry[side] = { target, ...(await load(autocannon, { url, requests, durationS, connections })) };
        if (entry[side].non2xx > 0 || entry[side].errors > 0) {
          console.error(`bench: WARNING ${name} / ${side}: ${entry[side].non2xx} non-2xx, ${entry[side].errors} errors ${JSON.stringify(entry[side].statusCounts)}`);
        }
      }
      entry.ratio = {
        requestsPerSec: ratio(entry.davgate.requestsPerSec, entry.baseline.requestsPerSec),
        p50: ratio(entry.davgate.latencyMs.p50, entry.baseline.latencyMs.p50),
        p99: ratio(entry.davgate.latencyMs.p99, entry.baseline.latencyMs.p99),
      };
      results.push(entry);
    }

    const report = {
      date: new Date().toISOString(),
      machine: machine(),
      params: {
        durationS,
        warmupS: BENCH_DEFAULTS.warmupS,
        connections,
        upstreams: upstreams.length,
        listMembers: BENCH_DEFAULTS.listMembers,
        listMembersPerAccount: fx.listSpread,
        getBytes: BENCH_DEFAULTS.getBytes,
        putBytes: BENCH_DEFAULTS.putBytes,
        putFiles: BENCH_DEFAULTS.putFiles,
        auth: 'basic (bcrypt cost 10 on the gateway; plain Basic on the upstreams)',
        processes: 'autocannon | davgate | 3 webdav-server upstreams, one process each, all on 127.0.0.1',
      },
      scenarios: results,
    };
    await mkdir(path.dirname(values.out), { recursive: true });
    const tmp = `${values.out}.tmp`;
    await writeFile(tmp, `${JSON.stringify(report, null, 2)}\n`);
    await rename(tmp, values.out);
    console.error(`bench: wrote ${path.relative(process.cwd(), values.out)}`);
    console.log(markdown(report));
  } finally {
    await stopChild(gw);
    await stopChild(ups);
  }
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
