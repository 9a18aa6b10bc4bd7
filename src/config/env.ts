/**
 * Environment variables → configuration overrides. Only `load.ts` calls this; nothing else in davgate reads
 * `process.env`.
 *
 * Values stay raw here (strings, or numbers/booleans when they parse cleanly); `load.ts` validates them and names
 * the variable in every problem. An empty variable counts as unset, because `docker run -e FOO=` and compose
 * files with `FOO: ""` are far more often accidents than intent.
 *
 * Upstreams are numbered from 1: `WEBDAV_URL_1` overrides the first upstream of the file, and a number past the
 * file's list adds an upstream with id `webdav<n>` (after the original plan's `WEBDAV_URL_n` scheme).
 */

/** A raw value plus the key that names it in problems: a YAML path such as `upstreams[1].url`, or an env name. */
export interface Sourced {
  /** The raw value: from YAML any type; from the environment a string, number or boolean. */
  readonly value: unknown;
  /** YAML key path or environment variable name, used verbatim in {@link ConfigProblem.key}. */
  readonly key: string;
  /**
   * Set when `value` is a file path whose content is the real value (`passwordFile:`, `X_FILE`); the loader
   * reads it. Relative paths resolve against this directory.
   */
  readonly fromFileIn?: string | undefined;
}

/** One configuration mistake. `key` names a YAML path or an environment variable; `message` never holds a value. */
export interface ConfigProblem {
  readonly key: string;
  readonly message: string;
}

/** Upstream fields settable per upstream number `n` from the environment. */
export type UpstreamEnvField =
  | 'id'
  | 'url'
  | 'username'
  | 'password'
  | 'maxConcurrent'
  | 'weight'
  | 'enabled'
  | 'description'
  | 'profile'
  | 'plan';

/** Global fields settable from the environment (dotted config paths). */
export type GlobalEnvField =
  | 'strategy'
  | 'health.intervalMs'
  | 'health.downIntervalMs'
  | 'listen.host'
  | 'listen.port'
  | 'admin.token'
  | 'auth'
  | 'log.level'
  | 'cors.origins';

/** What the environment contributes; see {@link readEnv}. */
export interface EnvOverrides {
  /** Global overrides by dotted config path. */
  readonly globals: ReadonlyMap<GlobalEnvField, Sourced>;
  /** Per-upstream overrides by upstream number (1-based). */
  readonly upstreams: ReadonlyMap<number, ReadonlyMap<UpstreamEnvField, Sourced>>;
  /** `DAVGATE_CONFIG`, when set: the config file the CLI uses when `--config` is absent. */
  readonly configFile: string | undefined;
  /** Mistakes found while reading (unknown names, X and X_FILE both set, bad numbering). */
  readonly problems: readonly ConfigProblem[];
}

type Kind = 'string' | 'int' | 'number' | 'bool';

/** Per-upstream variables: `WEBDAV_<NAME>_<n>`. `secret` ones also accept `WEBDAV_<NAME>_<n>_FILE`. */
const UPSTREAM_VARS: Readonly<Record<string, { field: UpstreamEnvField; kind: Kind; secret?: true }>> = {
  ID: { field: 'id', kind: 'string' },
  URL: { field: 'url', kind: 'string' },
  USERNAME: { field: 'username', kind: 'string', secret: true },
  PASSWORD: { field: 'password', kind: 'string', secret: true },
  MAX_CONCURRENT: { field: 'maxConcurrent', kind: 'int' },
  WEIGHT: { field: 'weight', kind: 'number' },
  ENABLED: { field: 'enabled', kind: 'bool' },
  DESCRIPTION: { field: 'description', kind: 'string' },
  // An env-only deployment (docker-compose.yml) must be able to mark a 坚果云 account as one: without its
  // profile the account gets no request budget, no cool-down and no chunked-PUT spooling (jianguoyun.md §1, §4).
  PROFILE: { field: 'profile', kind: 'string' },
  PLAN: { field: 'plan', kind: 'string' },
};

/** Global variables. `PORT` is the PaaS convention; `DAVGATE_LISTEN_PORT` wins when both are set. */
const GLOBAL_VARS: Readonly<Record<string, { field: GlobalEnvField; kind: Kind; secret?: true }>> = {
  WEBDAV_STRATEGY: { field: 'strategy', kind: 'string' },
  WEBDAV_HEALTH_CHECK_INTERVAL: { field: 'health.intervalMs', kind: 'int' },
  DAVGATE_HEALTH_DOWN_INTERVAL_MS: { field: 'health.downIntervalMs', kind: 'int' },
  DAVGATE_LISTEN_HOST: { field: 'listen.host', kind: 'string' },
  PORT: { field: 'listen.port', kind: 'int' },
  DAVGATE_LISTEN_PORT: { field: 'listen.port', kind: 'int' },
  DAVGATE_ADMIN_TOKEN: { field: 'admin.token', kind: 'string', secret: true },
  DAVGATE_AUTH: { field: 'auth', kind: 'string' },
  DAVGATE_LOG_LEVEL: { field: 'log.level', kind: 'string' },
  // Comma-separated; split and checked by the loader, like the file's list.
  DAVGATE_CORS_ORIGINS: { field: 'cors.origins', kind: 'string' },
};

