import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { ConfigError, loadConfig, redactedConfig } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/schema.js';

/** A value that must never appear in any message. */
const SECRET = 'Zq9-VerySecret-Pw-7731';
const HASH = '$2b$04$abcdefghijklmnopqrstuu0123456789ABCDEFGHIJKLMNOPQRSTU';

const dir = mkdtempSync(join(tmpdir(), 'davgate-config-validation-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Writes `yaml` to a temp file and loads it with an empty environment. */
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `c${seq++}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig({ file, env });
}

/** Loads `yaml`, expecting a ConfigError; returns it. */
function problems(t: Test, yaml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      t.notMatch(err.message, SECRET, 'error message does not contain the secret');
      for (const p of err.problems) t.notMatch(p.message + p.key, SECRET, `problem ${p.key} does not contain the secret`);
      return err;
    }
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const keys = (e: ConfigError): string[] => e.problems.map((p) => p.key);
const messageFor = (e: ConfigError, key: string): string =>
  e.problems
    .filter((p) => p.key === key)
    .map((p) => p.message)
    .join(' | ');

const MINIMAL = `
auth: none
upstreams:
  - id: a
    url: https://dav.example.com/dav/music
`;

t.test('the example config loads and its values are the documented defaults', async (t) => {
  const example = fileURLToPath(new URL('../../config/davgate.example.yaml', import.meta.url));
  const c = loadConfig({ file: example, env: {} });
  t.equal(c.upstreams.length, 2);
  // Both are 坚果云 accounts (dav.jianguoyun.com): both must say so, or they would run without a budget.
  const freeBudget = {
    requests: Math.floor(DEFAULTS.jianguoyunFreeRequests * DEFAULTS.jianguoyunBudgetShare),
    windowMs: DEFAULTS.jianguoyunWindowMs,
    minSpacingMs: DEFAULTS.jianguoyunMinSpacingMs,
  };
  t.same(
    c.upstreams.map((u) => [u.id, new URL(u.url).hostname, u.profile, u.budget]),
    [
      ['a', 'dav.jianguoyun.com', 'jianguoyun', freeBudget],
      ['b', 'dav.jianguoyun.com', 'jianguoyun', freeBudget],
    ],
    'every 坚果云 upstream of the example has profile jianguoyun and the free plan\'s budget',
  );
  t.equal(c.auth.mode, 'basic');
  t.equal(c.admin.token, undefined, 'admin stays disabled in the example');
  t.same(c.health, {
    intervalMs: DEFAULTS.healthIntervalMs,
    downIntervalMs: DEFAULTS.healthDownIntervalMs,
    probeTimeoutMs: DEFAULTS.probeTimeoutMs,
    failThreshold: DEFAULTS.failThreshold,
    windowMs: DEFAULTS.healthWindowMs,
    minRequests: DEFAULTS.healthMinRequests,
    failureRatio: DEFAULTS.healthFailureRatio,
  });
  t.same(c.limits, {
    queueLength: DEFAULTS.queueLength,
    queueTimeoutMs: DEFAULTS.queueTimeoutMs,
    connectTimeoutMs: DEFAULTS.connectTimeoutMs,
    headersTimeoutMs: DEFAULTS.headersTimeoutMs,
    bodyTimeoutMs: DEFAULTS.bodyTimeoutMs,
    maxXmlBodyBytes: DEFAULTS.maxXmlBodyBytes,
    maxPathBytes: DEFAULTS.maxPathBytes,
    maxNameBytes: DEFAULTS.maxNameBytes,
    spoolMaxBytes: DEFAULTS.spoolMaxBytes,
  });
  t.same(c.cors, { origins: [] }, 'no CORS in the example: the default');
  t.equal(c.failover.retryBackoffMs, DEFAULTS.retryBackoffMs);
  t.equal(c.shutdownGraceMs, DEFAULTS.shutdownGraceMs);
});

t.test('a minimal config gets defaults, a trailing slash, and is deeply frozen', async (t) => {
  const c = load(MINIMAL);
  t.same(c.listen, { host: DEFAULTS.listenHost, port: DEFAULTS.listenPort });
  t.equal(c.strategy, 'hash');
  t.same(c.auth, { mode: 'none' });
  t.same(c.admin, {});
  t.equal(c.log.level, 'info');
  t.same(c.upstreams[0], {
    id: 'a',
    url: 'https://dav.example.com/dav/music/',
    maxConcurrent: DEFAULTS.maxConcurrent,
    weight: DEFAULTS.weight,
    enabled: true,
    profile: 'generic',
    coolingMs: DEFAULTS.coolingMs,
    createSandbox: false,
  });
  t.ok(Object.isFrozen(c));
  t.ok(Object.isFrozen(c.upstreams));
  t.ok(Object.isFrozen(c.upstreams[0]));
  t.ok(Object.isFrozen(c.listen));
  t.throws(() => {
    (c.listen as { port: number }).port = 1;
  }, TypeError);
});

t.test('every problem is collected, each naming its key, none echoing a secret', async (t) => {
  const e = problems(
    t,
    `
listen: { host: 127.0.0.1, port: 70000 }
strategy: roundrobin
auth: { mode: basic, users: [ { username: bob, passwordHash: "${SECRET}" } ] }
admin: { token: "has space ${SECRET}" }
upstreams:
  - id: a
    url: https://user:${SECRET}@dav.example.com/dav
    username: u
    password: ${SECRET}
    pasword: x
  - id: a
    url: ftp://x/
    weight: -1
    enabled: nope
  - id: "bad id!"
    url: https://dav.example.com/x?y=1
    maxConcurrent: 0
health: { intervalMs: 0, failThreshold: 1.5, failureRatio: 1.5, minRequests: 0, cooldownMs: 30000 }
limits: { queueTimeoutMs: 3000000000 }
shutdownGraceMs: -1
log: { level: loud }
`,
  );
  t.same(new Set(keys(e)), new Set([
    'listen.port',
    'strategy',
    'auth.users[0].passwordHash',
    'admin.token',
    'upstreams[0].url',
    'upstreams[0].pasword',
    'upstreams[1].id',
    'upstreams[1].url',
    'upstreams[1].weight',
    'upstreams[1].enabled',
    'upstreams[2].id',
    'upstreams[2].url',
    'upstreams[2].maxConcurrent',
    'health.intervalMs',
    'health.failThreshold',
    'health.failureRatio',
    'health.minRequests',
    'health.cooldownMs',
    'limits.queueTimeoutMs',
    'shutdownGraceMs',
    'log.level',
  ]));
  t.match(messageFor(e, 'upstreams[0].pasword'), /unknown key \(did you mean "password"\?\)/);
  t.match(messageFor(e, 'strategy'), /known: hash/);
  t.match(messageFor(e, 'health.failureRatio'), /greater than 0 and at most 1/);
  t.match(messageFor(e, 'health.cooldownMs'), /removed: .*health\.downIntervalMs/);
  t.match(messageFor(e, 'upstreams[0].url'), /username\/password/);
  t.match(messageFor(e, 'upstreams[1].id'), /duplicate id/);
  t.match(messageFor(e, 'upstreams[2].url'), /query/);
  t.match(messageFor(e, 'limits.queueTimeoutMs'), /2147483647/);
  t.match(e.message, /^invalid configuration \(\d+ problems\)/);
});

t.test('auth must be explicit: missing, basic without users, none with users', async (t) => {
  const missing = problems(t, 'upstreams: [ { id: a, url: "http://x/" } ]\n');
  t.same(keys(missing), ['auth']);
  t.match(messageFor(missing, 'auth'), /auth: none/);

  const noUsers = problems(t, `auth: { mode: basic }\nupstreams: [ { id: a, url: "http://x/" } ]\n`);
  t.same(keys(noUsers), ['auth.users']);
  t.match(messageFor(noUsers, 'auth.users'), /add|configure/);
  t.match(messageFor(noUsers, 'auth.users'), /auth: none/);

  const emptyUsers = problems(t, `auth: { mode: basic, users: [] }\nupstreams: [ { id: a, url: "http://x/" } ]\n`);
  t.same(keys(emptyUsers), ['auth.users']);

  const noneWithUsers = problems(
    t,
    `auth: { mode: none, users: [ { username: a, passwordHash: "${HASH}" } ] }\nupstreams: [ { id: a, url: "http://x/" } ]\n`,
  );
  t.same(keys(noneWithUsers), ['auth.mode']);

  const c = load(`auth: { mode: basic, realm: "my \\"realm\\"", users: [ { username: alice, passwordHash: "${HASH}" } ] }
upstreams: [ { id: a, url: "http://x/" } ]
`);
  t.same(c.auth, { mode: 'basic', realm: 'my "realm"', users: [{ username: 'alice', passwordHash: HASH }] });
  t.equal(load(`auth: { mode: none }\nupstreams: [ { id: a, url: "http://x/" } ]\n`).auth.mode, 'none');
});

t.test('user entries: bcrypt hash required, usernames unique and colon-free', async (t) => {
  const e = problems(
    t,
    `auth:
  mode: basic
  users:
    - { username: alice, passwordHash: "${SECRET}" }
    - { username: "a:b", passwordHash: "${HASH}" }
    - { username: carol, passwordHash: "${HASH}" }
    - { username: carol, passwordHash: "${HASH}" }
    - { username: dave, passwordHash: "${HASH}", role: admin }
upstreams: [ { id: a, url: "http://x/" } ]
`,
  );
  t.same(keys(e), [
    'auth.users[0].passwordHash',
    'auth.users[1].username',
    'auth.users[3].username',
    'auth.users[4].role',
  ]);
  t.match(messageFor(e, 'auth.users[0].passwordHash'), /hash-password/);
});

t.test('upstream list: at least one, at least one enabled, each account once', async (t) => {
  t.same(keys(problems(t, 'auth: none\n')), ['upstreams']);
  t.same(keys(problems(t, 'auth: none\nupstreams: []\n')), ['upstreams']);
  const disabled = problems(t, 'auth: none\nupstreams: [ { id: a, url: "http://x/", enabled: false } ]\n');
  t.same(keys(disabled), ['upstreams']);
  t.match(messageFor(disabled, 'upstreams'), /no enabled upstream/);

  const twice = problems(
    t,
    `auth: none
upstreams:
  - { id: a, url: "https://dav.example.com/dav/", username: u, password: "${SECRET}" }
  - { id: b, url: "https://DAV.example.com/dav", username: u, password: "${SECRET}" }
  - { id: c, url: "https://dav.example.com/dav/", username: v, password: "${SECRET}" }
`,
  );
  t.same(keys(twice), ['upstreams[1].url'], 'same account twice is an error; same URL, other username is not');

  const missing = problems(t, 'auth: none\nupstreams: [ { url: "http://x/" }, { id: b } ]\n');
  t.same(keys(missing), ['upstreams[0].id', 'upstreams[1].url']);

  const halfCreds = problems(
    t,
    `auth: none\nupstreams: [ { id: a, url: "http://x/", username: u }, { id: b, url: "http://y/", password: "${SECRET}" } ]\n`,
  );
  t.same(keys(halfCreds), ['upstreams[0].username', 'upstreams[1].password']);
});

t.test('URL rules', async (t) => {
  const bad = (url: string) => keys(problems(t, `auth: none\nupstreams: [ { id: a, url: ${JSON.stringify(url)} } ]\n`));
  t.same(bad('not a url'), ['upstreams[0].url']);
  t.same(bad('ftp://x/'), ['upstreams[0].url']);
  t.same(bad(`https://me:${SECRET}@dav.example.com/`), ['upstreams[0].url']);
  t.same(bad('https://dav.example.com/dav/#frag'), ['upstreams[0].url']);
  t.same(bad('https://dav.example.com/dav/?'), ['upstreams[0].url']);
  const ok = (url: string) => load(`auth: none\nupstreams: [ { id: a, url: ${JSON.stringify(url)} } ]\n`).upstreams[0]!.url;
  t.equal(ok('http://127.0.0.1:8081'), 'http://127.0.0.1:8081/');
  t.equal(ok('https://dav.example.com/dav/我的音乐'), 'https://dav.example.com/dav/%E6%88%91%E7%9A%84%E9%9F%B3%E4%B9%90/');
});

