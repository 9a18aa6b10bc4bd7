/**
 * The shipped deployment (docker-compose.yml + config/davgate.example.yaml, which the compose file says to copy)
 * must give 坚果云 accounts their profile (finding 17). There is no Docker engine here, so `docker compose config`
 * cannot run: the compose file is parsed with the `yaml` package, its `${VAR:-default}` / `${VAR:?error}`
 * interpolation (the subset it uses, compose-spec "Interpolation") is applied to a sample `.env`, and the result
 * goes through davgate's real config loader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_TEXT = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const EXAMPLE = join(ROOT, 'config', 'davgate.example.yaml');

interface Service {
  environment: Record<string, string>;
  read_only?: boolean;
  tmpfs?: unknown;
  volumes?: (string | { type: string; target: string; tmpfs?: { size?: number | string } })[];
}
const service = (parse(COMPOSE_TEXT) as { services: { davgate: Service } }).services.davgate;

/**
 * Compose interpolation of one value for the forms the file uses: `${VAR}`, `${VAR:-default}` and
 * `${VAR:?error}` (unset or empty counts as missing in the `:` forms).
 * @throws Error with the `:?` message when a required variable is missing, as `docker compose` exits
 */
function interpolate(value: string, dotenv: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = dotenv[name];
    if (v !== undefined && v !== '') return v;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`required variable ${name} is missing: ${arg}`);
    return '';
  });
}

/** The container environment `docker compose up` would produce from `dotenv`, with secrets at `secretDir`. */
function containerEnv(dotenv: Record<string, string>, secretDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.environment)) {
    env[k] = interpolate(String(v), dotenv).replace(/^\/run\/secrets\//, `${secretDir}/`);
  }
  return env;
}

const dir = mkdtempSync(join(tmpdir(), 'davgate-config-compose-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
for (const n of [1, 2, 3]) writeFileSync(join(dir, `webdav_password_${n}`), 'app-password');

/** A `.env` as the compose file's header asks for: three accounts, each with its sandbox folder. */
const DOTENV = {
  WEBDAV_URL_1: 'https://dav.jianguoyun.com/dav/davgate/',
  WEBDAV_USERNAME_1: 'one@example.com',
  WEBDAV_URL_2: 'https://dav.jianguoyun.com/dav/davgate/',
  WEBDAV_USERNAME_2: 'two@example.com',
  WEBDAV_URL_3: 'https://dav.jianguoyun.com/dav/davgate/',
  WEBDAV_USERNAME_3: 'three@example.com',
};

t.test('the compose file parses and every numbered upstream sets its profile, with no bare /dav/ default', async (t) => {
  const env = service.environment;
  const urls = Object.keys(env).filter((k) => /^WEBDAV_URL_\d+$/.test(k));
  t.same(urls, ['WEBDAV_URL_1', 'WEBDAV_URL_2', 'WEBDAV_URL_3']);
  for (const k of urls) {
    const n = k.slice('WEBDAV_URL_'.length);
    t.notMatch(env[k], /:-[^}]*\/dav\/?\}/, `${k} has no default on the bare /dav/`);
    t.match(env[k], new RegExp(`^\\$\\{WEBDAV_URL_${n}:\\?`), `${k} is required from .env`);
    t.match(env[`WEBDAV_PROFILE_${n}`], /jianguoyun/, `WEBDAV_PROFILE_${n} defaults to jianguoyun`);
    t.ok(env[`WEBDAV_PLAN_${n}`], `WEBDAV_PLAN_${n} is set`);
  }
});

t.test('the compose environment over the example config gives 坚果云 accounts their profile and budget', async (t) => {
  const c = loadConfig({ file: EXAMPLE, env: containerEnv(DOTENV, dir) });
  t.equal(c.upstreams.length, 3);
  for (const u of c.upstreams) {
    t.equal(u.profile, 'jianguoyun', `${u.id} has profile jianguoyun`);
    t.ok(u.budget, `${u.id} has a request budget`);
  }
  // README "Choosing budgets": probes count against the budget; a few minutes for 坚果云, e.g. 300000.
  t.equal(c.health.intervalMs, 300_000);
  t.equal(c.listen.host, '0.0.0.0');

  // WEBDAV_PROFILE_n / WEBDAV_PLAN_n from .env reach the config.
  const paid = loadConfig({ file: EXAMPLE, env: containerEnv({ ...DOTENV, WEBDAV_PLAN_2: 'paid', WEBDAV_URL_3: 'http://127.0.0.1:8081/', WEBDAV_PROFILE_3: 'generic' }, dir) });
  t.same(
    paid.upstreams.map((u) => [u.profile, u.budget?.requests]),
    [
      ['jianguoyun', 540],
      ['jianguoyun', 1350],
      ['generic', undefined],
    ],
  );
});

t.test('the reviewer\'s setup (only WEBDAV_URL_1 fixed) no longer yields generic 坚果云 upstreams', async (t) => {
  // With this compose file, compose itself stops: the URLs are required.
  t.throws(() => containerEnv({ WEBDAV_URL_1: DOTENV.WEBDAV_URL_1, WEBDAV_USERNAME_1: 'a', WEBDAV_USERNAME_2: 'b', WEBDAV_USERNAME_3: 'c' }, dir), /WEBDAV_URL_2/);
  // With the old compose file's environment (bare /dav/ defaults, no profile variables), davgate refuses.
  const pw = join(dir, 'webdav_password_1');
  try {
    loadConfig({
      file: EXAMPLE,
      env: {
        WEBDAV_URL_1: DOTENV.WEBDAV_URL_1,
        WEBDAV_USERNAME_1: 'one@example.com',
        WEBDAV_PASSWORD_1_FILE: pw,
        WEBDAV_URL_2: 'https://dav.jianguoyun.com/dav/',
        WEBDAV_USERNAME_2: 'two@example.com',
        WEBDAV_PASSWORD_2_FILE: pw,
        WEBDAV_URL_3: 'https://dav.jianguoyun.com/dav/',
        WEBDAV_USERNAME_3: 'three@example.com',
        WEBDAV_PASSWORD_3_FILE: pw,
      },
    });
    t.fail('expected a ConfigError');
  } catch (err) {
    t.type(err, ConfigError);
    t.same((err as ConfigError).problems.map((p) => p.key), ['WEBDAV_URL_2', 'WEBDAV_PROFILE_3']);
  }
});

t.test('the spool is not claimed away: /tmp is a sized tmpfs and the comments say the spool lives there', async (t) => {
  t.notMatch(COMPOSE_TEXT, /writes nothing to disk/i);
  t.equal(service.read_only, true);
  const tmp = (service.volumes ?? []).find((v) => typeof v === 'object' && v.target === '/tmp');
  t.ok(tmp, '/tmp is mounted');
  if (tmp && typeof tmp === 'object') {
    t.equal(tmp.type, 'tmpfs');
    t.ok(Number(tmp.tmpfs?.size) > 0, 'the tmpfs has a size');
  }
  t.equal(service.tmpfs, undefined, 'no second, unsized /tmp mount');
  t.match(COMPOSE_TEXT, /spoolDir/);
  t.match(COMPOSE_TEXT, /RAM/);
});
