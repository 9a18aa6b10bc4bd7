/**
 * A test rig: N simulated 坚果云 accounts (src/sim/jianguoyun.ts) behind davgate with `profile: jianguoyun`,
 * on loopback, stopped in teardown. Defaults keep budgets out of the way; tests about budgets set their own.
 */
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim, type JianguoyunSimOptions } from '../../src/sim/jianguoyun.js';

/** The simulator's default sandbox, percent-encoded for a URL. */
export const SANDBOX = encodeURIComponent('我的坚果云');

/** A davgate budget large enough never to make a test wait. */
export const NO_WAIT_BUDGET = { requests: 90_000, windowMs: 1_800_000, minSpacingMs: 0 } as const;

/** Options of {@link jianguoyunRig}. */
export interface RigOptions {
  /** Number of accounts (default 3), ids `j0`, `j1`, … */
  readonly accounts?: number;
  /** Simulator options for every account (default: a budget of 100,000). */
  readonly sim?: JianguoyunSimOptions;
  /** Extra keys for every upstream (e.g. `budget`, `coolingMs`, `weight`). */
  readonly upstream?: Record<string, unknown>;
  /** Per-account extra keys, by index (e.g. `{ 1: { weight: 4 } }`). */
  readonly perUpstream?: Readonly<Record<number, Record<string, unknown>>>;
  /** Replaces the upstream URL of account i (e.g. a fault-injecting forwarder in front of it). */
  readonly urlOf?: (sim: JianguoyunSim, i: number) => string;
  /** Runs once the accounts are up and before davgate starts (e.g. to put a forwarder in front of one). */
  readonly beforeStart?: (sims: JianguoyunSim[]) => Promise<void>;
  /** Extra top-level config keys (merged over the defaults). */
  readonly config?: Record<string, unknown>;
}

/** An answer read whole. */
export interface RigAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** A running rig. */
export interface Rig {
  readonly sims: JianguoyunSim[];
  readonly server: RunningServer;
  /** Sends `method path` to davgate (path starts with `/`) and reads the whole answer. */
  call(method: string, path: string, headers?: Record<string, string>, body?: string | Buffer): Promise<RigAnswer>;
  /** The absolute davgate URL of `path`, e.g. for a `Destination` header. */
  url(path: string): string;
}

/**
 * Starts the accounts and davgate; registers their teardown on `t`.
 * @throws whatever `startServer` throws (e.g. a ConfigError from the start-up sandbox check)
 */
export async function jianguoyunRig(t: { teardown(fn: () => unknown): void }, opts: RigOptions = {}): Promise<Rig> {
  const sims: JianguoyunSim[] = [];
  t.teardown(async () => {
    for (const s of sims) await s.stop();
  });
  for (let i = 0; i < (opts.accounts ?? 3); i++) sims.push(await startJianguoyunSim({ budget: 100_000, ...opts.sim }));
  await opts.beforeStart?.(sims);
  const server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: sims.map((s, i) => ({
          id: `j${i}`,
          url: opts.urlOf?.(s, i) ?? `${s.url}${SANDBOX}/`,
          username: s.username,
          password: s.password,
          profile: 'jianguoyun',
          budget: NO_WAIT_BUDGET,
          ...opts.upstream,
          ...opts.perUpstream?.[i],
        })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
        ...opts.config,
      },
    }),
  );
  t.teardown(() => server.close());
  const url = (path: string) => new URL(path.slice(1), server.url).href;
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) => {
    const r = await request(url(path), { method: method as 'GET', headers, body });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  };
  return { sims, server, call, url };
}