t.test('numbers: ranges and types', async (t) => {
  const base = 'auth: none\nupstreams: [ { id: a, url: "http://x/", weight: 0.5 } ]\n';
  const c = load(`${base}listen: { port: 0 }\nlimits: { queueLength: 0 }\nfailover: { retryBackoffMs: 0 }\nshutdownGraceMs: 0\n`);
  t.equal(c.listen.port, 0, 'port 0 (ephemeral) is allowed');
  t.equal(c.limits.queueLength, 0);
  t.equal(c.upstreams[0]!.weight, 0.5);
  t.same(keys(problems(t, `${base}listen: { port: "8080" }\n`)), ['listen.port']);
  t.same(keys(problems(t, 'auth: none\nupstreams: [ { id: a, url: "http://x/", weight: .inf } ]\n')), ['upstreams[0].weight']);
  t.same(keys(problems(t, 'auth: none\nupstreams: [ { id: a, url: "http://x/", weight: 0 } ]\n')), ['upstreams[0].weight']);
  const typed = problems(t, `auth: none\nupstreams: [ { id: a, url: "http://x/", username: 12345, password: 678 } ]\n`);
  t.same(keys(typed), ['upstreams[0].username', 'upstreams[0].password']);
  t.match(messageFor(typed, 'upstreams[0].username'), /quote it/);
});

