import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ENV_VARS } from '../../src/config/env.js';

const SECRET = 'Env-Secret-Value-99881';
const HASH = '$2b$04$abcdefghijklmnopqrstuu0123456789ABCDEFGHIJKLMNOPQRSTU';

const dir = mkdtempSync(join(tmpdir(), 'davgate-config-env-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const FILE = join(dir, 'two.yaml');
writeFileSync(
  FILE,
  `auth: { mode: basic, users: [ { username: alice, passwordHash: "${HASH}" } ] }
upstreams:
  - { id: a, url: "https://dav.example.com/a/", username: ua, password: pa, description: first }
  - { id: b, url: "https://dav.example.com/b/", username: ub, password: pb, maxConcurrent: 2 }
`,
);

function problems(t: Test, env: NodeJS.ProcessEnv, file?: string): ConfigError {
  try {
    loadConfig({ file, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) t.notMatch(p.key + p.message, SECRET, `${p.key}: no secret in the problem`);
      return err;
    }
    throw err;
  }
  throw new Error('expected a ConfigError');
}
const keys = (e: ConfigError): string[] => e.problems.map((p) => p.key);

t.test('environment alone: the original plan\'s names', async (t) => {
  const c = loadConfig({
    env: {
      DAVGATE_AUTH: 'none',
      WEBDAV_URL_1: 'https://dav.jianguoyun.com/dav/music',
      WEBDAV_USERNAME_1: 'me@example.com',
      WEBDAV_PASSWORD_1: SECRET,
      WEBDAV_MAX_CONCURRENT_1: '2',
      WEBDAV_PROFILE_1: 'jianguoyun',
      WEBDAV_PLAN_1: 'paid',
      WEBDAV_URL_2: 'http://127.0.0.1:8082/',
      WEBDAV_ENABLED_2: 'false',
      WEBDAV_WEIGHT_2: '2.5',
      WEBDAV_ID_2: 'local',
      WEBDAV_DESCRIPTION_2: 'a local server',
      WEBDAV_STRATEGY: 'hash',
      WEBDAV_HEALTH_CHECK_INTERVAL: '15000',
      DAVGATE_HEALTH_DOWN_INTERVAL_MS: '1500',
      HOME: '/root',
      PATH: '/usr/bin',
    },
  });
  t.same(c.upstreams, [
    {
      id: 'webdav1',
      url: 'https://dav.jianguoyun.com/dav/music/',
      username: 'me@example.com',
      password: SECRET,
      maxConcurrent: 2,
      weight: 1,
      enabled: true,
      profile: 'jianguoyun',
      // plan paid: 90 % of 1500 per 30 minutes, 200 ms apart (jianguoyun.md §1, §2).
      budget: { requests: 1350, windowMs: 1_800_000, minSpacingMs: 200 },
      coolingMs: 1_800_000,
      createSandbox: false,
    },
    {
      id: 'local',
      url: 'http://127.0.0.1:8082/',
      maxConcurrent: 4,
      weight: 2.5,
      enabled: false,
      description: 'a local server',
      profile: 'generic',
      coolingMs: 1_800_000,
      createSandbox: false,
    },
  ]);
  t.equal(c.health.intervalMs, 15000);
  t.equal(c.health.downIntervalMs, 1500, 'DAVGATE_HEALTH_DOWN_INTERVAL_MS: the fast probe interval while down');
  t.same(c.auth, { mode: 'none' });
});

t.test('environment overrides the n-th upstream of the file and adds webdav<n> past it', async (t) => {
  const c = loadConfig({
    file: FILE,
    env: {
      WEBDAV_URL_2: 'https://dav.example.com/b2',
      WEBDAV_PASSWORD_2: SECRET,
      WEBDAV_ENABLED_1: 'no',
      WEBDAV_URL_3: 'https://dav.example.com/c/',
    },
  });
  t.same(
    c.upstreams.map((u) => [u.id, u.url, u.username, u.password, u.enabled, u.maxConcurrent, u.description]),
    [
      ['a', 'https://dav.example.com/a/', 'ua', 'pa', false, 4, 'first'],
      ['b', 'https://dav.example.com/b2/', 'ub', SECRET, true, 2, undefined],
      ['webdav3', 'https://dav.example.com/c/', undefined, undefined, true, 4, undefined],
    ],
  );
  t.equal(c.auth.mode, 'basic', 'file auth kept');
});

t.test('global variables', async (t) => {
  const c = loadConfig({
    file: FILE,
    env: {
      DAVGATE_LISTEN_HOST: '0.0.0.0',
      PORT: '9000',
      DAVGATE_ADMIN_TOKEN: 'tok-123',
      DAVGATE_LOG_LEVEL: 'debug',
      DAVGATE_AUTH: 'none',
    },
  });
  t.same(c.listen, { host: '0.0.0.0', port: 9000 });
  t.equal(c.admin.token, 'tok-123');
  t.equal(c.log.level, 'debug');
  t.same(c.auth, { mode: 'none' }, 'DAVGATE_AUTH=none overrides basic from the file');

  const both = loadConfig({ file: FILE, env: { PORT: '9000', DAVGATE_LISTEN_PORT: '9001' } });
  t.equal(both.listen.port, 9001, 'DAVGATE_LISTEN_PORT wins over PORT');
});

t.test('WEBDAV_PROFILE_n and WEBDAV_PLAN_n override the file (finding 17b)', async (t) => {
  const c = loadConfig({
    file: FILE,
    env: { WEBDAV_PROFILE_1: 'jianguoyun', WEBDAV_PLAN_1: 'paid', WEBDAV_PROFILE_2: 'jianguoyun' },
  });
  t.same(
    c.upstreams.map((u) => [u.id, u.profile, u.budget?.requests]),
    [
      ['a', 'jianguoyun', 1350],
      ['b', 'jianguoyun', 540],
    ],
  );
  // The profile's own checks name the variable too: a bare /dav/ URL cannot hold files on 坚果云.
  const bare = problems(t, { WEBDAV_URL_1: 'https://dav.example.com/dav/', WEBDAV_PROFILE_1: 'jianguoyun' }, FILE);
  t.same(keys(bare), ['WEBDAV_URL_1']);
  t.match(bare.problems[0]!.message, /sandbox folder/);
  // An env upstream past the file on dav.jianguoyun.com with its profile given loads with the budget.
  const added = loadConfig({
    file: FILE,
    env: { WEBDAV_URL_3: 'https://dav.jianguoyun.com/dav/s/', WEBDAV_PROFILE_3: 'jianguoyun', WEBDAV_PLAN_3: 'free' },
  });
  t.same([added.upstreams[2]!.id, added.upstreams[2]!.profile, added.upstreams[2]!.budget?.requests], ['webdav3', 'jianguoyun', 540]);
  // _FILE variants exist only for secrets.
  t.same(keys(problems(t, { WEBDAV_PROFILE_1_FILE: '/x' }, FILE)), ['WEBDAV_PROFILE_1_FILE']);
});

t.test('DAVGATE_CONFIG names the file when none is passed', async (t) => {
  const c = loadConfig({ env: { DAVGATE_CONFIG: FILE } });
  t.equal(c.upstreams.length, 2);
  const explicit = loadConfig({ file: FILE, env: { DAVGATE_CONFIG: join(dir, 'missing.yaml') } });
  t.equal(explicit.upstreams.length, 2, 'an explicit file wins');
});

t.test('bad values are reported under the variable name', async (t) => {
  const e = problems(
    t,
    {
      WEBDAV_MAX_CONCURRENT_1: 'four',
      WEBDAV_ENABLED_1: 'maybe',
      WEBDAV_WEIGHT_1: '-1',
      WEBDAV_URL_2: `https://u:${SECRET}@dav.example.com/`,
      WEBDAV_ID_2: 'has space',
      WEBDAV_STRATEGY: 'random',
      WEBDAV_HEALTH_CHECK_INTERVAL: '0',
      DAVGATE_LISTEN_PORT: '99999',
      DAVGATE_LOG_LEVEL: 'loud',
      DAVGATE_AUTH: 'basic',
      DAVGATE_ADMIN_TOKEN: `bad token ${SECRET}`,
      WEBDAV_PROFILE_2: 'nutstore',
      WEBDAV_PLAN_2: 'gold',
    },
    FILE,
  );
  t.same(new Set(keys(e)), new Set([
    'WEBDAV_MAX_CONCURRENT_1',
    'WEBDAV_ENABLED_1',
    'WEBDAV_WEIGHT_1',
    'WEBDAV_URL_2',
    'WEBDAV_ID_2',
    'WEBDAV_STRATEGY',
    'WEBDAV_HEALTH_CHECK_INTERVAL',
    'DAVGATE_LISTEN_PORT',
    'DAVGATE_LOG_LEVEL',
    'DAVGATE_AUTH',
    'DAVGATE_ADMIN_TOKEN',
    'WEBDAV_PROFILE_2',
    'WEBDAV_PLAN_2',
  ]));
  t.match(e.problems.find((p) => p.key === 'WEBDAV_STRATEGY')?.message, /known: hash/);
  t.match(e.problems.find((p) => p.key === 'WEBDAV_PROFILE_2')?.message, /generic or jianguoyun/);
  t.match(e.problems.find((p) => p.key === 'WEBDAV_PLAN_2')?.message, /free .* or paid/);
});

t.test('numbering: no gaps, no zero, a new upstream needs its URL', async (t) => {
  t.same(keys(problems(t, { WEBDAV_URL_4: 'http://x/' }, FILE)), ['WEBDAV_URL_3']);
  t.same(keys(problems(t, { WEBDAV_PASSWORD_3: SECRET, WEBDAV_USERNAME_3: 'u' }, FILE)), ['WEBDAV_URL_3']);
  t.same(keys(problems(t, { WEBDAV_URL_0: 'http://x/' }, FILE)), ['WEBDAV_URL_0']);
  t.same(keys(problems(t, { WEBDAV_URL_01: 'http://x/' }, FILE)), ['WEBDAV_URL_01']);
});

t.test('typos in our variable families are errors; other variables are ignored; empty means unset', async (t) => {
  const e = problems(t, { WEBDAV_PASWORD_1: SECRET, DAVGATE_LISTEN_PRT: '1', WEBDAV_URL_1_FILE: '/x' }, FILE);
  t.same(keys(e), ['DAVGATE_LISTEN_PRT', 'WEBDAV_PASWORD_1', 'WEBDAV_URL_1_FILE']);
  const c = loadConfig({ file: FILE, env: { WEBDAV_URL_1: '', SOMETHING_ELSE: 'x', WEBDAV_ROOT: '/srv' } });
  t.equal(c.upstreams[0]!.url, 'https://dav.example.com/a/');
});

t.test('env-only config without DAVGATE_AUTH is refused (no accidental open proxy)', async (t) => {
  const e = problems(t, { WEBDAV_URL_1: 'http://x/' });
  t.same(keys(e), ['auth']);
  t.match(e.problems[0]!.message, /DAVGATE_AUTH=none/);
});

t.test('ENV_VARS lists every documented name', async (t) => {
  for (const name of [
    'WEBDAV_URL_n',
    'WEBDAV_USERNAME_n',
    'WEBDAV_USERNAME_n_FILE',
    'WEBDAV_PASSWORD_n',
    'WEBDAV_PASSWORD_n_FILE',
    'WEBDAV_MAX_CONCURRENT_n',
    'WEBDAV_ENABLED_n',
    'WEBDAV_WEIGHT_n',
    'WEBDAV_ID_n',
    'WEBDAV_DESCRIPTION_n',
    'WEBDAV_PROFILE_n',
    'WEBDAV_PLAN_n',
    'WEBDAV_STRATEGY',
    'WEBDAV_HEALTH_CHECK_INTERVAL',
    'DAVGATE_HEALTH_DOWN_INTERVAL_MS',
    'DAVGATE_LISTEN_HOST',
    'DAVGATE_LISTEN_PORT',
    'PORT',
    'DAVGATE_ADMIN_TOKEN',
    'DAVGATE_ADMIN_TOKEN_FILE',
    'DAVGATE_AUTH',
    'DAVGATE_LOG_LEVEL',
    'DAVGATE_CONFIG',
  ]) {
    t.ok(ENV_VARS.includes(name), name);
  }
});
