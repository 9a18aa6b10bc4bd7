/**
 * Regression (finding 19): `limits.spoolDir` was not checked at start, so an unusable directory only showed up
 * later, as 507 on every PUT without Content-Length to a 坚果云 account (the vendor refuses chunked bodies,
 * jianguoyun.md §4 PUT row, so davgate spools them). Now startServer refuses with a ConfigError naming
 * `limits.spoolDir` when an enabled upstream needs the spool, before any request to an account.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { SPOOL_DIR_PREFIX } from '../../src/proxy/spool.js';
import { startServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const work = mkdtempSync(join(tmpdir(), 'davgate-spooldir-check-'));
const aFile = join(work, 'a-file');
writeFileSync(aFile, 'not a directory');
const missing = join(work, 'missing');

let sim: JianguoyunSim;
t.before(async () => {
  sim = await startJianguoyunSim({ budget: 100_000 });
});
t.teardown(async () => {
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A config with one upstream on the simulated account. */
function config(spoolDir: string | undefined, upstream: Record<string, unknown> = {}) {
  return loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: [
        { id: 'j0', url: `${sim.url}${SANDBOX}/`, username: sim.username, password: sim.password, profile: 'jianguoyun', ...upstream },
      ],
      auth: 'none',
      health: { intervalMs: 3_600_000 },
      log: { level: 'silent' },
      ...(spoolDir !== undefined ? { limits: { spoolDir } } : {}),
    },
  });
}

async function refusal(t: Test, cfg: ReturnType<typeof config>): Promise<ConfigError> {
  try {
    const s = await startServer(cfg);
    await s.close();
  } catch (err) {
    t.type(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected startServer to refuse');
}

t.test('a missing spool directory stops the start, naming limits.spoolDir, before any request to the account', async (t) => {
  const before = sim.counters.requests;
  const e = await refusal(t, config(missing));
  t.same(e.problems.map((p) => p.key), ['limits.spoolDir']);
  t.match(e.problems[0]!.message, /ENOENT/);
  t.match(e.problems[0]!.message, /upstreams\[0\]/, 'names the upstream that needs the spool');
  t.match(e.problems[0]!.message, /507/);
  t.equal(sim.counters.requests, before, 'refused before spending the account\'s budget');
});

t.test('a spool "directory" that is a file stops the start', async (t) => {
  const e = await refusal(t, config(aFile));
  t.same(e.problems.map((p) => p.key), ['limits.spoolDir']);
  t.match(e.problems[0]!.message, /ENOTDIR/);
});

t.test('a usable spool directory: davgate starts, leaves nothing behind, and a chunked PUT succeeds', async (t) => {
  const spool = mkdtempSync(join(work, 'spool-'));
  const s = await startServer(config(spool));
  t.teardown(() => s.close());
  t.same(readdirSync(spool), [], 'the start-up check removed its folder');
  // A PUT without Content-Length (chunked) goes through the spool to the account.
  const body = Readable.from([Buffer.from('hello '), Buffer.from('spool')]);
  const r = await request(new URL('chunked.txt', s.url), { method: 'PUT', body });
  await r.body.dump();
  t.equal(r.statusCode, 201);
  const g = await request(new URL('chunked.txt', s.url));
  t.equal(await g.body.text(), 'hello spool');
  t.same(readdirSync(spool).filter((n) => n.startsWith(SPOOL_DIR_PREFIX)), [], 'the spooled file is gone again');
});

t.test('no upstream needs the spool: a bad spoolDir does not stop the start', async (t) => {
  // A generic upstream streams chunked PUTs and never spools.
  const generic = await startServer(config(missing, { profile: 'generic' }));
  await generic.close();
  t.pass('generic upstream: started');
});

t.test('only enabled upstreams count: a disabled jianguoyun upstream does not need the spool', async (t) => {
  const s = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: [
          { id: 'g', url: `${sim.url}${SANDBOX}/`, username: sim.username, password: sim.password, profile: 'generic' },
          { id: 'j', url: 'http://127.0.0.1:9/dav/x/', profile: 'jianguoyun', enabled: false },
        ],
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
        limits: { spoolDir: missing },
      },
    }),
  );
  await s.close();
  t.pass('started');
});