t.test('sections must be mappings; unknown top-level keys are named', async (t) => {
  const e = problems(t, `${MINIMAL}listen: 8080\nhelth: { intervalMs: 1 }\n`);
  t.same(keys(e), ['helth', 'listen']);
  t.match(messageFor(e, 'helth'), /did you mean "health"/);
  t.same(keys(problems(t, 'just a string\n')).length, 1);
});

t.test('YAML errors give file:line:column and never quote the source', async (t) => {
  const e = problems(t, `auth: none\nupstreams:\n  - id: a\n    url: http://x/\n    username: u\n    password: "${SECRET}\\q"\n`);
  t.equal(e.problems.length, 1);
  t.match(e.problems[0]!.key, /c\d+\.yaml:6:\d+$/);
  t.match(e.problems[0]!.message, /YAML syntax error BAD_DQ_ESCAPE/);

  const dup = problems(t, `${MINIMAL}auth: none\n`);
  t.match(dup.problems[0]!.message, /DUPLICATE_KEY/);
});

t.test('a YAML alias bomb is refused', async (t) => {
  const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;
  const e = problems(t, bomb);
  t.equal(e.problems.length, 1);
  t.match(e.problems[0]!.message, /alias/);
  // A modest, legitimate use of anchors still works.
  const c = load(`auth: none
upstreams:
  - &base { id: a, url: "http://x/", maxConcurrent: 2 }
  - { id: b, url: "http://y/", maxConcurrent: 2 }
listen: { host: 127.0.0.1 }
`);
  t.equal(c.upstreams.length, 2);
});

