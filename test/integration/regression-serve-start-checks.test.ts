/**
 * Regressions (new-user trial, findings 3 and 10), with the built CLI as a user runs it:
 * - `davgate serve` with one unreachable account exited silently with status 13 in the middle of the start-up
 *   check (nothing kept Node alive yet); it must start, warn, and serve the other accounts;
 * - a misspelt sandbox made `serve` exit 1 with the folder percent-encoded; it exits 2 like every config
 *   mistake, naming the key and showing the folder as written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { stringify } from 'yaml';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'davgate.js');
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
const SANDBOX = encodeURIComponent('我的坚果云');

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  t.fail('dist/cli.js is missing: run `npm run build` before the integration tests');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'davgate-serve-checks-'));
let sim: JianguoyunSim;
t.before(async () => {
  sim = await startJianguoyunSim({ budget: 100_000 });
});
t.teardown(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function serve(upstreams: Record<string, unknown>[]): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      auth: 'none',
      log: { level: 'info' },
      upstreams: upstreams.map((u, i) => ({ id: `j${i}`, profile: 'jianguoyun', username: sim.username, password: sim.password, ...u })),
    }),
  );
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => text, exit };
}

t.test('an unreachable account: serve starts, warns, and keeps running', async (t) => {
  const s = serve([{ url: `${sim.url}${SANDBOX}/` }, { url: `http://127.0.0.1:${await closedPort()}/dav/${SANDBOX}/` }]);
  t.teardown(() => {
    if (s.child.exitCode === null && s.child.signalCode === null) process.kill(s.child.pid!, 'SIGKILL');
  });
  const listening = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = () => (/"event":"listening"/.test(s.out()) ? resolve(true) : undefined);
      s.child.stdout!.on('data', check);
      check();
    }),
    s.exit.then(() => false),
  ]);
  t.ok(listening, `serve is listening (output: ${s.out().slice(-300)})`);
  t.match(s.out(), /sandbox_unchecked/, 'and warned about the unreachable account');
  process.kill(s.child.pid!, 'SIGTERM');
  t.equal(await s.exit, 0, 'SIGTERM stops it cleanly');
});

t.test('a misspelt sandbox: exit 2, the key named, the folder shown as written', async (t) => {
  const s = serve([{ url: `${sim.url}${encodeURIComponent('我的坚果去')}/` }]);
  t.equal(await s.exit, 2);
  t.match(s.out(), /config error: upstreams\[0\]\.url: .*\/dav\/我的坚果去\//);
});
