import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const SECRET = 'File-Secret-Value-55120';

const dir = mkdtempSync(join(tmpdir(), 'davgate-config-secrets-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'secrets'));
writeFileSync(join(dir, 'secrets', 'pw'), `${SECRET}\n`);
writeFileSync(join(dir, 'secrets', 'pw-crlf'), `${SECRET}\r\n`);
writeFileSync(join(dir, 'secrets', 'user'), 'me@example.com\n');
writeFileSync(join(dir, 'secrets', 'token'), 'admin-token-0123\n');
writeFileSync(join(dir, 'secrets', 'empty'), '\n');

let seq = 0;
function file(yaml: string): string {
  const f = join(dir, `c${seq++}.yaml`);
  writeFileSync(f, yaml);
  return f;
}
function problems(t: Test, opts: { file?: string; env?: NodeJS.ProcessEnv }): ConfigError {
  try {
    loadConfig({ env: {}, ...opts });
  } catch (err) {
    if (err instanceof ConfigError) {
      t.notMatch(err.message, SECRET, 'no secret in the message');
      return err;
    }
    throw err;
  }
  throw new Error('expected a ConfigError');
}
const keys = (e: ConfigError): string[] => e.problems.map((p) => p.key);

t.test('YAML passwordFile / usernameFile / tokenFile, relative to the config file', async (t) => {
  const c = loadConfig({
    file: file(`auth: none
admin: { tokenFile: secrets/token }
upstreams:
  - { id: a, url: "http://x/", usernameFile: secrets/user, passwordFile: secrets/pw }
  - { id: b, url: "http://y/", username: u, passwordFile: ${JSON.stringify(join(dir, 'secrets', 'pw-crlf'))} }
`),
    env: {},
    cwd: '/',
  });
  t.equal(c.upstreams[0]!.username, 'me@example.com');
  t.equal(c.upstreams[0]!.password, SECRET, 'trailing \\n trimmed');
  t.equal(c.upstreams[1]!.password, SECRET, 'trailing \\r\\n trimmed');
  t.equal(c.admin.token, 'admin-token-0123');
});

t.test('environment _FILE variables, relative to cwd', async (t) => {
  const c = loadConfig({
    env: {
      DAVGATE_AUTH: 'none',
      WEBDAV_URL_1: 'http://x/',
      WEBDAV_USERNAME_1_FILE: 'secrets/user',
      WEBDAV_PASSWORD_1_FILE: join(dir, 'secrets', 'pw'),
      DAVGATE_ADMIN_TOKEN_FILE: 'secrets/token',
    },
    cwd: dir,
  });
  t.equal(c.upstreams[0]!.username, 'me@example.com');
  t.equal(c.upstreams[0]!.password, SECRET);
  t.equal(c.admin.token, 'admin-token-0123');
});

t.test('an environment _FILE overrides the file\'s password, and the file\'s passwordFile is then not read', async (t) => {
  const c = loadConfig({
    file: file(`auth: none\nupstreams: [ { id: a, url: "http://x/", username: u, passwordFile: secrets/does-not-exist } ]\n`),
    env: { WEBDAV_PASSWORD_1_FILE: join(dir, 'secrets', 'pw') },
  });
  t.equal(c.upstreams[0]!.password, SECRET);
});

t.test('a value and its file together are an error', async (t) => {
  const yaml = problems(t, {
    file: file(`auth: none
admin: { token: abc, tokenFile: secrets/token }
upstreams: [ { id: a, url: "http://x/", username: u, password: "${SECRET}", passwordFile: secrets/pw } ]
`),
  });
  t.same(keys(yaml), ['admin.tokenFile', 'upstreams[0].passwordFile']);

  const env = problems(t, {
    env: {
      DAVGATE_AUTH: 'none',
      WEBDAV_URL_1: 'http://x/',
      WEBDAV_USERNAME_1: 'u',
      WEBDAV_PASSWORD_1: SECRET,
      WEBDAV_PASSWORD_1_FILE: join(dir, 'secrets', 'pw'),
      DAVGATE_ADMIN_TOKEN: 'abc',
      DAVGATE_ADMIN_TOKEN_FILE: join(dir, 'secrets', 'token'),
    },
  });
  t.same(keys(env), ['DAVGATE_ADMIN_TOKEN_FILE', 'WEBDAV_PASSWORD_1_FILE']);
});

t.test('missing, empty and non-regular secret files name their key', async (t) => {
  const e = problems(t, {
    env: {
      DAVGATE_AUTH: 'none',
      WEBDAV_URL_1: 'http://x/',
      WEBDAV_USERNAME_1_FILE: join(dir, 'secrets', 'empty'),
      WEBDAV_PASSWORD_1_FILE: join(dir, 'secrets', 'nope'),
      DAVGATE_ADMIN_TOKEN_FILE: join(dir, 'secrets'),
    },
  });
  const byKey = new Map(e.problems.map((p) => [p.key, p.message]));
  t.same([...byKey.keys()].sort(), ['DAVGATE_ADMIN_TOKEN_FILE', 'WEBDAV_PASSWORD_1_FILE', 'WEBDAV_USERNAME_1_FILE']);
  t.match(byKey.get('DAVGATE_ADMIN_TOKEN_FILE'), /not a regular file/);
  t.match(byKey.get('WEBDAV_USERNAME_1_FILE'), /empty/);
  t.match(byKey.get('WEBDAV_PASSWORD_1_FILE'), /ENOENT/);
});

t.test('a secret read from a file never appears in problems about its neighbours', async (t) => {
  const e = problems(t, {
    file: file(`auth: none\nupstreams: [ { id: a, url: "ftp://x/", username: u, passwordFile: secrets/pw } ]\n`),
  });
  t.same(keys(e), ['upstreams[0].url']);
});