t.test('missing config file is a problem naming the file', async (t) => {
  const file = join(dir, 'does-not-exist.yaml');
  let err: unknown;
  try {
    loadConfig({ file, env: {} });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError);
  t.match((err as ConfigError).problems, [{ key: file, message: /ENOENT/ }]);
});

t.test('redactedConfig hides passwords, token and hashes, leaves the original alone', async (t) => {
  const c = load(`auth: { mode: basic, users: [ { username: alice, passwordHash: "${HASH}" } ] }
admin: { token: ${SECRET.replace(/[^A-Za-z0-9-]/g, '')} }
upstreams:
  - { id: a, url: "http://x/", username: u, password: "${SECRET}" }
  - { id: b, url: "http://y/" }
`);
  const r = redactedConfig(c);
  const text = JSON.stringify(r);
  t.notMatch(text, SECRET);
  t.notMatch(text, HASH);
  t.equal(r.upstreams[0]!.password, '***');
  t.equal(r.upstreams[0]!.username, 'u');
  t.equal(r.upstreams[1]!.password, undefined, 'no password stays no password');
  t.equal(r.admin.token, '***');
  t.equal(r.auth.mode === 'basic' && r.auth.users[0]!.passwordHash, '***');
  t.equal(c.upstreams[0]!.password, SECRET, 'original untouched');
  t.ok(Object.isFrozen(r.upstreams[0]));
});

