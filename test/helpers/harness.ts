/**
 * End-to-end harness: three in-process WebDAV upstreams (each on its own temp folder, so a test can look on
 * disk to see which upstream holds a file) plus the real gateway, all on 127.0.0.1 port 0.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import bcrypt from 'bcryptjs';
import { request } from 'undici';
import type { Config } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/schema.js';
import { startDavUpstreams, type DavUpstream } from '../../src/demo/upstreams.js';
import { rank } from '../../src/placement/hrw.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startRelay, type Relay } from '../../src/sim/relay.js';

/** Partial overrides of the config sections a test may want to tune. */
export interface HarnessConfigOverrides {
  readonly limits?: Partial<Config['limits']>;
  readonly health?: Partial<Config['health']>;
  readonly failover?: Partial<Config['failover']>;
  readonly cors?: Partial<Config['cors']>;
  readonly shutdownGraceMs?: number;
}

/** Options for {@link startHarness}. */
export interface HarnessOptions {
  /** Number of upstreams (default 3). */
  readonly upstreams?: number;
  /** Config overrides, merged over the harness defaults. */
  readonly config?: HarnessConfigOverrides;
  /** `maxConcurrent` of every upstream (default {@link DEFAULTS.maxConcurrent}). */
  readonly maxConcurrent?: number;
  /**
   * Put a fault-injecting TCP relay (`src/sim/relay.ts`) in front of every upstream; the gateway talks to the
   * relays. `idleDropMs`: the relay silently forgets a connection idle that long (ms), as a NAT box does.
   */
  readonly relay?: { readonly idleDropMs: number };
}

