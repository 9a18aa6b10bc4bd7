/**
 * `davgate demo`: three in-process WebDAV upstreams plus the gateway, with a demo user and ready-to-paste
 * commands. Everything runs in this process; nothing leaves the machine.
 *
 * Two profiles (`--profile`): `generic` (the default) runs three webdav-server accounts; `jianguoyun` runs three
 * simulated 坚果云 accounts (src/sim/jianguoyun.ts) with the gateway's `profile: jianguoyun`, so the request
 * budget, the vendor's quirks and davgate's answers to them can be tried without real accounts.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { loadConfig } from '../config/load.js';
import { DEFAULTS, type Config } from '../config/schema.js';
import { startServer, type RunningServer } from '../server.js';
import { FREE_BUDGET } from '../sim/jianguoyun.js';
import { startDavUpstreams, startJianguoyunUpstreams, type DemoUpstream } from './upstreams.js';

/** The kinds of upstream account the demo can run; `--profile` of `davgate demo`. */
export const DEMO_PROFILES = ['generic', 'jianguoyun'] as const;
/** One of {@link DEMO_PROFILES}: the upstreams' kind and the gateway's per-upstream `profile`. */
export type DemoProfile = (typeof DEMO_PROFILES)[number];

/**
 * Reads a `--profile` value. Pure.
 * @param value - the flag's text, e.g. `jianguoyun`
 * @returns the profile, or undefined when it is not one of {@link DEMO_PROFILES} (case-sensitive, like the
 *   config key `upstreams[].profile`)
 */
export function parseDemoProfile(value: string): DemoProfile | undefined {
  return (DEMO_PROFILES as readonly string[]).includes(value) ? (value as DemoProfile) : undefined;
}

/** Options for {@link runDemo}. */
export interface DemoOptions {
  /** Folder for upstream data; a temporary folder when unset. */
  readonly dataDir?: string | undefined;
  /** Gateway host (default 127.0.0.1) and port (default 8080). */
  readonly host?: string;
  readonly port?: number;
  /** Which upstream accounts to run (default `generic`); see {@link DEMO_PROFILES}. */
  readonly profile?: DemoProfile;
}

/** The demo's front-side user name. */
export const DEMO_USER = 'demo';
/** The demo's front-side password (printed; this is a demo). */
export const DEMO_PASSWORD = 'demo';
/** The demo's admin bearer token. */
export const DEMO_ADMIN_TOKEN = 'demo-admin-token';
/** How many upstreams the demo starts. */
export const DEMO_UPSTREAMS = 3;
/** bcrypt cost of the demo password hash: the usual production cost, hashed once at startup. */
const DEMO_BCRYPT_COST = 10;

/** The budget the jianguoyun demo runs with, as the banner explains it (requests per window; ms). */
export interface DemoBudget {
  /** Requests per window each simulated account allows before 503 BlockedTemporarily (jianguoyun.md §1). */
  readonly account: number;
  /** Requests per window davgate sends to each account at most (its `budget.requests`). */
  readonly requests: number;
  /** Window length (ms). */
  readonly windowMs: number;
  /** Least time between two requests to one account (ms). */
  readonly minSpacingMs: number;
}

/**
 * The per-profile part of the banner: what the upstreams are and where each keeps its files.
 *
 * @param profile - the running profile
 * @param dataDir - the demo's data folder
 * @param upstreams - the running upstreams (url, dataDir = where gateway files land)
 * @param budget - for `jianguoyun`: the simulated accounts' budget and davgate's share of it (requests per
 *   `windowMs`, at least `minSpacingMs` apart)
 */
function profileLines(
  profile: DemoProfile,
  dataDir: string,
  upstreams: readonly DemoUpstream[],
  budget?: DemoBudget,
): string[] {
  if (profile === 'generic') {
    return [
      `  profile: generic (three in-process webdav-server accounts)`,
      `  upstreams (${upstreams.length}): ${upstreams.map((u) => u.url).join('  ')}`,
      `  data folder: ${dataDir}  (one sub-folder per upstream: look there to see where each file landed)`,
    ];
  }
  const min = (ms: number): string => `${ms / 60_000} min`;
  return [
    `  profile: jianguoyun (three simulated 坚果云 accounts, upstreams configured with profile: jianguoyun)`,
    ...upstreams.map((u) => `  account ${u.id}: ${u.url}  files in ${u.dataDir}`),
    ...(budget
      ? [
          `  budget: each account allows ${budget.account} requests per ${min(budget.windowMs)}, as a free 坚果云 account does, and davgate`,
          `    spends at most ${budget.requests} of them, at least ${budget.minSpacingMs} ms apart: the real settings, not a demo shortcut.`,
          `    Every upstream request counts (a listing asks all three accounts); past the budget, requests wait and`,
          `    then get 503 + Retry-After. The admin status command below shows the budget left per account.`,
        ]
      : []),
  ];
}

/**
 * The text printed once the demo is listening: URL, credentials, profile, where the data is, and commands to
 * paste.
 *
 * @param url - the gateway base URL, ending in `/`
 * @param dataDir - the folder holding the upstreams' data
 * @param upstreams - the running upstreams
 * @param opts - `profile` (default `generic`) and, for `jianguoyun`, the `budget` to explain
 */