t.test('spool and sandbox keys (issue 4: chunked PUT to 坚果云, sandbox check at start)', async (t) => {
  const c = load(MINIMAL);
  t.equal(c.limits.spoolMaxBytes, DEFAULTS.spoolMaxBytes);
  t.equal(c.limits.spoolDir, undefined, 'the OS temp directory when unset');
  t.equal(c.upstreams[0]!.createSandbox, false, 'a missing sandbox is not created unless asked');
  const set = load(`auth: none\nlimits: { spoolMaxBytes: 1024, spoolDir: /var/tmp/dg }\nupstreams: [ { id: a, url: "http://x/dav/s/", createSandbox: true } ]\n`);
  t.equal(set.limits.spoolMaxBytes, 1024);
  t.equal(set.limits.spoolDir, '/var/tmp/dg');
  t.equal(set.upstreams[0]!.createSandbox, true);
  const bad = problems(t, `auth: none\nlimits: { spoolMaxBytes: -1, spoolDir: tmp/dg }\nupstreams: [ { id: a, url: "http://x/", createSandbox: "yes" } ]\n`);
  t.same(keys(bad).sort(), ['limits.spoolDir', 'limits.spoolMaxBytes', 'upstreams[0].createSandbox']);
  t.match(messageFor(bad, 'limits.spoolDir'), /absolute/);
});

t.test('a dav.jianguoyun.com URL must state its profile (finding 17c)', async (t) => {
  const e = problems(
    t,
    `auth: none
upstreams:
  - { id: a, url: "https://dav.jianguoyun.com/dav/s/", username: u, password: "${SECRET}" }
  - { id: b, url: "https://DAV.JianGuoYun.com:443/dav/s/", username: v, password: "${SECRET}" }
`,
  );
  t.same(keys(e), ['upstreams[0].profile', 'upstreams[1].profile'], 'host compared case-insensitively, default port ignored');
  t.match(messageFor(e, 'upstreams[0].profile'), /set profile: jianguoyun \(or WEBDAV_PROFILE_1=jianguoyun\)/);
  t.match(messageFor(e, 'upstreams[0].profile'), /use profile: generic to keep the generic behaviour deliberately/);
  t.match(messageFor(e, 'upstreams[1].profile'), /WEBDAV_PROFILE_2=jianguoyun/);

  // An env-only upstream: the key is the variable to set.
  const env = problems(t, 'auth: none\nupstreams: [ { id: a, url: "http://x/" } ]\n', {
    WEBDAV_URL_2: 'https://dav.jianguoyun.com/dav/s/',
  });
  t.same(keys(env), ['WEBDAV_PROFILE_2']);
  t.match(messageFor(env, 'WEBDAV_PROFILE_2'), /WEBDAV_PROFILE_2=jianguoyun/);

  // Saying it either way is fine; generic stays allowed when written out.
  const generic = load(`auth: none\nupstreams: [ { id: a, url: "https://dav.jianguoyun.com/dav/s/", profile: generic } ]\n`);
  t.equal(generic.upstreams[0]!.profile, 'generic');
  t.equal(generic.upstreams[0]!.budget, undefined);
  const jgy = load(`auth: none\nupstreams: [ { id: a, url: "https://dav.jianguoyun.com/dav/s/", profile: jianguoyun } ]\n`);
  t.equal(jgy.upstreams[0]!.profile, 'jianguoyun');
  t.ok(jgy.upstreams[0]!.budget);
  // Other hosts keep the generic default.
  t.equal(load(MINIMAL).upstreams[0]!.profile, 'generic');
  t.equal(load(`auth: none\nupstreams: [ { id: a, url: "https://jianguoyun.example.com/dav/s/" } ]\n`).upstreams[0]!.profile, 'generic');
});

