/**
 * In-process WebDAV upstreams for `davgate demo` and the integration tests: one webdav-server v2
 * `WebDAVServer` per account, each on 127.0.0.1 port 0, HTTP Basic auth, the files under `/dav/`.
 *
 * Behaviour of webdav-server 2.6.3 as seen through these upstreams, checked by hand with curl and pinned by
 * `test/helpers/upstreams.test.ts`. The gateway core must cope with all of it:
 *
 * Paths and hrefs
 * - `setFileSystem('/dav', fs)` serves the file system at `/dav/`; `/dav` and `/dav/` both reach its root.
 *   Paths outside `/dav/` reach the (empty, in-memory) root file system: PROPFIND there is 207 or 404.
 * - PROPFIND hrefs are ABSOLUTE URLs built from the request's `Host` header
 *   (`http://127.0.0.1:PORT/dav/x/f.txt`; send `Host: example.com:99` and the hrefs say `example.com:99`).
 *   Collections end in `/` (`…/dav/x/`).
 * - Hrefs are `encodeURI(path)` (RequestContext.encodeURL), NOT per-segment `encodeURIComponent`: space →
 *   `%20`, `%` → `%25`, `[`/`]` → `%5B`/`%5D`, non-ASCII → UTF-8 escapes, but `#` `?` `&` `;` `=` `+` `$`
 *   `,` `:` `@` `'` `(` `)` `!` `*` `~` stay LITERAL (`&` XML-escaped as `&amp;`). So `…/dav/x/h#ash.txt`
 *   and `…/dav/x/q?m.txt` appear as is: never feed an upstream href to `new URL()` (it would cut at `#`/`?`);
 *   strip the origin and the base path by string, then percent-decode.
 * - `<D:displayname>` is the decoded name. Unicode is not normalised: `caf%C3%A9` (NFC) and `cafe%CC%81`
 *   (NFD) are two different files.
 * - Request paths are decoded with `decodeURIComponent` and then split on `/` AND `\`: `%2F` and `%5C` (and a
 *   literal backslash) become separators; `..` segments are resolved server-side. A trailing slash on a file
 *   path is ignored (GET/PROPFIND `…/f.txt/` → the file).
 *
 * Status codes
 * - No or wrong credentials: 401 with `WWW-Authenticate: Basic realm="upstream <id>"`, for OPTIONS too.
 *   `WWW-Authenticate` is also sent on every successful response (strip it on the way back).
 * - MKCOL: 201; parent missing → 409; path exists → 405. PUT: new 201, existing 200; parent missing → 409;
 *   onto a collection → 405. DELETE: 200 (not 204), recursive for collections; missing → 404.
 * - GET on a collection: 405. GET/HEAD carry no `ETag` and no `Last-Modified` (only PROPFIND has
 *   `getetag`/`getlastmodified`); Content-Type is guessed from the extension.
 * - PROPFIND: missing → 404. `Depth: infinity` → 403. NO Depth header → the WHOLE subtree (not refused,
 *   despite maxRequestDepth): always send an explicit Depth. Depth 1 includes the collection itself.
 *   An XML body is read only up to `Content-Length`: a chunked body (no Content-Length) is silently ignored
 *   and treated as allprop, so buffer PROPFIND/PROPPATCH/LOCK bodies and send a Content-Length.
 *   Unknown properties come back in a 404 propstat.
 * - COPY: 201 even when it replaced the target (never 204) and `Overwrite: F` is IGNORED (the target is
 *   replaced). Destination parent missing → 409; source missing → 404; no Destination → 400.
 * - MOVE: target exists and no Overwrite header → 412 (it defaults to F, against RFC 4918 §10.6); with
 *   `Overwrite: T` → 204. New target → 201. Collections move recursively (201).
 * - Destination: an absolute URL, an absolute path (`/dav/x`) and a relative one (`c.txt`, resolved against
 *   `/`, i.e. OUTSIDE `/dav/`) are all accepted; the host of an absolute URL is ignored (no 502 for a
 *   foreign host), and a raw `#` in it is kept as part of the name.
 * - Range: `bytes=a-b`, `bytes=a-`, `bytes=-n` → 206 with `Content-Range: bytes a-b/*` (total always `*`).
 *   An unsatisfiable range also gets 206 (`bytes 267-266/*`, empty body), not 416; a non-`bytes` unit is
 *   served as if it were bytes; several ranges → 206 `multipart/byteranges`. `Accept-Ranges: bytes` is sent.
 * - `Expect: 100-continue`: Node's HTTP server answers `100 Continue` itself, before webdav-server sees the
 *   request, even when the final answer is 409; uploads that wait for it work. Chunked PUT bodies work.
 * - LOCK works (200, `Lock-Token: urn:uuid:…`); locks live in memory only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import ws from 'webdav-server';
import { DEFAULT_SANDBOX, startJianguoyunSim, type JianguoyunSim, type JianguoyunSimOptions } from '../sim/jianguoyun.js';

const { v2 } = ws;

/** One running in-process upstream WebDAV account. */
export interface DavUpstream {
  /** Upstream id: `a`, `b`, `c`, … */
  readonly id: string;
  /** Base URL of the account, `http://127.0.0.1:PORT/dav/` (always ends in `/`). */
  readonly url: string;
  /** Basic-auth user name (equal to the id). */
  readonly username: string;
  /** Random Basic-auth password. */
  readonly password: string;
  /** Folder on disk holding this account's files (`<dataDir>/<id>`), or `''` for the in-memory file system. */
  readonly dataDir: string;
  /** The webdav-server instance. */
  readonly server: InstanceType<typeof v2.WebDAVServer>;
  /** The listening Node HTTP server. */
  readonly httpServer: Server;
  /** Whether {@link DavUpstream.stop} has run. */
  readonly stopped: boolean;
  /**
   * Stops the upstream: drops every open connection at once (keep-alive sockets included) and closes the
   * listener, so later requests to its port are refused. Idempotent.
   */
  stop(): Promise<void>;
}

