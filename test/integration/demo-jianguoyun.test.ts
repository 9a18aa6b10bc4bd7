/**
 * `davgate demo --profile jianguoyun`, run as a user would: the built CLI (`node bin/davgate.js`, needs
 * `npm run build` first) in its own process on port 0. Three simulated 坚果云 accounts keep their files in
 * `<data>/<id>/我的坚果云/`; a file PUT through the gateway comes back by GET, shows in the listing and lies in
 * exactly one account's sandbox folder. Stopped by SIGTERM to its PID. Also: an unknown `--profile` is a usage
 * error naming the flag, and without `--profile` the demo still runs the generic upstreams.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { davRequest } from '../helpers/harness.js';
import { parseMultistatus } from '../../src/dav/multistatus.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'davgate.js');
const DEMO = { username: 'demo', password: 'demo' };
const SANDBOX = '我的坚果云';

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  t.fail('dist/cli.js is missing: run `npm run build` before the integration tests');
  process.exit(1);
}

/** A clean environment: the host's WEBDAV_* / DAVGATE_* must not reach the demo's config. */
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

interface RunningDemo {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM to the PID (SIGKILL after 15 s); resolves with the exit code. */
  stop(): Promise<number | null>;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Starts `davgate demo <args> --port 0` and waits for its banner (which carries the real port). */
async function startDemo(t: { teardown(fn: () => unknown): void }, args: string[]): Promise<RunningDemo> {
  const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const stop = async (): Promise<number | null> => {
    const done = exited(child);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 15_000);
      const code = await done;
      clearTimeout(timer);
      return code;
    }
    return done;
  };
  t.teardown(stop);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner after 30 s:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /davgate demo is running at (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(m[1]!);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited (${code}) before its banner:\n${out}`));
    });
  });
  return { url, child, output: () => out, stop };
}

t.test('demo --profile jianguoyun: PUT, GET and list through three simulated accounts, then stop', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'davgate-demo-jgy-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const demo = await startDemo(t, ['--profile', 'jianguoyun', '--data', data]);
  const banner = demo.output();
  t.match(banner, /profile: jianguoyun/, 'the banner names the profile');
  for (const id of ['a', 'b', 'c']) {
    t.ok(banner.includes(`account ${id}: `) && banner.includes(`files in ${join(data, id, SANDBOX)}`), `the banner says where account ${id} keeps its files`);
  }
  t.match(banner, /allows 600 requests per 30 min/, 'the accounts run the simulator’s real free-plan budget');
  t.match(banner, /at most 540 of them, at least 200 ms apart/, 'davgate runs its real default share');

  const body = `你好, 坚果云 ${Date.now()}\n`;
  const put = await davRequest(`${demo.url}${encodeURIComponent('笔记.txt')}`, 'PUT', { auth: DEMO, body });
  t.equal(put.status, 201, 'PUT through the gateway');
  const get = await davRequest(`${demo.url}${encodeURIComponent('笔记.txt')}`, 'GET', { auth: DEMO });
  t.equal(get.status, 200);
  t.equal(get.body, body, 'GET returns the bytes');
  const list = await davRequest(demo.url, 'PROPFIND', { auth: DEMO, headers: { depth: '1' } });
  t.equal(list.status, 207, 'PROPFIND Depth 1 of the root');
  // Namespace-aware: each response keeps the prefix the account wrote (`d:`).
  t.ok(parseMultistatus(list.body).some((r) => r.href === `/${encodeURIComponent('笔记.txt')}`), 'the listing shows the file');
  t.notMatch(list.body, /\/dav\//, 'no upstream path in the listing');

  const holders = ['a', 'b', 'c'].filter((id) => existsSync(join(data, id, SANDBOX, '笔记.txt')));
  t.equal(holders.length, 1, `the file lies in exactly one account's sandbox folder (${holders.join(', ')})`);
  if (holders[0]) t.equal(readFileSync(join(data, holders[0], SANDBOX, '笔记.txt'), 'utf8'), body);

  const status = await davRequest(`${demo.url}api/admin/webdav/status`, 'GET', { auth: null, headers: { authorization: 'Bearer demo-admin-token' } });
  t.equal(status.status, 200);
  const upstreams = (JSON.parse(status.body) as { upstreams: { id: string; profile: string; budgetRemaining: number | null }[] }).upstreams;
  t.same(upstreams.map((u) => [u.id, u.profile]), [['a', 'jianguoyun'], ['b', 'jianguoyun'], ['c', 'jianguoyun']], 'every upstream runs profile jianguoyun');
  t.ok(upstreams.every((u) => typeof u.budgetRemaining === 'number' && u.budgetRemaining <= 540), 'with a budget');

  t.equal(await demo.stop(), 0, 'SIGTERM stops the demo with exit code 0');
  t.ok(existsSync(join(data, 'a', SANDBOX)), 'a --data folder is kept after the demo stops');
});

t.test('an unknown --profile is a usage error naming the flag', async (t) => {
  const r = spawnSync(process.execPath, [BIN, 'demo', '--port', '0', '--profile', 'nutstore'], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /--profile/);
  t.match(r.stderr, /generic or jianguoyun/);
  t.match(r.stderr, /"nutstore"/);
  t.notMatch(r.stdout, /running at/, 'nothing started');
});

t.test('without --profile the demo runs the generic upstreams', async (t) => {
  const demo = await startDemo(t, []);
  t.match(demo.output(), /profile: generic/);
  t.notMatch(demo.output(), /jianguoyun/);
  const put = await davRequest(`${demo.url}g.txt`, 'PUT', { auth: DEMO, body: 'g' });
  t.equal(put.status, 201);
  t.equal(await demo.stop(), 0);
});
