// Runs the built CLI (`node bin/davgate.js`); needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'davgate.js');
const SECRET = 'Cli-Secret-Password-40417';
const HASH = '$2b$04$abcdefghijklmnopqrstuu0123456789ABCDEFGHIJKLMNOPQRSTU';

if (!existsSync(join(ROOT, 'dist', 'cli.js'))) {
  t.fail('dist/cli.js is missing: run `npm run build` before the integration tests');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'davgate-cli-check-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function file(yaml: string): string {
  const f = join(dir, `c${seq++}.yaml`);
  writeFileSync(f, yaml);
  return f;
}

/** Runs the CLI with a clean environment (the host's WEBDAV_* / DAVGATE_* must not leak in) plus `env`. */
function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = `auth: { mode: basic, users: [ { username: alice, passwordHash: "${HASH}" } ] }
admin: { token: tok-${SECRET} }
upstreams:
  - { id: a, url: "https://dav.example.com/a", username: u, password: "${SECRET}" }
  - { id: b, url: "https://dav.example.com/b/", enabled: false }
  - { id: c, url: "https://dav.example.com/c/" }
`;

t.test('a valid config: exit 0 and a one-line summary', async (t) => {
  const r = run(['check-config', '--config', file(GOOD)]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'config OK: 3 upstreams (2 enabled), strategy hash, auth basic (1 user)\n');
  t.equal(r.stderr, '');
});

t.test('--print shows the effective config with secrets redacted', async (t) => {
  const r = run(['check-config', '--config', file(GOOD), '--print'], { WEBDAV_MAX_CONCURRENT_3: '7' });
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, SECRET);
  t.notMatch(r.stdout, HASH);
  t.match(r.stdout, /password: "\*\*\*"/);
  t.match(r.stdout, /token: "\*\*\*"/);
  t.match(r.stdout, /url: https:\/\/dav\.example\.com\/a\//);
  t.match(r.stdout, /maxConcurrent: 7/, 'environment overrides are applied');
});

t.test('an invalid config: exit 2, one line per problem naming its key, no secret anywhere', async (t) => {
  const f = file(`auth: { mode: basic, users: [] }
upstreams:
  - { id: a, url: "https://u:${SECRET}@dav.example.com/", password: "${SECRET}", username: u }
  - { id: a, url: "https://dav.example.com/b/", pasword: "${SECRET}" }
`);
  const r = run(['check-config', '--config', f], { WEBDAV_URL_2: `ftp://${SECRET}/` });
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.notMatch(r.stderr, SECRET);
  const lines = r.stderr.trim().split('\n');
  for (const line of lines) t.match(line, /^config error: \S+: /);
  for (const key of ['auth.users', 'upstreams[0].url', 'upstreams[1].id', 'upstreams[1].pasword', 'WEBDAV_URL_2']) {
    t.ok(lines.some((l) => l.startsWith(`config error: ${key}: `)), `names ${key}`);
  }
});

t.test('DAVGATE_CONFIG is used when --config is absent; the environment alone works too', async (t) => {
  const viaEnv = run(['check-config'], { DAVGATE_CONFIG: file(GOOD) });
  t.equal(viaEnv.code, 0, viaEnv.stderr);
  const envOnly = run(['check-config'], { DAVGATE_AUTH: 'none', WEBDAV_URL_1: 'http://127.0.0.1:1/', WEBDAV_PASSWORD_1: SECRET });
  t.equal(envOnly.code, 2, 'a password without username is refused');
  t.match(envOnly.stderr, /^config error: WEBDAV_PASSWORD_1: /m);
  t.notMatch(envOnly.stderr, SECRET);
  const missing = run(['check-config', '--config', join(dir, 'nope.yaml')]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /ENOENT/);
});

t.test('the shipped example config passes', async (t) => {
  const r = run(['check-config', '--config', join(ROOT, 'config', 'davgate.example.yaml')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^config OK: 2 upstreams \(2 enabled\), strategy hash, auth basic \(1 user\)\n$/);
});

t.test('serve with a bad config exits 2 before starting anything', async (t) => {
  const r = run(['serve', '--config', file(`auth: none\nupstreams: [ { id: a, url: "ftp://x/" } ]\n`)]);
  t.equal(r.code, 2);
  t.match(r.stderr, /^config error: upstreams\[0\]\.url: /m);
});

t.test('usage: --version, --help, unknown subcommand or option', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const v = run(['--version']);
  t.equal(v.code, 0);
  t.equal(v.stdout.trim(), pkg.version);

  for (const cmd of ['serve', 'check-config', 'demo', 'hash-password']) {
    const h = run([cmd, '--help'], { DAVGATE_ADMIN_TOKEN: SECRET, WEBDAV_PASSWORD_1: SECRET });
    t.equal(h.code, 0, `${cmd} --help`);
    t.match(h.stdout, new RegExp(`Usage: davgate ${cmd}`));
    t.notMatch(h.stdout, SECRET, `${cmd} --help shows no environment values`);
  }

  const unknown = run(['frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command 'frobnicate'/);
  t.match(unknown.stderr, /Usage: davgate/);

  t.equal(run([]).code, 2, 'no subcommand is a usage error');
  t.equal(run(['check-config', '--nope']).code, 2);
  t.equal(run(['demo', '--port', '70000']).code, 2);
});
