/**
 * The simulated 坚果云 account backed by a real folder, and the `davgate sim jianguoyun` command (issue 4 part 1).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { runSimCommand, simCliAction, startJianguoyunSim } from '../../src/sim/jianguoyun.js';
import { davRequest } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');

let dataDir: string;
t.before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'davgate-sim-'));
});
t.teardown(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

t.test('dataDir: files live in the folder, existing files are served, the spool folder is hidden', async (t) => {
  const dir = path.join(dataDir, 'store');
  await mkdir(path.join(dir, 'pre'), { recursive: true });
  await writeFile(path.join(dir, 'pre', 'old.txt'), 'already here');
  const s = await startJianguoyunSim({ dataDir: dir, username: 'u', password: 'p' });
  t.teardown(() => s.stop());
  const auth = { username: 'u', password: 'p' };
  t.ok(existsSync(path.join(dir, '我的坚果云')), 'the default sandbox was created on disk');
  const old = await davRequest(`${s.url}pre/old.txt`, 'GET', { auth });
  t.equal(old.body, 'already here');
  t.equal((await davRequest(`${s.url}pre/old.txt`, 'PUT', { auth, body: 'v2' })).headers['x-file-version'], '2');
  t.equal(await readFile(path.join(dir, 'pre', 'old.txt'), 'utf8'), 'v2');
  t.equal((await davRequest(`${s.url}${SB}/d`, 'MKCOL', { auth })).status, 201);
  t.equal((await davRequest(`${s.url}${SB}/d/n.txt`, 'PUT', { auth, body: 'new' })).status, 201);
  t.equal(await readFile(path.join(dir, '我的坚果云', 'd', 'n.txt'), 'utf8'), 'new');
  t.equal((await davRequest(`${s.url}${SB}/d`, 'MOVE', { auth, headers: { destination: `/dav/pre/d2` } })).status, 201);
  t.ok(existsSync(path.join(dir, 'pre', 'd2', 'n.txt')));
  t.equal((await davRequest(`${s.url}pre/d2/n.txt`, 'COPY', { auth, headers: { destination: `/dav/pre/c.txt` } })).status, 201);
  t.equal((await davRequest(`${s.url}pre/c.txt`, 'GET', { auth, headers: { range: 'bytes=1-2' } })).body, 'ew');
  const root = await davRequest(s.url, 'PROPFIND', { auth, headers: { depth: '1' } });
  t.notMatch(root.body, /davgate-sim-spool/, 'the upload spool is not a sandbox');
  t.equal((await davRequest(`${s.url}pre/d2`, 'DELETE', { auth })).status, 204);
  t.notOk(existsSync(path.join(dir, 'pre', 'd2')));
  const etag1 = (await davRequest(`${s.url}pre/c.txt`, 'HEAD', { auth })).headers['etag'];
  t.equal((await davRequest(`${s.url}pre/c.txt`, 'HEAD', { auth })).headers['etag'], etag1, 'ETag stable between reads');
});

t.test('unknown methods → 405 with the Allow list [G]', async (t) => {
  const s = await startJianguoyunSim({ username: 'u', password: 'p' });
  t.teardown(() => s.stop());
  const r = await davRequest(s.url, 'PATCH', { auth: { username: 'u', password: 'p' } });
  t.equal(r.status, 405);
  t.ok(r.headers['allow']);
});

function capture(): { io: { stdout: PassThrough; stderr: PassThrough }; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { io: { stdout, stderr }, out: () => o, err: () => e };
}

t.test('runSimCommand prints the URL and credentials; the account answers', async (t) => {
  const c = capture();
  const s = await runSimCommand({ budget: 60, windowMs: 10_000, username: 'me@example.com', handleSignals: false }, c.io);
  t.ok(s);
  t.teardown(() => s!.stop());
  t.match(c.out(), new RegExp(`jianguoyun simulator: ${s!.url.replace(/[.]/g, '\\.')}`));
  t.match(c.out(), /username: me@example\.com/);
  t.match(c.out(), new RegExp(`password: ${s!.password}`));
  t.match(c.out(), /budget: 60 requests per 10 s \(sliding window\)/);
  const r = await davRequest(s!.url, 'PROPFIND', { auth: { username: 'me@example.com', password: s!.password }, headers: { depth: '1' } });
  t.equal(r.status, 207);
});

t.test('simCliAction: flags parsed and validated, naming the flag; unknown vendor refused', async (t) => {
  const bad = capture();
  t.equal(await simCliAction('jianguoyun', { budget: 'lots' }, bad.io), 2);
  t.match(bad.err(), /--budget must be a non-negative integer/);
  const lat = capture();
  t.equal(await simCliAction('jianguoyun', { latency: '5-' }, lat.io), 2);
  t.match(lat.err(), /--latency/);
  const zero = capture();
  t.equal(await simCliAction('jianguoyun', { pageSize: '1' }, zero.io), 2);
  t.match(zero.err(), /pageSize must be an integer >= 2/);
  const vendor = capture();
  t.equal(await simCliAction('dropbox', {}, vendor.io), 2);
  t.match(vendor.err(), /unknown vendor "dropbox"/);
});
