/**
 * Runs the real davgate CLI (`node bin/davgate.js serve --config FILE`) for the end-to-end suite.
 *
 * Requires `npm run build` first (`npm run test:e2e` does it). The config is written as YAML to a private
 * temp dir, exactly as an operator would write it, so the suite also exercises the config loader.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cliSafePassword } from './secret.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { OutputTail, stopChild, track, waitReady } from './process.js';

/** Repository root (this file is test/e2e/helpers/gateway.ts). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

export interface UpstreamSpec {
  readonly id: string;
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

export interface RunningGateway {
  /** Base URL of the gateway's WebDAV namespace, e.g. `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Front-side Basic-auth credentials. */
  readonly username: string;
  readonly password: string;
  /** Bearer token for `/api/admin/*`. */
  readonly adminToken: string;
  readonly pid: number;
  /** Path of the generated YAML config. */
  readonly configPath: string;
  /** Resident set size of the gateway process in bytes (VmRSS); 0 once the process has exited. */
  rssBytes(): number;
  /** Last ~64 KiB of the gateway's stdout and stderr. */
  output(): string;
  /** SIGTERM to the gateway's PID (SIGKILL after 20 s), then removes the temp dir. */
  stop(): Promise<void>;
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merges `extra` into `base` recursively; arrays and scalars in `extra` replace. */
function deepMerge(base: Plain, extra: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Reads VmRSS from /proc/<pid>/status (Linux), in bytes; 0 if the process is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples `read()` every `intervalMs`; `stop()` returns the maximum seen (and the sample count). */
export function sampleMax(read: () => number, intervalMs = 200): { stop(): { max: number; samples: number } } {
  let max = read();
  let samples = 1;
  const timer = setInterval(() => {
    max = Math.max(max, read());
    samples++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      max = Math.max(max, read());
      return { max, samples: samples + 1 };
    },
  };
}

/**
 * The environment davgate runs with: ours minus every `DAVGATE_*` variable (davgate reads those as config
 * overrides and rejects unknown ones, and a developer's `DAVGATE_CONFIG` must not replace the test's file)
 * and minus `NODE_OPTIONS` (tap's loaders are for the tests, not for the compiled gateway).
 */
function gatewayEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NODE_ENV: 'production' };
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DAVGATE_') && k !== 'NODE_OPTIONS' && k !== 'NODE_ENV') env[k] = v;
  }
  return env;
}

export async function startGateway(opts: {
  upstreams: readonly UpstreamSpec[];
  /** Deep-merged over the generated config (e.g. `{ limits: { queueLength: 10 } }`). */
  extraConfig?: object;
  /** Per-upstream `maxConcurrent`; default 8. */
  maxConcurrent?: number;
}): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'davgate-e2e-gw-'));
  const username = 'tester';
  const password = cliSafePassword();
  const adminToken = randomBytes(16).toString('hex');
  // Cost 4 is bcrypt's minimum: the suite checks behaviour, not hash strength, and davgate verifies the
  // password on every request it has not cached.
  const passwordHash = bcrypt.hashSync(password, 4);
  const configPath = join(dir, 'davgate.yaml');

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const base: Plain = {
      listen: { host: '127.0.0.1', port },
      strategy: 'hash',
      auth: { mode: 'basic', realm: 'davgate', users: [{ username, passwordHash }] },
      admin: { token: adminToken },
      upstreams: opts.upstreams.map((u) => ({
        id: u.id,
        url: u.url,
        username: u.username,
        password: u.password,
        maxConcurrent: opts.maxConcurrent ?? 8,
      })),
      log: { level: 'warn' },
    };
    const config = opts.extraConfig ? deepMerge(base, opts.extraConfig as Plain) : base;
    writeFileSync(configPath, stringify(config), { mode: 0o600 });

    const out = new OutputTail(65_536);
    const child = track(
      spawn(process.execPath, [join(REPO_ROOT, 'bin', 'davgate.js'), 'serve', '--config', configPath], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: gatewayEnv(),
      }),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => out.push(c));
    const url = `http://127.0.0.1:${port}/`;
    try {
      await waitReady(
        `davgate on port ${port}`,
        async () => {
          const res = await fetch(`${url}healthz`);
          await res.arrayBuffer();
          return res.status === 200;
        },
        { child, output: () => out.toString(), timeoutMs: 30_000 },
      );
    } catch (err) {
      await stopChild(child, 'SIGTERM', 5_000);
      lastError = err as Error;
      if (/EADDRINUSE/.test(lastError.message)) continue;
      break;
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error('davgate: spawn gave no pid');
    return {
      url,
      username,
      password,
      adminToken,
      pid,
      configPath,
      rssBytes: () => rssOf(pid),
      output: () => out.toString(),
      async stop() {
        await stopChild(child, 'SIGTERM', 20_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('davgate: failed to start');
}
