/**
 * Real Apache httpd + mod_dav_fs upstreams for the end-to-end suite.
 *
 * Each instance is its own `apache2 -f <generated conf> -DFOREGROUND` process with its own ServerRoot,
 * PidFile, ErrorLog, Mutex and DefaultRuntimeDir in a private temp dir, so several instances (and the
 * system's own Apache, if any) never share state. It needs the Debian packages `apache2` (binary and
 * modules); `htpasswd` is not needed because we write the `{SHA}` line ourselves.
 *
 * What Apache needs for litmus (basic, copymove, props, locks, http) and for davgate, learned by running it:
 * - `Alias /dav/ <dataDir>/` plus `Dav On` inside `<Directory <dataDir>>`: dav_fs serves the file system path
 *   the URL maps to; auth sits in the same <Directory>, so every method (OPTIONS included) needs credentials.
 * - `DavLockDB` is required as soon as a LOCK arrives (dav_fs keeps locks in an SDBM file); its directory must
 *   be writable by the worker user (www-data when started as root), not only by root.
 * - The data dir must be owned by the worker user: the parent runs as root, but requests are served by
 *   children that have switched to `User`/`Group`.
 * - `DirectoryIndex disabled`: otherwise a GET on a collection could serve an index file instead of the
 *   collection, and mod_dir would be consulted for WebDAV collection URLs.
 * - `LimitRequestBody 0` (unlimited): since 2.4.54 the default is 1 GiB, exactly the large-file test's size,
 *   so any bigger test would get 413 from the upstream rather than exercise davgate.
 * - `DavDepthInfinity` is NOT needed: litmus 0.13 basic, copymove, props, locks and http all pass with
 *   Apache's default (Off: `PROPFIND Depth: infinity` is refused with 403), which is also what hosted WebDAV
 *   services do, and davgate lists with Depth 1.
 * - Locks: all 41 litmus lock tests pass with only `DavLockDB`; the two warnings (400 not 423 for a corrupt
 *   lock token, 200 not 201 for LOCK on an unmapped URL) are Apache's own behaviour.
 * - mod_dav_lock is loaded as the brief asks but is unused: dav_fs has its own lock provider.
 * - mod_dir's `DirectorySlash On` (the default) answers 301 to EVERY method, not only GET, on a collection
 *   URL without its trailing slash (`PROPFIND /dav/c` -> 301 Location /dav/c/), unless the request carries the
 *   `redirect-carefully` env (Debian's setenvif.conf sets it for a few old WebDAV clients only). litmus always
 *   writes collection URLs with the slash, so it passes directly; a gateway that drops the slash upstream
 *   gets 301s. We keep the stock behaviour on purpose: it is what an Apache-based upstream does in the wild.
 *   `DirectorySlash Off` in the <Directory> below would hide such bugs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cliSafePassword } from './secret.js';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { OutputTail, stopChild, track, waitReady } from './process.js';

export const APACHE_BIN = process.env['DG_E2E_APACHE'] ?? '/usr/sbin/apache2';
const MODULE_DIR = process.env['DG_E2E_APACHE_MODULES'] ?? '/usr/lib/apache2/modules';

/** One running Apache WebDAV upstream. */
export interface ApacheInstance {
  /** Stable id, `a`, `b`, `c`, … in start order; also the davgate upstream id the tests use. */
  readonly id: string;
  /** WebDAV root, e.g. `http://127.0.0.1:PORT/dav/`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The directory `url` maps to; count files here to see where davgate put them. */
  readonly dataDir: string;
  /** The instance's private ServerRoot (config, logs, lock DB). */
  readonly root: string;
  /** PID of the Apache parent process. */
  readonly pid: number;
  /** Tail of this instance's error log (for failure messages). */
  errorLog(): string;
}

export interface ApacheCluster {
  readonly instances: ApacheInstance[];
  /** Stops every instance (SIGTERM to its parent PID, SIGKILL after 10 s) and deletes its temp dir. */
  stop(): Promise<void>;
}

interface WorkerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** When running as root, Apache children must drop to an unprivileged user; Debian's is www-data. */
function workerUser(): WorkerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('www-data:'));
  if (line === undefined) throw new Error('running as root but /etc/passwd has no www-data user for Apache to drop to');
  const [, , uid, gid] = line.split(':');
  return { name: 'www-data', uid: Number(uid), gid: Number(gid) };
}

const MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['unixd_module', 'mod_unixd.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['authn_core_module', 'mod_authn_core.so'],
  ['authn_file_module', 'mod_authn_file.so'],
  ['auth_basic_module', 'mod_auth_basic.so'],
  ['authz_user_module', 'mod_authz_user.so'],
  ['dav_module', 'mod_dav.so'],
  ['dav_fs_module', 'mod_dav_fs.so'],
  ['dav_lock_module', 'mod_dav_lock.so'],
  ['alias_module', 'mod_alias.so'],
  ['dir_module', 'mod_dir.so'],
  ['mime_module', 'mod_mime.so'],
  ['headers_module', 'mod_headers.so'],
  ['setenvif_module', 'mod_setenvif.so'],
  ['log_config_module', 'mod_log_config.so'],
] as const;

