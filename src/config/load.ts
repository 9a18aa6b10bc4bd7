/**
 * The configuration loader: the only module that reads config files, secret files and the environment.
 *
 * Order: YAML file → environment overrides (`env.ts`) → secret files (`passwordFile:`, `X_FILE`) → validation →
 * a deeply frozen {@link Config}. Every mistake is collected, not just the first, and each names its key: a YAML
 * path such as `upstreams[1].url` or an environment variable such as `WEBDAV_URL_2`. Problem messages never
 * contain configured values, so a mistyped password cannot end up in a terminal, a CI log or a bug report.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { parseCorsOrigin } from '../front/cors.js';
import { POLICIES } from '../placement/policy.js';
import { readEnv, type ConfigProblem, type GlobalEnvField, type Sourced } from './env.js';
import { DEFAULTS, type Config, type UpstreamConfig, type UserConfig } from './schema.js';

export type { ConfigProblem } from './env.js';

/**
 * Thrown by {@link loadConfig} when the configuration is unusable. `problems` lists every mistake found, in file
 * order then environment order; `message` joins them. Neither ever contains a configured value.
 */
export class ConfigError extends Error {
  /** Stable code, for callers that switch on codes as with `DavgateError`. */
  readonly code = 'DAVGATE_CONFIG_INVALID';
  /** Every problem found, each naming its key (YAML path or environment variable). */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}): ` +
        problems.map((p) => `${p.key}: ${p.message}`).join('; '),
    );
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ key: p.key, message: p.message })));
  }
}

/** Options for {@link loadConfig}. */
export interface LoadOptions {
  /**
   * YAML config file. When undefined, `DAVGATE_CONFIG` from `env` is used; when that is unset too, the config
   * comes from the environment and defaults alone.
   */
  readonly file?: string | undefined;
  /** Environment to read; defaults to `process.env`. Tests pass their own object. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Directory relative paths resolve against (the config file and env `_FILE` paths); defaults to `process.cwd()`. */
  readonly cwd?: string | undefined;
  /**
   * The config as an object of the YAML file's shape, instead of a file (the demo, tests and benchmarks build
   * theirs in code). It goes through exactly the same validation and defaults. Ignored when `file` is set.
   */
  readonly object?: Readonly<Record<string, unknown>> | undefined;
}

/** Largest config file read (bytes): a real one is a few KiB; this stops a wrong path (a disk image) early. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** Largest secret file read (bytes). */
const MAX_SECRET_BYTES = 64 * 1024;
/**
 * Alias expansions allowed while converting YAML to objects: enough to share a block of settings, far too few
 * for a "billion laughs" document (nested anchors that expand exponentially).
 */
const MAX_ALIAS_COUNT = 100;
/** Node's timers overflow past 2^31-1 ms and fire after 1 ms instead (Node docs, `setTimeout`). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** bcrypt modular-crypt format: `$2a$`/`$2b$`/`$2y$`, two-digit cost, 22 salt + 31 hash chars. */
const BCRYPT_PATTERN = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** RFC 6750 §2.1 b64token: what a client can put after `Bearer `. */
const BEARER_TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** How the env form of an upstream password is named in messages. */
const ENV_PASSWORD_NAME = 'WEBDAV_PASSWORD_n';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const TOP_KEYS = [
  'listen',
  'strategy',
  'auth',
  'admin',
  'upstreams',
  'health',
  'limits',
  'failover',
  'locks',
  'cors',
  'shutdownGraceMs',
  'log',
] as const;
const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  listen: ['host', 'port'],
  admin: ['token', 'tokenFile'],
  health: ['intervalMs', 'downIntervalMs', 'probeTimeoutMs', 'failThreshold', 'windowMs', 'minRequests', 'failureRatio', 'cooldownMs'],
  limits: ['queueLength', 'queueTimeoutMs', 'connectTimeoutMs', 'headersTimeoutMs', 'bodyTimeoutMs', 'maxXmlBodyBytes', 'maxPathBytes', 'maxNameBytes', 'spoolMaxBytes', 'spoolDir'],
  failover: ['retryBackoffMs'],
  locks: ['defaultTimeoutS', 'maxTimeoutS'],
  cors: ['origins'],
  log: ['level'],
};
const UPSTREAM_KEYS = [
  'id',
  'url',
  'username',
  'usernameFile',
  'password',
  'passwordFile',
  'maxConcurrent',
  'weight',
  'enabled',
  'description',
  'profile',
  'plan',
  'budget',
  'coolingMs',
  'createSandbox',
] as const;
const AUTH_KEYS = ['mode', 'realm', 'users'] as const;
const USER_KEYS = ['username', 'passwordHash'] as const;

type Obj = Record<string, unknown>;

/** Upstream fields before validation: file values overlaid with environment values. */
interface RawUpstream {
  /** Where problems about the upstream as a whole point: `upstreams[0]`, or `WEBDAV_URL_3` for an env-only one. */
  readonly key: string;
  /** Id used when none is given (env-only upstreams: `webdav<n>`). */
  readonly defaultId: string | undefined;
  readonly fields: Map<string, Sourced>;
}

/** The merged, unvalidated configuration. */
interface Raw {
  /** Scalars by dotted path: `listen.port`, `strategy`, `admin.token`, … */
  readonly scalars: Map<string, Sourced>;
  upstreams: RawUpstream[];
  auth: Sourced | undefined;
}

class Problems {
  readonly list: ConfigProblem[] = [];
  add(key: string, message: string): void {
    this.list.push({ key, message });
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Edit distance, for "did you mean" hints on unknown keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Reports every key of `obj` not in `allowed`, with a suggestion when one is close. */
function checkKeys(obj: Obj, path: string, allowed: readonly string[], p: Problems): void {
  for (const k of Object.keys(obj)) {
    if (allowed.includes(k)) continue;
    const best = allowed.map((a) => [a, distance(k, a)] as const).sort((x, y) => x[1] - y[1])[0];
    const hint = best && best[1] <= Math.max(2, Math.floor(best[0].length / 3)) ? ` (did you mean "${best[0]}"?)` : '';
    p.add(path ? `${path}.${k}` : k, `unknown key${hint}; allowed here: ${allowed.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the YAML file

function readYaml(file: string, p: Problems): { root: Obj; dir: string } | undefined {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      p.add(file, 'config file is not a regular file');
      return undefined;
    }
    if (st.size > MAX_CONFIG_BYTES) {
      p.add(file, `config file is larger than ${MAX_CONFIG_BYTES} bytes; is this the right file?`);
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    p.add(file, `cannot read config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }

  const lineCounter = new LineCounter();
  // prettyErrors is off and yaml's own messages are not used: some quote source text ("Invalid escape sequence
  // \q"), which may be part of a password. Code plus line and column is enough to find the mistake.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, merge: false, lineCounter });
  const issues = [...doc.errors, ...doc.warnings];
  if (issues.length > 0) {
    for (const e of issues) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      p.add(`${file}:${line}:${col}`, `YAML ${e.name === 'YAMLWarning' ? 'warning' : 'syntax error'} ${e.code}`);
    }
    return undefined;
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    p.add(file, `YAML aliases expand too much (more than ${MAX_ALIAS_COUNT}); refusing a possible alias bomb`);
    return undefined;
  }
  if (root === null || root === undefined) return { root: {}, dir: dirname(file) };
  if (!isObj(root)) {
    p.add(file, 'the top level must be a mapping (key: value lines)');
    return undefined;
  }
  return { root, dir: dirname(file) };
}

/** Adds a `secret` / `secretFile` pair (e.g. `password` / `passwordFile`) to `fields` under `field`. */
function takeSecret(
  obj: Obj,
  path: string,
  field: string,
  fileField: string,
  dir: string,
  into: Map<string, Sourced>,
  p: Problems,
): void {
  const hasPlain = obj[field] !== undefined && obj[field] !== null;
  const hasFile = obj[fileField] !== undefined && obj[fileField] !== null;
  if (hasPlain && hasFile) p.add(`${path}.${fileField}`, `set either ${field} or ${fileField}, not both`);
  // On a conflict the plain value stands in, so that checks on neighbours (username needs password) stay quiet.
  if (hasPlain) into.set(field, { value: obj[field], key: `${path}.${field}` });
  else if (hasFile) into.set(field, { value: obj[fileField], key: `${path}.${fileField}`, fromFileIn: dir });
}

function rawFromFile(root: Obj, dir: string, p: Problems): Raw {
  const raw: Raw = { scalars: new Map(), upstreams: [], auth: undefined };
  checkKeys(root, '', TOP_KEYS, p);

  for (const k of ['strategy', 'shutdownGraceMs'] as const) {
    if (root[k] !== undefined && root[k] !== null) raw.scalars.set(k, { value: root[k], key: k });
  }
  for (const [section, keys] of Object.entries(SECTION_KEYS)) {
    const v = root[section];
    if (v === undefined || v === null) continue;
    if (!isObj(v)) {
      p.add(section, `must be a mapping with keys ${keys.join(', ')}`);
      continue;
    }
    checkKeys(v, section, keys, p);
    if (section === 'admin') {
      const m = new Map<string, Sourced>();
      takeSecret(v, 'admin', 'token', 'tokenFile', dir, m, p);
      const token = m.get('token');
      if (token) raw.scalars.set('admin.token', token);
      continue;
    }
    for (const k of keys) {
      if (v[k] !== undefined && v[k] !== null) raw.scalars.set(`${section}.${k}`, { value: v[k], key: `${section}.${k}` });
    }
  }
  if (root.auth !== undefined && root.auth !== null) raw.auth = { value: root.auth, key: 'auth' };

  const ups = root.upstreams;
  if (ups !== undefined && ups !== null) {
    if (!Array.isArray(ups)) {
      p.add('upstreams', 'must be a list of upstreams (lines starting with "- id: …")');
    } else {
      ups.forEach((u: unknown, i) => {
        const path = `upstreams[${i}]`;
        const fields = new Map<string, Sourced>();
        raw.upstreams.push({ key: path, defaultId: undefined, fields });
        if (!isObj(u)) {
          p.add(path, 'must be a mapping with keys id, url, …');
          return;
        }
        checkKeys(u, path, UPSTREAM_KEYS, p);
        for (const k of ['id', 'url', 'maxConcurrent', 'weight', 'enabled', 'description', 'profile', 'plan', 'budget', 'coolingMs', 'createSandbox'] as const) {
          if (u[k] !== undefined && u[k] !== null) fields.set(k, { value: u[k], key: `${path}.${k}` });
        }
        takeSecret(u, path, 'username', 'usernameFile', dir, fields, p);
        takeSecret(u, path, 'password', 'passwordFile', dir, fields, p);
      });
    }
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------------------------
// Environment overlay and secret files

function applyEnv(raw: Raw, env: NodeJS.ProcessEnv, cwd: string, p: Problems): void {
  const o = readEnv(env, cwd);
  for (const pr of o.problems) p.add(pr.key, pr.message);
  for (const [field, s] of o.globals) {
    if (field === 'auth') raw.auth = s;
    else raw.scalars.set(field satisfies Exclude<GlobalEnvField, 'auth'>, s);
  }

  const fromFile = raw.upstreams.length;
  const numbers = [...o.upstreams.keys()].sort((a, b) => a - b);
  const max = numbers.at(-1) ?? 0;
  for (let n = fromFile + 1; n <= max; n++) {
    if (!o.upstreams.has(n)) {
      const next = numbers.find((m) => m > n);
      p.add(
        `WEBDAV_URL_${n}`,
        `missing: upstreams are numbered 1, 2, 3… without gaps (the file has ${fromFile}), but variables for upstream ${next} are set`,
      );
    }
  }
  for (const n of numbers) {
    const envFields = o.upstreams.get(n)!;
    if (n <= fromFile) {
      const target = raw.upstreams[n - 1]!;
      for (const [f, s] of envFields) target.fields.set(f, s);
      continue;
    }
    if (!envFields.has('url')) {
      p.add(`WEBDAV_URL_${n}`, `required: upstream ${n} is not in the config file (it lists ${fromFile}), so it needs a URL`);
      continue;
    }
    raw.upstreams.push({ key: `WEBDAV_URL_${n}`, defaultId: `webdav${n}`, fields: new Map(envFields) });
  }
}

/** Replaces a `fromFileIn` value by the file's content (trailing newlines trimmed), or reports why it cannot. */
function readSecret(s: Sourced, p: Problems): Sourced {
  if (s.fromFileIn === undefined) return s;
  if (typeof s.value !== 'string' || s.value === '') {
    p.add(s.key, 'must be a file path');
    return { value: undefined, key: s.key };
  }
  const path = resolve(s.fromFileIn, s.value);
  try {
    const st = statSync(path);
    if (!st.isFile()) {
      p.add(s.key, `${path} is not a regular file`);
      return { value: undefined, key: s.key };
    }
    if (st.size > MAX_SECRET_BYTES) {
      p.add(s.key, `${path} is larger than ${MAX_SECRET_BYTES} bytes; is this the right file?`);
      return { value: undefined, key: s.key };
    }
    const content = readFileSync(path, 'utf8').replace(/(\r?\n)+$/, '');
    if (content === '') {
      p.add(s.key, `${path} is empty`);
      return { value: undefined, key: s.key };
    }
    return { value: content, key: s.key };
  } catch (err) {
    p.add(s.key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return { value: undefined, key: s.key };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Validation. Each helper reports under the value's own key and returns a fallback so that validation can go on
// and find the remaining problems; the fallback never reaches a caller because loadConfig throws.

function str(s: Sourced | undefined, p: Problems, opts: { optional: true }): string | undefined;
function str(s: Sourced | undefined, p: Problems, opts: { def: string }): string;
function str(s: Sourced | undefined, p: Problems, opts: { def?: string; optional?: true }): string | undefined {
  if (s === undefined || s.value === undefined) return opts.def;
  if (typeof s.value !== 'string') {
    p.add(s.key, typeof s.value === 'number' || typeof s.value === 'boolean' ? 'must be a string (quote it in YAML)' : 'must be a string');
    return opts.def;
  }
  return s.value;
}

function int(s: Sourced | undefined, p: Problems, def: number, min: number, max: number, what = 'an integer'): number {
  if (s === undefined || s.value === undefined) return def;
  if (typeof s.value !== 'number' || !Number.isSafeInteger(s.value) || s.value < min || s.value > max) {
    p.add(s.key, `must be ${what} from ${min} to ${max}`);
    return def;
  }
  return s.value;
}

/** A duration in ms; `min` 1 for timeouts and intervals, 0 where "no wait" makes sense. */
function ms(s: Sourced | undefined, p: Problems, def: number, min: 0 | 1 = 1): number {
  return int(s, p, def, min, MAX_TIMER_MS, 'a whole number of milliseconds');
}

/** A share in (0, 1], e.g. a failure ratio. */
function ratio(s: Sourced | undefined, p: Problems, def: number): number {
  if (s === undefined || s.value === undefined) return def;
  if (typeof s.value !== 'number' || !Number.isFinite(s.value) || s.value <= 0 || s.value > 1) {
    p.add(s.key, 'must be a number greater than 0 and at most 1');
    return def;
  }
  return s.value;
}

function bool(s: Sourced | undefined, p: Problems, def: boolean): boolean {
  if (s === undefined || s.value === undefined) return def;
  if (typeof s.value !== 'boolean') {
    p.add(s.key, 'must be true or false');
    return def;
  }
  return s.value;
}

/**
 * Normalises an upstream base URL: http(s) only, no userinfo, no query or fragment, path ending in `/` (added
 * when missing, so that relative resolution keeps the last segment: `…/dav/music` + `a.mp3` would otherwise
 * give `…/dav/a.mp3`, WHATWG URL §4.4).
 */
function upstreamUrl(s: Sourced | undefined, path: string, p: Problems): string {
  if (s === undefined || s.value === undefined) {
    p.add(path.startsWith('upstreams[') ? `${path}.url` : path, 'required: the WebDAV base URL of this account');
    return 'http://invalid/';
  }
  if (typeof s.value !== 'string') {
    p.add(s.key, 'must be a string');
    return 'http://invalid/';
  }
  let u: URL;
  try {
    u = new URL(s.value.trim());
  } catch {
    p.add(s.key, 'is not a valid absolute URL (expected e.g. https://dav.jianguoyun.com/dav/folder/)');
    return 'http://invalid/';
  }
  let ok = true;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    p.add(s.key, 'must be an http:// or https:// URL');
    ok = false;
  }
  if (u.username !== '' || u.password !== '') {
    p.add(s.key, 'must not contain credentials (user:password@); use username/password (or WEBDAV_USERNAME_n / WEBDAV_PASSWORD_n) instead');
    ok = false;
  }
  if (s.value.includes('?') || s.value.includes('#')) {
    p.add(s.key, 'must not have a query (?…) or fragment (#…); it is a base path that request paths are appended to');
    ok = false;
  }
  if (!ok) return 'http://invalid/';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

/** The 坚果云 WebDAV host (jianguoyun.md, header: "Host `https://dav.jianguoyun.com`, base path `/dav/`"). */
const JIANGUOYUN_HOST = 'dav.jianguoyun.com';

/** Whether a normalised upstream URL points at the 坚果云 WebDAV host. Pure. */
function isJianguoyunHost(url: string): boolean {
  return new URL(url).hostname === JIANGUOYUN_HOST;
}

/** The 1-based upstream number of a raw upstream key (`upstreams[1]` → 2, `WEBDAV_URL_3` → 3), for env names. */
function upstreamNumber(key: string): number | undefined {
  const m = /^upstreams\[(\d+)\]$/.exec(key) ?? /^WEBDAV_URL_(\d+)$/.exec(key);
  if (!m) return undefined;
  return key.startsWith('upstreams[') ? Number(m[1]) + 1 : Number(m[1]);
}

function validateUpstream(r: RawUpstream, p: Problems): UpstreamConfig {
  const f = (k: string): Sourced | undefined => r.fields.get(k);
  const idSrc = f('id');
  let id = str(idSrc, p, { optional: true });
  if (id === undefined && idSrc === undefined) {
    if (r.defaultId === undefined) p.add(`${r.key}.id`, 'required: a stable identifier such as "a" or "jgy-music"');
    id = r.defaultId ?? `?${r.key}`;
  } else if (id !== undefined && !ID_PATTERN.test(id)) {
    p.add(idSrc!.key, 'must be 1 to 64 characters from A-Z a-z 0-9 _ . -');
  }
  id ??= `?${r.key}`;
  const url = upstreamUrl(f('url'), r.key, p);

  const userSrc = f('username');
  const passSrc = f('password');
  const username = str(userSrc, p, { optional: true });
  const password = str(passSrc, p, { optional: true });
  if (username !== undefined && (username.includes(':') || CONTROL_CHARS.test(username))) {
    // RFC 7617 §2: the user-id cannot contain a colon, and control characters are not allowed.
    p.add(userSrc!.key, 'must not contain ":" or control characters (RFC 7617 §2)');
  }
  if (password !== undefined && CONTROL_CHARS.test(password)) {
    p.add(passSrc!.key, 'must not contain control characters (RFC 7617 §2); check the value or the file it came from');
  }
  if (userSrc !== undefined && passSrc === undefined) {
    const missingKey = r.key.startsWith('upstreams[') ? `${r.key}.password` : ENV_PASSWORD_NAME;
    p.add(userSrc.key, `is set but the password is missing (${missingKey}); set both or neither`);
  } else if (passSrc !== undefined && userSrc === undefined) {
    p.add(passSrc.key, 'is set but the username is missing; set both or neither');
  }

  const weightSrc = f('weight');
  let weight: number = DEFAULTS.weight;
  if (weightSrc !== undefined && weightSrc.value !== undefined) {
    if (typeof weightSrc.value !== 'number' || !Number.isFinite(weightSrc.value) || weightSrc.value <= 0) {
      p.add(weightSrc.key, 'must be a finite number greater than 0');
    } else weight = weightSrc.value;
  }
  const description = str(f('description'), p, { optional: true });
  const profileSrc = f('profile');
  const profile = str(profileSrc, p, { def: 'generic' });
  if (profile !== 'generic' && profile !== 'jianguoyun') p.add(profileSrc!.key, 'must be generic or jianguoyun');
  if ((profileSrc === undefined || profileSrc.value === undefined) && isJianguoyunHost(url)) {
    // A 坚果云 account on the generic profile gets no request budget, no rest after BlockedTemporarily, no
    // chunked-PUT spooling and no Overwrite or Range fixes (jianguoyun.md §1, §4): it works until the vendor
    // blocks it. So the generic behaviour there must be asked for; an explicit `profile: generic` stays allowed.
    const n = upstreamNumber(r.key);
    const envName = n !== undefined ? `WEBDAV_PROFILE_${n}` : 'WEBDAV_PROFILE_n';
    p.add(
      r.key.startsWith('upstreams[') ? `${r.key}.profile` : envName,
      `required for a ${JIANGUOYUN_HOST} URL: set profile: jianguoyun (or ${envName}=jianguoyun); use profile: generic to keep the generic behaviour deliberately`,
    );
  }
  const planSrc = f('plan');
  const plan = str(planSrc, p, { def: 'free' });
  if (plan !== 'free' && plan !== 'paid') p.add(planSrc!.key, 'must be free (600 requests per 30 min) or paid (1500)');
  if (profile === 'jianguoyun' && /^\/dav\/?$/.test(new URL(url).pathname)) {
    p.add(f('url')?.key ?? `${r.key}.url`, 'a 坚果云 account cannot hold files directly under /dav/: use a sandbox folder, e.g. https://dav.jianguoyun.com/dav/davgate/');
  }
  const budgetSrc = f('budget');
  let budget: UpstreamConfig['budget'];
  const jgyRequests = Math.floor(
    (plan === 'paid' ? DEFAULTS.jianguoyunPaidRequests : DEFAULTS.jianguoyunFreeRequests) * DEFAULTS.jianguoyunBudgetShare,
  );
  if (budgetSrc !== undefined && budgetSrc.value !== undefined) {
    const b = budgetSrc.value as Record<string, unknown>;
    const n = (k: string, def: number, min: number) => {
      const v = b[k] ?? def;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31 - 1) {
        p.add(`${budgetSrc.key}.${k}`, `must be an integer >= ${min}`);
        return def;
      }
      return v;
    };
    if (typeof b !== 'object' || b === null || Array.isArray(b)) p.add(budgetSrc.key, 'must be a mapping: { requests, windowMs, minSpacingMs }');
    else {
      for (const k of Object.keys(b)) if (!['requests', 'windowMs', 'minSpacingMs'].includes(k)) p.add(`${budgetSrc.key}.${k}`, 'unknown key');
      budget = {
        requests: n('requests', jgyRequests, 1),
        windowMs: n('windowMs', DEFAULTS.jianguoyunWindowMs, 1),
        minSpacingMs: n('minSpacingMs', profile === 'jianguoyun' ? DEFAULTS.jianguoyunMinSpacingMs : 0, 0),
      };
    }
  } else if (profile === 'jianguoyun') {
    budget = { requests: jgyRequests, windowMs: DEFAULTS.jianguoyunWindowMs, minSpacingMs: DEFAULTS.jianguoyunMinSpacingMs };
  }
  return {
    id,
    url,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    maxConcurrent: int(f('maxConcurrent'), p, DEFAULTS.maxConcurrent, 1, 10_000),
    weight,
    enabled: bool(f('enabled'), p, true),
    ...(description !== undefined ? { description } : {}),
    profile: profile as UpstreamConfig['profile'],
    ...(budget !== undefined ? { budget } : {}),
    coolingMs: ms(f('coolingMs'), p, DEFAULTS.coolingMs),
    createSandbox: bool(f('createSandbox'), p, false),
  };
}

const AUTH_HELP =
  'configure front-side users (auth: { mode: basic, users: [ { username, passwordHash } ] }, hashes from ' +
  '`davgate hash-password`) or write `auth: none` explicitly (or set DAVGATE_AUTH=none); davgate does not ' +
  'start as an open proxy by accident';

function validateAuth(s: Sourced | undefined, p: Problems): Config['auth'] {
  const none = { mode: 'none' } as const;
  if (s === undefined) {
    p.add('auth', `required: ${AUTH_HELP}`);
    return none;
  }
  if (s.key !== 'auth') {
    // From DAVGATE_AUTH: only switching auth off is possible from the environment; users live in the file.
    if (s.value !== 'none') p.add(s.key, 'must be "none"; basic-auth users are configured in the config file');
    return none;
  }
  const v = s.value;
  if (v === 'none') return none;
  if (!isObj(v)) {
    p.add('auth', `must be "none" or a mapping with mode: basic; ${AUTH_HELP}`);
    return none;
  }
  checkKeys(v, 'auth', AUTH_KEYS, p);
  if (v.mode === 'none') {
    if (v.users !== undefined || v.realm !== undefined) {
      p.add('auth.mode', 'is "none" but users/realm are set; use mode: basic, or remove them');
    }
    return none;
  }
  if (v.mode !== 'basic') {
    p.add('auth.mode', 'must be "basic" or "none"');
    return none;
  }
  let realm: string = DEFAULTS.realm;
  if (v.realm !== undefined && v.realm !== null) {
    if (typeof v.realm !== 'string' || v.realm === '' || v.realm.length > 128 || CONTROL_CHARS.test(v.realm)) {
      p.add('auth.realm', 'must be a string of 1 to 128 characters without control characters');
    } else realm = v.realm;
  }
  const users: UserConfig[] = [];
  if (!Array.isArray(v.users) || v.users.length === 0) {
    p.add('auth.users', `no users: ${AUTH_HELP}`);
    return { mode: 'basic', realm, users };
  }
  const seen = new Map<string, string>();
  v.users.forEach((u: unknown, i) => {
    const path = `auth.users[${i}]`;
    if (!isObj(u)) {
      p.add(path, 'must be a mapping with keys username, passwordHash');
      return;
    }
    checkKeys(u, path, USER_KEYS, p);
    let ok = true;
    if (typeof u.username !== 'string' || u.username === '' || u.username.includes(':') || CONTROL_CHARS.test(u.username)) {
      p.add(`${path}.username`, 'must be a non-empty string without ":" or control characters (RFC 7617 §2)');
      ok = false;
    } else if (seen.has(u.username)) {
      p.add(`${path}.username`, `duplicate: ${seen.get(u.username)} has the same username`);
      ok = false;
    } else seen.set(u.username, path);
    if (typeof u.passwordHash !== 'string' || !BCRYPT_PATTERN.test(u.passwordHash)) {
      // Deliberately no echo: people paste the plain password here by mistake.
      p.add(`${path}.passwordHash`, 'must be a bcrypt hash ($2b$12$… , 60 characters) as printed by `davgate hash-password`');
      ok = false;
    } else {
      const cost = Number(BCRYPT_PATTERN.exec(u.passwordHash)![1]);
      if (cost < 4 || cost > 31) {
        p.add(`${path}.passwordHash`, 'bcrypt cost must be 4 to 31');
        ok = false;
      }
    }
    if (ok) users.push({ username: u.username as string, passwordHash: u.passwordHash as string });
  });
  return { mode: 'basic', realm, users };
}

/**
 * `cors.origins` (a YAML list of strings) or `DAVGATE_CORS_ORIGINS` (one comma-separated string): each entry must
 * be `http(s)://host[:port]` ({@link parseCorsOrigin}); returned serialised (lower case, default port dropped) and
 * de-duplicated. Problems name the key and the entry's position, never its text.
 */
function corsOrigins(s: Sourced | undefined, p: Problems): string[] {
  if (s === undefined || s.value === undefined) return [];
  const fromEnv = !s.key.includes('.');
  let items: unknown[];
  if (typeof s.value === 'string' && fromEnv) items = s.value.split(',').filter((x) => x.trim() !== '');
  else if (Array.isArray(s.value)) items = s.value;
  else {
    p.add(s.key, 'must be a list of origins, e.g. [https://app.example.com, http://127.0.0.1:3000]');
    return [];
  }
  const out: string[] = [];
  items.forEach((item, i) => {
    const key = fromEnv ? `${s.key} (entry ${i + 1})` : `${s.key}[${i}]`;
    if (typeof item !== 'string') {
      p.add(key, 'must be a string such as https://app.example.com');
      return;
    }
    const r = parseCorsOrigin(item);
    if (!r.ok) p.add(key, r.reason);
    else if (!out.includes(r.origin)) out.push(r.origin);
  });
  return out;
}

/**
 * The identity the vendor's request budget is kept for, of an enabled `profile: jianguoyun` upstream: origin plus
 * username, lower-cased (the username is the account's e-mail address, jianguoyun.md §6). jianguoyun.md §1: "The
 * official text speaks per user and tier", so every sandbox of one account draws on one budget. Undefined for
 * other upstreams. Pure.
 */
function jianguoyunUserKey(u: UpstreamConfig): string | undefined {
  if (!u.enabled || u.profile !== 'jianguoyun') return undefined;
  return `${new URL(u.url).origin}\u0000${(u.username ?? '').toLowerCase()}`;
}

function validate(raw: Raw, p: Problems): Config {
  const sc = (k: string): Sourced | undefined => raw.scalars.get(k);

  const host = str(sc('listen.host'), p, { def: DEFAULTS.listenHost });
  if (host === '' || /\s/.test(host)) p.add(sc('listen.host')!.key, 'must be a host name or IP address without spaces');

  const strategySrc = sc('strategy');
  const strategy = str(strategySrc, p, { def: 'hash' });
  if (!Object.hasOwn(POLICIES, strategy)) {
    p.add(strategySrc!.key, `unknown strategy; known: ${Object.keys(POLICIES).join(', ')}`);
  }

  const tokenSrc = sc('admin.token');
  const token = str(tokenSrc, p, { optional: true });
  if (token !== undefined && !BEARER_TOKEN_PATTERN.test(token)) {
    p.add(tokenSrc!.key, 'must be a bearer token (RFC 6750 §2.1: letters, digits, -._~+/), e.g. from `openssl rand -hex 32`');
  }

  const levelSrc = sc('log.level');
  const level = str(levelSrc, p, { def: DEFAULTS.logLevel });
  if (!(LOG_LEVELS as readonly string[]).includes(level)) p.add(levelSrc!.key, `must be one of ${LOG_LEVELS.join(', ')}`);

  const spoolDirSrc = sc('limits.spoolDir');
  const spoolDir = str(spoolDirSrc, p, { optional: true });
  if (spoolDir !== undefined && !isAbsolute(spoolDir)) p.add(spoolDirSrc!.key, 'must be an absolute directory path, e.g. /var/tmp/davgate');

  const upstreams = raw.upstreams.map((r) => validateUpstream(r, p));
  if (upstreams.length === 0) {
    p.add('upstreams', 'required: list at least one upstream (or set WEBDAV_URL_1)');
  } else if (!upstreams.some((u) => u.enabled)) {
    p.add('upstreams', 'no enabled upstream: set enabled: true (or WEBDAV_ENABLED_n=true) on at least one');
  }
  const ids = new Map<string, string>();
  const accounts = new Map<string, string>();
  const jianguoyunUsers = new Map<string, string>();
  raw.upstreams.forEach((r, i) => {
    const u = upstreams[i]!;
    const idKey = r.fields.get('id')?.key ?? r.key;
    const prevId = ids.get(u.id);
    if (prevId !== undefined) p.add(idKey, `duplicate id: ${prevId} has the same id`);
    else ids.set(u.id, r.key);
    if (u.url === 'http://invalid/') return;
    // The same account listed twice would take two shares of the keyspace while being one store.
    const account = `${u.url}\u0000${u.username ?? ''}`;
    const prev = accounts.get(account);
    if (prev !== undefined) {
      p.add(r.fields.get('url')?.key ?? r.key, `same URL and username as ${prev}: each account may appear once`);
      return;
    }
    accounts.set(account, r.key);
    const user = jianguoyunUserKey(u);
    if (user === undefined) return;
    const prevUser = jianguoyunUsers.get(user);
    if (prevUser !== undefined) {
      p.add(
        r.fields.get('url')?.key ?? r.key,
        `same 坚果云 account (origin and username) as ${prevUser}, in another sandbox: the vendor counts requests ` +
          'per user, so two sandboxes of one account add no capacity and would spend its budget twice; list each ' +
          'account once (or disable one of them)',
      );
    } else jianguoyunUsers.set(user, r.key);
  });

  // Refused rather than ignored: a config that relies on it would otherwise silently behave differently.
  const cooldown = sc('health.cooldownMs');
  if (cooldown !== undefined && cooldown.value !== undefined) {
    p.add(
      cooldown.key,
      'was removed: a down upstream is now probed every health.downIntervalMs and comes back on its first ' +
        'successful probe; delete this key (see README "Health")',
    );
  }
  return {
    listen: { host, port: int(sc('listen.port'), p, DEFAULTS.listenPort, 0, 65535) },
    strategy: strategy as Config['strategy'],
    upstreams,
    auth: validateAuth(raw.auth, p),
    admin: token !== undefined ? { token } : {},
    health: {
      intervalMs: ms(sc('health.intervalMs'), p, DEFAULTS.healthIntervalMs),
      probeTimeoutMs: ms(sc('health.probeTimeoutMs'), p, DEFAULTS.probeTimeoutMs),
      downIntervalMs: ms(sc('health.downIntervalMs'), p, DEFAULTS.healthDownIntervalMs),
      failThreshold: int(sc('health.failThreshold'), p, DEFAULTS.failThreshold, 1, 1_000_000),
      windowMs: ms(sc('health.windowMs'), p, DEFAULTS.healthWindowMs),
      minRequests: int(sc('health.minRequests'), p, DEFAULTS.healthMinRequests, 1, 1_000_000),
      failureRatio: ratio(sc('health.failureRatio'), p, DEFAULTS.healthFailureRatio),
    },
    limits: {
      queueLength: int(sc('limits.queueLength'), p, DEFAULTS.queueLength, 0, 10_000_000),
      queueTimeoutMs: ms(sc('limits.queueTimeoutMs'), p, DEFAULTS.queueTimeoutMs),
      connectTimeoutMs: ms(sc('limits.connectTimeoutMs'), p, DEFAULTS.connectTimeoutMs),
      headersTimeoutMs: ms(sc('limits.headersTimeoutMs'), p, DEFAULTS.headersTimeoutMs),
      bodyTimeoutMs: ms(sc('limits.bodyTimeoutMs'), p, DEFAULTS.bodyTimeoutMs),
      maxXmlBodyBytes: int(sc('limits.maxXmlBodyBytes'), p, DEFAULTS.maxXmlBodyBytes, 1, 2 ** 31 - 1),
      maxPathBytes: int(sc('limits.maxPathBytes'), p, DEFAULTS.maxPathBytes, 1, 1_000_000),
      maxNameBytes: int(sc('limits.maxNameBytes'), p, DEFAULTS.maxNameBytes, 1, 1_000_000),
      spoolMaxBytes: int(sc('limits.spoolMaxBytes'), p, DEFAULTS.spoolMaxBytes, 0, Number.MAX_SAFE_INTEGER),
      ...(spoolDir !== undefined ? { spoolDir } : {}),
    },
    failover: { retryBackoffMs: ms(sc('failover.retryBackoffMs'), p, DEFAULTS.retryBackoffMs, 0) },
    locks: {
      defaultTimeoutS: int(sc('locks.defaultTimeoutS'), p, DEFAULTS.lockDefaultTimeoutS, 1, 2 ** 31 - 1),
      maxTimeoutS: int(sc('locks.maxTimeoutS'), p, DEFAULTS.lockMaxTimeoutS, 1, 2 ** 31 - 1),
    },
    cors: { origins: corsOrigins(sc('cors.origins'), p) },
    shutdownGraceMs: ms(sc('shutdownGraceMs'), p, DEFAULTS.shutdownGraceMs, 0),
    log: { level: level as Config['log']['level'] },
  };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Loads, merges and validates the configuration.
 *
 * Sources, later winning: defaults ({@link DEFAULTS}) ← YAML file (`opts.file`, else `DAVGATE_CONFIG`) ←
 * environment (see `env.ts` and `config/davgate.example.yaml` for the names) ← secret files (`passwordFile:`,
 * `tokenFile:`, `usernameFile:`, `*_FILE`; trailing newlines trimmed).
 *
 * @returns a deeply frozen {@link Config}; upstream URLs normalised to end in `/`.
 * @throws {ConfigError} listing every problem found (YAML syntax, unknown keys or variables, bad values,
 *   unreadable files); messages name keys and never contain configured values.
 */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const p = new Problems();
  const fileArg = opts.file ?? (env.DAVGATE_CONFIG ? env.DAVGATE_CONFIG : undefined);

  let raw: Raw = { scalars: new Map(), upstreams: [], auth: undefined };
  if (opts.file === undefined && opts.object !== undefined) {
    if (!isObj(opts.object)) throw new ConfigError([{ key: '(config)', message: 'must be a mapping' }]);
    raw = rawFromFile(opts.object as Obj, cwd, p);
  } else if (fileArg !== undefined) {
    const file = resolve(cwd, fileArg);
    const parsed = readYaml(file, p);
    // A file that does not parse gives no further problems: they would only be noise on top of the real one.
    if (!parsed) throw new ConfigError(p.list);
    raw = rawFromFile(parsed.root, parsed.dir, p);
  }
  applyEnv(raw, env, cwd, p);

  for (const [k, s] of raw.scalars) raw.scalars.set(k, readSecret(s, p));
  for (const u of raw.upstreams) for (const [k, s] of u.fields) u.fields.set(k, readSecret(s, p));

  const config = validate(raw, p);
  if (p.list.length > 0) throw new ConfigError(p.list);
  return deepFreeze(config);
}

/**
 * A copy of `c` that is safe to print or log: upstream passwords, the admin token and user password hashes are
 * replaced by `"***"` (hashes too, since a leaked hash invites offline guessing). Usernames stay visible.
 *
 * @returns a new, deeply frozen {@link Config}; `c` is not modified.
 */
export function redactedConfig(c: Config): Config {
  const R = '***';
  return deepFreeze({
    listen: { ...c.listen },
    strategy: c.strategy,
    upstreams: c.upstreams.map((u) => ({ ...u, ...(u.password !== undefined ? { password: R } : {}) })),
    auth:
      c.auth.mode === 'basic'
        ? { mode: 'basic', realm: c.auth.realm, users: c.auth.users.map((u) => ({ username: u.username, passwordHash: R })) }
        : { mode: 'none' },
    admin: c.admin.token !== undefined ? { token: R } : {},
    health: { ...c.health },
    limits: { ...c.limits },
    failover: { ...c.failover },
    locks: { ...c.locks },
    cors: { origins: [...c.cors.origins] },
    shutdownGraceMs: c.shutdownGraceMs,
    log: { ...c.log },
  });
}
