/**
 * Process plumbing for the benchmark: free loopback ports, spawning servers that are stopped by their own PID
 * (never by name), waiting for readiness, and an exit hook that ends whatever is still running if the bench dies.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Children still running, with an optional synchronous cleanup (remove a temp dir). */
const live = new Map();

/**
 * Sends SIGTERM to every child still running (by PID) and runs its cleanup; synchronous, for exit paths.
 * SIGTERM, not SIGKILL: apache2 and nginx masters stop their own worker processes on SIGTERM, while a killed
 * master would leave its workers orphaned.
 */
export function killAllSync() {
  for (const [child, cleanup] of live) {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    try {
      cleanup?.();
    } catch {
      // best effort
    }
  }
  live.clear();
}
process.on('exit', killAllSync);

/** Registers a child for {@link killAllSync}; forgotten once it exits (its owner cleans up then). */
export function track(child, cleanup) {
  live.set(child, cleanup);
  child.once('exit', () => live.delete(child));
  return child;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; a race with another binder is possible, callers retry). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once `child` has exited (at once if it has). */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal` to the child's PID, then SIGKILL after `graceMs` (ms) if it is still there. */
export async function stopChild(child, signal = 'SIGTERM', graceMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const done = exited(child);
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  const timeout = sleep(graceMs, 'timeout', { ref: false });
  if ((await Promise.race([done.then(() => 'exited'), timeout])) === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
    await done;
  }
}

/** Keeps the last `max` characters of a child's output, to explain a failed start. */
export function outputTail(child, max = 8_192) {
  let buf = '';
  const push = (c) => {
    buf = (buf + c.toString()).slice(-max);
  };
  child.stdout?.on('data', push);
  child.stderr?.on('data', push);
  return () => buf;
}

/**
 * Calls `probe` every 100 ms until it resolves true; throws (with `output()`) if the child exits first or
 * `timeoutMs` (ms) passes.
 */
export async function waitReady(what, probe, { child, output, timeoutMs = 20_000 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${output()}`);
    await sleep(100);
  }
}

/** Spawns `bin args` with a minimal environment, tracked for the exit hook. */
export function spawnServer(bin, args, cleanup) {
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
  });
  return track(child, cleanup);
}

/** Throws a message naming the Debian package when `bin` is missing. */
export function requireBinary(bin, debianPackage) {
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: install the Debian package \`${debianPackage}\` (apt-get install ${debianPackage})`);
  }
}

/** When running as root, servers' workers drop to Debian's www-data; undefined otherwise. */
export function workerUser() {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('www-data:'));
  if (line === undefined) throw new Error('running as root but /etc/passwd has no www-data user for the servers to drop to');
  const [, , uid, gid] = line.split(':');
  return { name: 'www-data', uid: Number(uid), gid: Number(gid) };
}

/** `rm -rf`, ignoring errors. */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status (bytes), or undefined where /proc is absent. */
export function memoryOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Starts a server on a free port, retrying with a new port (5 tries) when another process took it between
 * {@link freePort} and the server's bind. `launch(port)` spawns it and returns `{ child, probe, output }`.
 * @returns `{ port, child }` once `probe` says ready
 * @throws the last start failure (with the server's output)
 */
export async function startOnFreePort(what, launch) {
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const { child, probe, output } = launch(port);
    try {
      await waitReady(`${what} on port ${port}`, probe, { child, output });
      return { port, child };
    } catch (err) {
      await stopChild(child, 'SIGTERM', 5_000);
      lastError = err;
      if (!/Address already in use|could not bind|bind\(\)/i.test(err.message)) break;
    }
  }
  throw lastError ?? new Error(`${what}: failed to start`);
}

/** An OPTIONS probe for {@link waitReady}: true once `url` answers 200 to these credentials. */
export function optionsProbe(url, authorization) {
  return async () => {
    const res = await fetch(url, { method: 'OPTIONS', headers: { authorization } });
    await res.arrayBuffer();
    return res.status === 200;
  };
}

/** The last 8 KiB of a log file, or '' if it cannot be read. */
export function logTail(file) {
  try {
    return readFileSync(file, 'utf8').slice(-8_192);
  } catch {
    return '';
  }
}