t.test('two sandboxes of one 坚果云 account are refused: the vendor counts per user (finding 11)', async (t) => {
  const cfg = (b: string, extraA = '') => `auth: none
upstreams:
  - { id: a, url: "https://dav.jianguoyun.com/dav/one/", username: me@example.com, password: "${SECRET}", profile: jianguoyun${extraA} }
  - { id: b, ${b} }
`;
  const e = problems(t, cfg(`url: "https://dav.jianguoyun.com/dav/two/", username: me@example.com, password: "${SECRET}", profile: jianguoyun`));
  t.same(keys(e), ['upstreams[1].url']);
  t.match(messageFor(e, 'upstreams[1].url'), /same 坚果云 account \(origin and username\) as upstreams\[0\]/, 'names both keys');
  t.match(messageFor(e, 'upstreams[1].url'), /per user/);

  // The e-mail user name and the host are compared without case; the default port is the same origin.
  t.same(
    keys(problems(t, cfg(`url: "https://DAV.jianguoyun.com:443/dav/two", username: Me@Example.com, password: "${SECRET}", profile: jianguoyun`))),
    ['upstreams[1].url'],
  );
  // From the environment: the key is the variable that set the URL.
  const env = problems(t, cfg(`url: "http://x/"`), {
    WEBDAV_URL_2: 'https://dav.jianguoyun.com/dav/two/',
    WEBDAV_USERNAME_2: 'me@example.com',
    WEBDAV_PASSWORD_2: SECRET,
    WEBDAV_PROFILE_2: 'jianguoyun',
  });
  t.same(keys(env), ['WEBDAV_URL_2']);
  t.match(messageFor(env, 'WEBDAV_URL_2'), /upstreams\[0\]/);

  // Not the same account, or not both counted: allowed.
  const ok = (b: string, extraA = '') => load(cfg(b, extraA)).upstreams.length;
  t.equal(ok(`url: "https://dav.jianguoyun.com/dav/two/", username: you@example.com, password: "${SECRET}", profile: jianguoyun`), 2, 'another user');
  t.equal(ok(`url: "https://dav.jianguoyun.com/dav/two/", username: me@example.com, password: "${SECRET}", profile: jianguoyun, enabled: false`), 2, 'one disabled');
  t.equal(ok(`url: "https://dav.jianguoyun.com/dav/two/", username: me@example.com, password: "${SECRET}", profile: jianguoyun`, ', enabled: false'), 2, 'the other disabled');
  t.equal(ok(`url: "https://dav.jianguoyun.com/dav/two/", username: me@example.com, password: "${SECRET}", profile: generic`), 2, 'one deliberately generic');
  t.equal(ok(`url: "http://127.0.0.1:8081/dav/two/", username: me@example.com, password: "${SECRET}", profile: jianguoyun`), 2, 'another origin');
  t.equal(ok(`url: "https://dav.jianguoyun.com:8443/dav/two/", username: me@example.com, password: "${SECRET}", profile: jianguoyun`), 2, 'another port');
});