/** Options for {@link startDavUpstreams}. */
export interface StartDavUpstreamsOptions {
  /** How many upstreams (1..26). */
  readonly count: number;
  /** Parent folder; upstream `x` keeps its files in `<dataDir>/x/`. In-memory file systems when unset. */
  readonly dataDir?: string | undefined;
  /** Address to listen on; default `127.0.0.1`. */
  readonly host?: string | undefined;
}

/** A group of upstreams started together. */
export interface DavUpstreams {
  readonly upstreams: DavUpstream[];
  /** Stops every upstream (those already stopped are skipped). */
  stop(): Promise<void>;
}

/** Mount point of the served file system; upstream URLs end with it. */
export const DAV_MOUNT = '/dav';

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Makes a second writeHead/setHeader/write/end on an already answered response a no-op. */
function guardResponse(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  const writeHead = res.writeHead.bind(res);
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) =>
    res.headersSent ? res : setHeader(name, value)) as typeof res.setHeader;
  res.writeHead = ((...args: Parameters<typeof writeHead>) => (res.headersSent ? res : writeHead(...args))) as typeof res.writeHead;
  res.write = ((...args: Parameters<typeof write>) => (res.writableEnded ? true : write(...args))) as typeof res.write;
  res.end = ((...args: Parameters<typeof end>) => (res.writableEnded ? res : end(...args))) as typeof res.end;
}

/**
 * webdav-server 2.6.3 throws from a callback (taking the process down) on an untagged `If` list such as
 * `(["etag"])`. An untagged list applies to the request URL (RFC 4918 §10.4.3), so tagging it with that URL
 * is the same condition in a form webdav-server parses.
 */
function tagIfHeader(req: IncomingMessage): void {
  const value = req.headers['if'];
  if (typeof value !== 'string' || value.trimStart().startsWith('<')) return;
  req.headers['if'] = `<http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}> ${value}`;
}

async function startOne(id: string, host: string, dataDir: string | undefined): Promise<DavUpstream> {
  const password = randomBytes(12).toString('base64url');
  const users = new v2.SimpleUserManager();
  users.addUser(id, password, false);

  // The base PrivilegeManager answers `true` to every privilege question: the one account can do anything.
  const server = new v2.WebDAVServer({
    hostname: host,
    port: 0,
    requireAuthentification: true,
    httpAuthentication: new v2.HTTPBasicAuthentication(users, `upstream ${id}`),
    privilegeManager: new v2.PrivilegeManager(),
    // A fixed version stops webdav-server from reading its own package.json in the background.
    version: '2',
  });

  let folder = '';
  let fs: InstanceType<typeof v2.FileSystem>;
  if (dataDir !== undefined) {
    folder = path.join(dataDir, id);
    await mkdir(folder, { recursive: true });
    fs = new v2.PhysicalFileSystem(folder);
  } else {
    fs = new v2.VirtualFileSystem();
  }
  const mounted = await server.setFileSystemAsync(DAV_MOUNT, fs);
  if (!mounted) throw new Error(`upstream ${id}: could not mount the file system at ${DAV_MOUNT}`);

  // webdav-server 2.6.3 answers some requests twice (PROPPATCH with several <set>/<remove> elements calls
  // its finalizer more than once) and then throws ERR_HTTP_HEADERS_SENT from a callback, which would take the
  // whole demo process down. Serve it from our own http.Server whose responses ignore a second answer.
  (server as unknown as { server: Server }).server = createServer((req, res) => {
    guardResponse(res);
    tagIfHeader(req);
    server.executeRequest(req, res);
  });

  // start(0) would fall back to options.port because 0 is falsy; options.port is 0, so listen(0) it is.
  const httpServer = (await server.startAsync(0)) as Server;
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error(`upstream ${id}: no TCP address`);

  let stopped = false;
  const upstream: DavUpstream = {
    id,
    url: `http://${urlHost(host)}:${address.port}${DAV_MOUNT}/`,
    username: id,
    password,
    dataDir: folder,
    server,
    httpServer,
    get stopped() {
      return stopped;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // server.close() alone waits for keep-alive sockets; a test that "stops" an upstream wants it gone now.
      httpServer.closeAllConnections();
      await server.stopAsync();
    },
  };
  return upstream;
}