export function demoBanner(
  url: string,
  dataDir: string,
  upstreams: readonly DemoUpstream[],
  opts: { profile?: DemoProfile; budget?: DemoBudget } = {},
): string {
  const u = `${DEMO_USER}:${DEMO_PASSWORD}`;
  return [
    '',
    `davgate demo is running at ${url}`,
    `  user: ${DEMO_USER}   password: ${DEMO_PASSWORD}   admin token: ${DEMO_ADMIN_TOKEN}`,
    ...profileLines(opts.profile ?? 'generic', dataDir, upstreams, opts.budget),
    '',
    'Try:',
    `  curl -u ${u} -X PROPFIND -H 'Depth: 1' ${url}`,
    `  curl -u ${u} -T README.md ${url}README.md`,
    `  curl -u ${u} ${url}README.md`,
    `  rclone lsf ":webdav,url='${url}',user=${DEMO_USER},pass=$(rclone obscure ${DEMO_PASSWORD}):"`,
    `  curl ${url}metrics`,
    `  curl -H 'Authorization: Bearer ${DEMO_ADMIN_TOKEN}' ${url}api/admin/webdav/status`,
    '',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * Starts the demo and resolves once it is listening; runs until SIGINT/SIGTERM, which stop the gateway
 * (through `startServer`'s own signal handling), then the upstreams, then remove the temporary folder if
 * the demo created it.
 *
 * @param opts - see {@link DemoOptions}
 * @throws Error naming `--profile` for a profile outside {@link DEMO_PROFILES} (before anything starts); whatever
 *   the upstreams, config loading or `startServer` throw (the upstreams are stopped first)
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const profile = opts.profile ?? 'generic';
  if (parseDemoProfile(profile) === undefined) {
    throw new Error(`--profile must be one of ${DEMO_PROFILES.join(', ')}, got ${JSON.stringify(profile)}`);
  }
  const createdTemp = opts.dataDir === undefined;
  const dataDir =
    opts.dataDir === undefined
      ? await mkdtemp(path.join(tmpdir(), 'davgate-demo-'))
      : path.resolve(opts.dataDir);
  if (!createdTemp) await mkdir(dataDir, { recursive: true });

  // jianguoyun: the simulators keep their real default budget (a free account's 600 requests per 30 min,
  // jianguoyun.md §1) and davgate its real default share (540, 200 ms apart): trying a few files with curl or
  // rclone costs tens of requests, so the demo stays usable while showing what the budget feels like.
  const group =
    profile === 'jianguoyun'
      ? await startJianguoyunUpstreams({ count: DEMO_UPSTREAMS, dataDir })
      : await startDavUpstreams({ count: DEMO_UPSTREAMS, dataDir });
  const cleanupUpstreams = async (): Promise<void> => {
    await group.stop();
    if (createdTemp) await rm(dataDir, { recursive: true, force: true });
  };

  let config: Config;
  try {
    // Built in code but validated like a file: the same keys, defaults and checks as `davgate serve`.
    config = loadConfig({
      env: {},
      object: {
        listen: { host: opts.host ?? DEFAULTS.listenHost, port: opts.port ?? DEFAULTS.listenPort },
        upstreams: group.upstreams.map((u) => ({
          id: u.id,
          url: u.url,
          username: u.username,
          password: u.password,
          description: `demo upstream ${u.id} (${u.dataDir})`,
          ...(profile === 'jianguoyun' ? { profile: 'jianguoyun' } : {}),
        })),
        auth: {
          mode: 'basic',
          users: [{ username: DEMO_USER, passwordHash: await bcrypt.hash(DEMO_PASSWORD, DEMO_BCRYPT_COST) }],
        },
        admin: { token: DEMO_ADMIN_TOKEN },
      },
    });
  } catch (err) {
    await cleanupUpstreams();
    throw err;
  }

  // Signals are handled here, not by startServer({ handleSignals: true }): its handler closes the gateway and
  // exits, which would leave no chance to stop the upstreams and remove the temporary folder afterwards.
  let running: RunningServer;
  try {
    running = await startServer(config, { handleSignals: false });
  } catch (err) {
    await cleanupUpstreams();
    throw err;
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the gateway, then the upstreams…\n`);
    void (async () => {
      let code = 0;
      try {
        await running.close();
      } catch (err) {
        process.stderr.write(`gateway close failed: ${String(err)}\n`);
        code = 1;
      }
      try {
        await cleanupUpstreams();
      } catch (err) {
        process.stderr.write(`upstream stop failed: ${String(err)}\n`);
        code = 1;
      }
      process.exit(code);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const url = running.url.endsWith('/') ? running.url : running.url + '/';
  const budget = config.upstreams[0]?.budget;
  process.stdout.write(
    demoBanner(url, dataDir, group.upstreams, {
      profile,
      ...(profile === 'jianguoyun' && budget ? { budget: { account: FREE_BUDGET, ...budget } } : {}),
    }),
  );
}
