// Runs the built CLI (`node bin/davgate.js`); needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'davgate.js');

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  t.fail('dist/cli.js is missing: run `npm run build` before the integration tests');
  process.exit(1);
}

function run(args: string[], input: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, input, encoding: 'utf8', env: { PATH: process.env.PATH } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('prints a cost-12 bcrypt hash of the password from stdin, trailing newline removed', async (t) => {
  const pw = 'pässwörd with spaces';
  const r = run(['hash-password', '--password-stdin'], `${pw}\n`);
  t.equal(r.code, 0, r.stderr);
  const hash = r.stdout.trim();
  t.match(hash, /^\$2b\$12\$[./A-Za-z0-9]{53}$/);
  t.notMatch(r.stdout + r.stderr, pw, 'the password is not echoed');
  t.ok(await bcrypt.compare(pw, hash));
  t.notOk(await bcrypt.compare(`${pw}\n`, hash));
});

t.test('empty or over-long passwords are refused with exit 2', async (t) => {
  t.equal(run(['hash-password', '--password-stdin'], '\n').code, 2);
  const long = run(['hash-password', '--password-stdin'], 'x'.repeat(73));
  t.equal(long.code, 2);
  t.match(long.stderr, /72 bytes/);
});