function httpdConf(root: string, dataDir: string, port: number, user: WorkerUser | undefined): string {
  return `# Generated by test/e2e/helpers/apache.ts
ServerRoot "${root}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${root}/run/httpd.pid"
DefaultRuntimeDir "${root}/run"
Mutex file:${root}/run default
ErrorLog "${root}/logs/error.log"
LogLevel warn
LogFormat "%h %u %t \\"%r\\" %>s %b %D" e2e
CustomLog "${root}/logs/access.log" e2e
# Debian compiles unixd and log_config in; <IfModule !…> loads a module only where it is shared.
${MODULES.map(([name, file]) => `<IfModule !${name}>\n  LoadModule ${name} ${MODULE_DIR}/${file}\n</IfModule>`).join('\n')}
${user ? `User ${user.name}\nGroup ${user.name}` : '# not root: children keep our user'}

# Small footprint: the CI machine has 2 cores and runs three of these plus davgate and the clients.
StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 4
MaxSpareThreads 32
Timeout 300
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15

TypesConfig /etc/mime.types
DavLockDB "${root}/lock/DavLock"
LimitRequestBody 0

<Directory />
  Options None
  AllowOverride None
  Require all denied
</Directory>

Alias /dav/ "${dataDir}/"
<Directory "${dataDir}">
  Dav On
  Options None
  AllowOverride None
  DirectoryIndex disabled
  AuthType Basic
  AuthName "davgate-e2e"
  AuthBasicProvider file
  AuthUserFile "${root}/htpasswd"
  Require valid-user
</Directory>
`;
}

/** `{SHA}` htpasswd line (base64 SHA-1), understood by mod_authn_file; avoids depending on `htpasswd`. */
function htpasswdLine(username: string, password: string): string {
  return `${username}:{SHA}${createHash('sha1').update(password).digest('base64')}\n`;
}

async function startOne(id: string, user: WorkerUser | undefined): Promise<{ instance: ApacheInstance; child: ChildProcess }> {
  const root = mkdtempSync(join(tmpdir(), `davgate-e2e-apache-${id}-`));
  // mkdtemp makes 0700; the worker user must traverse it to reach data, lock DB and htpasswd.
  chmodSync(root, 0o755);
  const dataDir = join(root, 'data');
  for (const d of ['data', 'lock', 'run', 'logs', 'conf']) mkdirSync(join(root, d));
  const username = `u${randomBytes(4).toString('hex')}`;
  const password = cliSafePassword();
  writeFileSync(join(root, 'htpasswd'), htpasswdLine(username, password), { mode: 0o640 });
  if (user) {
    for (const d of ['data', 'lock', 'run']) chownSync(join(root, d), user.uid, user.gid);
    chownSync(join(root, 'htpasswd'), 0, user.gid);
  }

  let lastError: Error | undefined;
  // The port may be taken between freePort() and Apache's bind; retry a few times with a fresh one.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(root, 'conf', 'httpd.conf');
    writeFileSync(conf, httpdConf(root, dataDir, port, user));
    const out = new OutputTail();
    const child = track(
      spawn(APACHE_BIN, ['-d', root, '-f', conf, '-DFOREGROUND'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
      }),
      () => rmSync(root, { recursive: true, force: true }),
    );
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => out.push(c));
    const errorLog = (): string => {
      try {
        return readFileSync(join(root, 'logs', 'error.log'), 'utf8').slice(-16_384);
      } catch {
        return '';
      }
    };
    const url = `http://127.0.0.1:${port}/dav/`;
    const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    try {
      await waitReady(
        `apache ${id} on port ${port}`,
        async () => {
          const res = await fetch(url, { method: 'OPTIONS', headers: { authorization } });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`OPTIONS ${url} -> ${res.status}`);
          return true;
        },
        { child, output: () => `${out.toString()}\n${errorLog()}`, timeoutMs: 20_000 },
      );
    } catch (err) {
      await stopChild(child, 'SIGTERM', 5_000);
      lastError = err as Error;
      if (/Address already in use|could not bind/i.test(lastError.message)) continue;
      break;
    }
    if (child.pid === undefined) throw new Error('apache: spawn gave no pid');
    return { instance: { id, url, username, password, dataDir, root, pid: child.pid, errorLog }, child };
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError ?? new Error(`apache ${id}: failed to start`);
}

/** Starts `count` independent Apache WebDAV servers; ids are `a`, `b`, `c`, … */
export async function startApache(opts: { count: number }): Promise<ApacheCluster> {
  const user = workerUser();
  const started: { instance: ApacheInstance; child: ChildProcess }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(({ child }) => stopChild(child, 'SIGTERM', 10_000)));
    for (const { instance } of started) rmSync(instance.root, { recursive: true, force: true });
    started.length = 0;
  };
  try {
    const ids = Array.from({ length: opts.count }, (_, i) => String.fromCharCode(97 + i));
    const results = await Promise.allSettled(ids.map((id) => startOne(id, user)));
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop();
    throw err;
  }
  return { instances: started.map((s) => s.instance), stop };
}