/** Every environment variable davgate reads, for `--help` texts and docs. Names only, never values. */
export const ENV_VARS: readonly string[] = Object.freeze([
  ...Object.keys(UPSTREAM_VARS).flatMap((k) =>
    UPSTREAM_VARS[k]?.secret ? [`WEBDAV_${k}_n`, `WEBDAV_${k}_n_FILE`] : [`WEBDAV_${k}_n`],
  ),
  ...Object.keys(GLOBAL_VARS).flatMap((k) => (GLOBAL_VARS[k]?.secret ? [k, `${k}_FILE`] : [k])),
  'DAVGATE_CONFIG',
]);

const NUMBERED = /^WEBDAV_([A-Z][A-Z_]*?)_([0-9]+)(_FILE)?$/;

/**
 * Converts an environment string to the field's type when it parses cleanly; otherwise returns the string so
 * the validator reports "must be an integer" etc. under the variable's name.
 */
function convert(raw: string, kind: Kind): unknown {
  const s = raw.trim();
  switch (kind) {
    case 'string':
      return raw;
    case 'int':
      return /^[0-9]+$/.test(s) ? Number(s) : raw;
    case 'number':
      return /^[0-9]+(\.[0-9]+)?$/.test(s) ? Number(s) : raw;
    case 'bool': {
      const l = s.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(l)) return true;
      if (['false', '0', 'no', 'off'].includes(l)) return false;
      return raw;
    }
  }
}

/**
 * Reads davgate's variables from `env`.
 *
 * Unknown `DAVGATE_*` names and unknown `WEBDAV_<NAME>_<n>` names are problems (typo protection:
 * `WEBDAV_PASWORD_1` would otherwise silently leave an upstream without its password). Other variables are
 * ignored. `X_FILE` variables are returned as {@link Sourced} with `fromFileIn` set to `cwd`; the loader reads
 * the file.
 *
 * @param env the environment, e.g. `process.env`.
 * @param cwd directory that relative `_FILE` paths resolve against.
 */
export function readEnv(env: NodeJS.ProcessEnv, cwd: string): EnvOverrides {
  const problems: ConfigProblem[] = [];
  const globals = new Map<GlobalEnvField, Sourced>();
  const upstreams = new Map<number, Map<UpstreamEnvField, Sourced>>();
  const isSet = (name: string): boolean => typeof env[name] === 'string' && env[name] !== '';

  // Sorted so that problems come out in a stable order whatever the environment's insertion order.
  const names = Object.keys(env).filter(isSet).sort();

  for (const name of names) {
    const raw = env[name] as string;
    const m = NUMBERED.exec(name);
    if (m) {
      const [, base = '', digits = '', fileSuffix] = m;
      const spec = UPSTREAM_VARS[base];
      if (!spec) {
        problems.push({
          key: name,
          message: `unknown variable; per-upstream variables are ${Object.keys(UPSTREAM_VARS)
            .map((k) => `WEBDAV_${k}_n`)
            .join(', ')}`,
        });
        continue;
      }
      if (fileSuffix && !spec.secret) {
        problems.push({ key: name, message: `only WEBDAV_USERNAME_n and WEBDAV_PASSWORD_n accept a _FILE variant` });
        continue;
      }
      if (digits === '0' || digits.startsWith('0')) {
        problems.push({ key: name, message: 'upstreams are numbered 1, 2, 3… without leading zeros' });
        continue;
      }
      const n = Number(digits);
      if (!Number.isSafeInteger(n) || n > 1000) {
        problems.push({ key: name, message: 'upstream number is too large (at most 1000)' });
        continue;
      }
      if (fileSuffix) {
        const plain = name.slice(0, -'_FILE'.length);
        if (isSet(plain)) {
          problems.push({ key: name, message: `set either ${plain} or ${name}, not both` });
          continue;
        }
      }
      let fields = upstreams.get(n);
      if (!fields) upstreams.set(n, (fields = new Map()));
      fields.set(
        spec.field,
        fileSuffix ? { value: raw, key: name, fromFileIn: cwd } : { value: convert(raw, spec.kind), key: name },
      );
      continue;
    }

    const isFile = name.endsWith('_FILE');
    const plain = isFile ? name.slice(0, -'_FILE'.length) : name;
    const spec = GLOBAL_VARS[plain];
    if (spec && (!isFile || spec.secret)) {
      if (isFile && isSet(plain)) {
        problems.push({ key: name, message: `set either ${plain} or ${name}, not both` });
        continue;
      }
      // PORT is the fallback; DAVGATE_LISTEN_PORT overrides it whatever the iteration order.
      if (name === 'PORT' && isSet('DAVGATE_LISTEN_PORT')) continue;
      globals.set(spec.field, isFile ? { value: raw, key: name, fromFileIn: cwd } : { value: convert(raw, spec.kind), key: name });
      continue;
    }
    if (name === 'DAVGATE_CONFIG') continue;
    if (name.startsWith('DAVGATE_')) {
      problems.push({
        key: name,
        message: `unknown variable; davgate reads ${[...Object.keys(GLOBAL_VARS).filter((k) => k.startsWith('DAVGATE_')), 'DAVGATE_ADMIN_TOKEN_FILE', 'DAVGATE_CONFIG'].join(', ')}`,
      });
    }
  }

  return {
    globals,
    upstreams,
    configFile: isSet('DAVGATE_CONFIG') ? (env.DAVGATE_CONFIG as string) : undefined,
    problems,
  };
}
