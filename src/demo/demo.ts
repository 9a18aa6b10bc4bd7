/**
 * `davgate demo`: three in-process WebDAV upstreams plus the gateway, with a demo user and ready-to-paste
 * commands. Everything runs in this process; nothing leaves the machine.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { loadConfig } from '../config/load.js';
import { DEFAULTS, type Config } from '../config/schema.js';
import { startServer, type RunningServer } from '../server.js';
import { startDavUpstreams } from './upstreams.js';

/** Options for {@link runDemo}. */
export interface DemoOptions {
  /** Folder for upstream data; a temporary folder when unset. */
  readonly dataDir?: string | undefined;
  /** Gateway host (default 127.0.0.1) and port (default 8080). */
  readonly host?: string;
  readonly port?: number;
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

/**
 * The text printed once the demo is listening: URL, credentials, data folder and commands to paste.
 *
 * @param url - the gateway base URL, ending in `/`
 * @param dataDir - the folder holding the upstreams' data
 * @param upstreamUrls - the upstreams' base URLs
 */
export function demoBanner(url: string, dataDir: string, upstreamUrls: readonly string[]): string {
  const u = `${DEMO_USER}:${DEMO_PASSWORD}`;
  return [
    '',
    `davgate demo is running at ${url}`,
    `  user: ${DEMO_USER}   password: ${DEMO_PASSWORD}   admin token: ${DEMO_ADMIN_TOKEN}`,
    `  upstreams (${upstreamUrls.length}): ${upstreamUrls.join('  ')}`,
    `  data folder: ${dataDir}  (one sub-folder per upstream: look there to see where each file landed)`,
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
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const createdTemp = opts.dataDir === undefined;
  const dataDir =
    opts.dataDir === undefined
      ? await mkdtemp(path.join(tmpdir(), 'davgate-demo-'))
      : path.resolve(opts.dataDir);
  if (!createdTemp) await mkdir(dataDir, { recursive: true });

  const group = await startDavUpstreams({ count: DEMO_UPSTREAMS, dataDir });
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
  process.stdout.write(
    demoBanner(
      url,
      dataDir,
      group.upstreams.map((u) => u.url),
    ),
  );
}