/**
 * Starts `count` WebDAV upstreams with ids `a`, `b`, `c`, …, each on its own port 0 with its own random
 * Basic-auth password.
 *
 * @param opts - see {@link StartDavUpstreamsOptions}
 * @returns the running upstreams and a `stop()` for all of them
 * @throws Error when `count` is outside 1..26 or a server cannot start (those already started are stopped)
 */
export async function startDavUpstreams(opts: StartDavUpstreamsOptions): Promise<DavUpstreams> {
  const { count } = opts;
  if (!Number.isInteger(count) || count < 1 || count > 26) {
    throw new Error(`startDavUpstreams: count must be an integer in 1..26, got ${String(count)}`);
  }
  const host = opts.host ?? '127.0.0.1';
  const upstreams: DavUpstream[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(upstreams.map((u) => u.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      upstreams.push(await startOne(String.fromCharCode(0x61 + i), host, opts.dataDir));
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { upstreams, stop: stopAll };
}

/**
 * What `davgate demo` needs from any upstream account, whatever serves it: where it is, how to log in, and
 * where its files are on disk.
 */
export interface DemoUpstream {
  /** Upstream id: `a`, `b`, `c`, … */
  readonly id: string;
  /** Base URL the gateway is configured with (always ends in `/`). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Folder on disk where files put through the gateway land, or `''` when the account is in memory. */
  readonly dataDir: string;
}

/** One simulated 坚果云 account started by {@link startJianguoyunUpstreams}. */
export interface JianguoyunUpstream extends DemoUpstream {
  /**
   * The account's sandbox folder, `http://127.0.0.1:PORT/dav/%E6%88%91…/`: a 坚果云 account keeps files only
   * inside a sandbox (jianguoyun.md §5), so this, not `/dav/`, is the upstream URL.
   */
  readonly url: string;
  /** Basic user: the account "email", `demo-<id>@example.com` (jianguoyun.md §6: the user is the email). */
  readonly username: string;
  /** `<dataDir>/<id>/我的坚果云`: the sandbox folder on disk (the simulator's `/dav/` is `<dataDir>/<id>`). */
  readonly dataDir: string;
  /** The running simulator (counters, stop). */
  readonly sim: JianguoyunSim;
}

/** A group of simulated 坚果云 accounts started together. */
export interface JianguoyunUpstreams {
  readonly upstreams: JianguoyunUpstream[];
  /** Stops every account. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `count` simulated 坚果云 accounts (src/sim/jianguoyun.ts) with ids `a`, `b`, `c`, …, each on its own
 * port, with its own random app password and its default sandbox `我的坚果云` (jianguoyun.md §5). With `dataDir`
 * account `x` keeps its files in real folders under `<dataDir>/x/` (the simulator's folder store), so
 * `<dataDir>/x/我的坚果云/` shows what landed on it; without, in memory.
 *
 * @param opts - count (1..26), dataDir, host as for {@link startDavUpstreams}; `sim`: options for every account,
 *   e.g. `budget` (default: the simulator's own, a free account's 600 requests per 30 min, jianguoyun.md §1)
 * @returns the running accounts and a `stop()` for all of them
 * @throws Error when `count` is outside 1..26; SimOptionError for a bad `sim` option; the accounts already
 *   started are stopped first
 */
export async function startJianguoyunUpstreams(
  opts: StartDavUpstreamsOptions & { readonly sim?: JianguoyunSimOptions },
): Promise<JianguoyunUpstreams> {
  const { count } = opts;
  if (!Number.isInteger(count) || count < 1 || count > 26) {
    throw new Error(`startJianguoyunUpstreams: count must be an integer in 1..26, got ${String(count)}`);
  }
  const upstreams: JianguoyunUpstream[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(upstreams.map((u) => u.sim.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const id = String.fromCharCode(0x61 + i);
      const accountDir = opts.dataDir === undefined ? undefined : path.join(opts.dataDir, id);
      const sim = await startJianguoyunSim({
        ...opts.sim,
        host: opts.host ?? '127.0.0.1',
        port: 0,
        username: `demo-${id}@example.com`,
        sandboxes: [DEFAULT_SANDBOX],
        ...(accountDir === undefined ? {} : { dataDir: accountDir }),
      });
      upstreams.push({
        id,
        url: `${sim.url}${encodeURIComponent(DEFAULT_SANDBOX)}/`,
        username: sim.username,
        password: sim.password,
        dataDir: accountDir === undefined ? '' : path.join(accountDir, DEFAULT_SANDBOX),
        sim,
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { upstreams, stop: stopAll };
}