/** A running gateway with its upstreams. */
export interface Harness {
  /** Gateway base URL, `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** The front-side test user. */
  readonly auth: { readonly username: string; readonly password: string };
  /** Bearer token of the admin API. */
  readonly adminToken: string;
  readonly upstreams: DavUpstream[];
  /** The config the gateway was started with. */
  readonly config: Config;
  readonly server: RunningServer;
  /** Parent folder of the upstreams' data folders. */
  readonly dataDir: string;
  /** The relays in front of the upstreams, in upstream order (empty without {@link HarnessOptions.relay}). */
  readonly relays: Relay[];
  /** Closes the gateway, stops the upstreams and removes the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** The harness's front-side user name. */
export const TEST_USER = 'tester';
/** The harness's front-side password. */
export const TEST_PASSWORD = 'test-password';
/** The harness's admin token. */
export const TEST_ADMIN_TOKEN = 'test-admin-token';

// Hash once per process: cost 4 is the bcrypt minimum and keeps the harness fast.
let hashPromise: Promise<string> | undefined;
function testUserHash(): Promise<string> {
  hashPromise ??= bcrypt.hash(TEST_PASSWORD, 4);
  return hashPromise;
}

/**
 * Starts upstreams and the gateway. Health probes (of healthy and of down upstreams) default to one hour apart
 * so no probe fires during a test unless the test asks for it; everything else is {@link DEFAULTS}.
 *
 * @param opts - see {@link HarnessOptions}
 * @returns the running harness; call `stop()` in `t.teardown`
 */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'davgate-test-'));
  const group = await startDavUpstreams({ count: opts.upstreams ?? 3, dataDir });
  let server: RunningServer | undefined;
  const relays: Relay[] = [];
  try {
    if (opts.relay) {
      for (const u of group.upstreams) {
        const target = new URL(u.url);
        relays.push(await startRelay({ targetHost: target.hostname, targetPort: Number(target.port), idleDropMs: opts.relay.idleDropMs }));
      }
    }
    // The URL the gateway is given: the upstream's own, or its relay's.
    const viaRelay = (url: string, i: number): string => {
      const relay = relays[i];
      if (!relay) return url;
      const u = new URL(url);
      u.port = String(relay.port);
      return u.href;
    };
    const o = opts.config ?? {};
    // Validated like a config file, so tests run with exactly the defaults users get.
    const config: Config = loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: group.upstreams.map((u, i) => ({
          id: u.id,
          url: viaRelay(u.url, i),
          username: u.username,
          password: u.password,
          maxConcurrent: opts.maxConcurrent ?? DEFAULTS.maxConcurrent,
        })),
        auth: { mode: 'basic', users: [{ username: TEST_USER, passwordHash: await testUserHash() }] },
        admin: { token: TEST_ADMIN_TOKEN },
        // Active probes one hour apart, down upstreams too: tests exercise the request path, not whether a
        // probe ran first. A test that wants probes runs a round itself (`startProber(...).runOnce()`).
        health: { intervalMs: 3_600_000, downIntervalMs: 3_600_000, ...o.health },
        limits: { ...o.limits },
        failover: { ...o.failover },
        cors: { ...o.cors },
        shutdownGraceMs: o.shutdownGraceMs ?? 2_000,
        log: { level: 'silent' },
      },
    });
    server = await startServer(config);
    const running = server;
    let stopped = false;
    return {
      url: running.url.endsWith('/') ? running.url : running.url + '/',
      auth: { username: TEST_USER, password: TEST_PASSWORD },
      adminToken: TEST_ADMIN_TOKEN,
      upstreams: group.upstreams,
      config,
      server: running,
      dataDir,
      relays,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await running.close();
        } finally {
          await Promise.all(relays.map((r) => r.close()));
          await group.stop();
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    if (server) await server.close().catch(() => undefined);
    await Promise.all(relays.map((r) => r.close()));
    await group.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** The answer of {@link davRequest}. */
export interface DavResponse {
  readonly status: number;
  /** Lower-cased header names; repeated headers joined with `, ` (undici's shape). */
  readonly headers: Record<string, string | string[] | undefined>;
  /** Body as UTF-8 text. */
  readonly body: string;
  /** Body as raw bytes. */
  readonly bytes: Buffer;
}

/** Options for {@link davRequest}. */
export interface DavRequestOptions {
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer | Uint8Array | import('node:stream').Readable;
  /** Credentials; none when `null`. Defaults to the harness test user when a harness is given. */
  readonly auth?: { readonly username: string; readonly password: string } | null;
}

/** `Authorization: Basic …` for a user name and password. */
export function basicAuth(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/**
 * One raw HTTP request with undici (no redirects, no retries), body read in full.
 *
 * @param url - absolute URL; pass paths already percent-encoded (see `encodedPath` in the fixtures)
 * @param method - any method, e.g. `PROPFIND`
 * @param opts - headers, body, and Basic credentials (default: the harness test user)
 */
export async function davRequest(url: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  const auth = opts.auth === undefined ? { username: TEST_USER, password: TEST_PASSWORD } : opts.auth;
  const headers: Record<string, string> = { ...opts.headers };
  if (auth && headers['authorization'] === undefined && headers['Authorization'] === undefined) {
    headers['authorization'] = basicAuth(auth.username, auth.password);
  }
  const res = await request(url, {
    method: method as 'GET',
    headers,
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: bytes.toString('utf8'), bytes };
}

/** Shorthand: {@link davRequest} against a path of the harness's gateway (path percent-encoded, leading `/`). */
export function gatewayRequest(
  h: Harness,
  urlPath: string,
  method: string,
  opts: Omit<DavRequestOptions, 'auth'> & { auth?: DavRequestOptions['auth'] } = {},
): Promise<DavResponse> {
  return davRequest(new URL(urlPath.replace(/^\//, ''), h.url).toString(), method, {
    auth: h.auth,
    ...opts,
  });
}

function onDisk(u: DavUpstream, key: string): string {
  return path.join(u.dataDir, ...key.split('/').filter((s) => s !== ''));
}

/**
 * Which upstreams hold `key` as a regular file, read straight from their data folders.
 *
 * @param h - the harness
 * @param key - canonical key: decoded segments, leading `/`, e.g. `/music/a b.mp3`
 * @returns the ids of the upstreams whose folder has that file, in upstream order
 */
export function whereIs(h: Pick<Harness, 'upstreams'>, key: string): string[] {
  return h.upstreams.filter((u) => {
    const p = onDisk(u, key);
    return existsSync(p) && statSync(p).isFile();
  }).map((u) => u.id);
}

/** Which upstreams hold `key` as a folder. Every upstream should, for a collection made through the gateway. */
export function whereIsDir(h: Pick<Harness, 'upstreams'>, key: string): string[] {
  return h.upstreams.filter((u) => {
    const p = onDisk(u, key);
    return existsSync(p) && statSync(p).isDirectory();
  }).map((u) => u.id);
}

/**
 * The upstream ids in the order placement tries them for `key` (the first is the owner of a new file),
 * computed with the same pure HRW function the gateway uses.
 */
export function placementOrder(h: Pick<Harness, 'config'>, key: string): string[] {
  return rank(
    key,
    h.config.upstreams.filter((u) => u.enabled),
  ).map((u) => u.id);
}

/**
 * The HTTP status a `webdav` client call failed with (its errors carry `status`), or `undefined` if the
 * call succeeded. Lets a test assert `t.equal(await failedWith(client.stat(p)), 404)`.
 */
export async function failedWith(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number') return status;
    throw err;
  }
}

/**
 * Puts `answer` in front of upstream `u`'s WebDAV server, to play an upstream fault (a 414, a 404 on a folder, a
 * 416 with its own Content-Range): it sees every request first and returns true when it answered it itself; any
 * other request is served as usual, by every listener the server had (a {@link recordUpstreamRequests} recorder
 * included, which therefore does not see the requests `answer` takes).
 */
export function interceptUpstream(u: DavUpstream, answer: (req: IncomingMessage, res: ServerResponse) => boolean): void {
  const serve = u.httpServer.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  u.httpServer.removeAllListeners('request');
  u.httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (answer(req, res)) return;
    for (const l of serve) l.call(u.httpServer, req, res);
  });
}

/**
 * Records `METHOD url` of every request the harness's upstreams receive, in order (the array grows as they come).
 */
export function recordUpstreamRequests(h: Pick<Harness, 'upstreams'>): string[] {
  const seen: string[] = [];
  for (const u of h.upstreams) u.httpServer.on('request', (req: IncomingMessage) => seen.push(`${req.method} ${req.url}`));
  return seen;
}
