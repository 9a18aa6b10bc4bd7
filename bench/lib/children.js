/**
 * Parent side of `child.js`: start a child, wait for `ready`, ask it things over IPC, stop it by PID.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './procs.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));

/**
 * Forks `child.js <role> <distDir>`, answers its `want` with `options`, and waits (30 s at most) for `ready`.
 * @returns `{ proc, pid, info, ask(cmd, key), stop() }`; `ask` sends `{cmd}` and resolves with the next message
 *   carrying `key`
 * @throws when the child reports a failure, exits, or is not ready in time
 */
export async function startChild(role, distDir, options) {
  const proc = track(fork(CHILD, [role, distDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} child did not start within 30 s`)), 30_000);
    const onExit = (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} child exited early with code ${code}`));
    };
    const onMessage = (msg) => {
      if (msg.want) {
        proc.send(options);
        return;
      }
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (msg.ready) resolve(msg);
      else reject(new Error(`${role} child failed to start:\n${msg.error}`));
    };
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
  const ask = (cmd, key) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} child did not answer ${cmd}`)), 10_000);
      const onMessage = (msg) => {
        if (!(key in msg)) return;
        clearTimeout(timer);
        proc.off('message', onMessage);
        resolve(msg);
      };
      proc.on('message', onMessage);
      proc.send({ cmd });
    });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    try {
      proc.send({ cmd: 'stop' });
    } catch {
      // channel closed
    }
    // A polite stop first (the gateway drains); then SIGTERM and SIGKILL by PID.
    const done = new Promise((resolve) => proc.once('exit', resolve));
    const t = setTimeout(() => void stopChild(proc, 'SIGTERM', 5_000), 15_000);
    await done;
    clearTimeout(t);
  };
  return { proc, pid: proc.pid, info, ask, stop };
}

/**
 * Starts davgate in a child over `upstreams` (`{id, url, username, password}`), HTTP Basic for `user`
 * (`{username, passwordHash}`), `maxConcurrent` per upstream and any `extra` top-level config keys.
 * @returns the child handle plus `url` (ends with `/`)
 */
export async function startGateway(distDir, { upstreams, user, maxConcurrent, extra = {} }) {
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username, password: u.password, maxConcurrent })),
    auth: { mode: 'basic', users: [user] },
    log: { level: 'silent' },
    ...extra,
  };
  const gw = await startChild('gateway', distDir, config);
  const url = gw.info.url.endsWith('/') ? gw.info.url : `${gw.info.url}/`;
  return { ...gw, url };
}

/** CPU time the gateway child has used so far (ms, user + system), from its own `process.cpuUsage()`. */
export async function gatewayCpuMs(gw) {
  const { usage } = await gw.ask('usage', 'usage');
  return (usage.user + usage.system) / 1000;
}

/**
 * Starts `count` simulated accounts in one child (dist/sim/jianguoyun.js, in memory, user `bench`): each with
 * an in-flight cap `maxInFlight` (503 BlockedTemporarily above it), `latencyMs` added per request, and, when
 * `bytesPerSec` is set, behind a relay limiting each connection to that many bytes/s per direction.
 * @returns the child handle plus `accounts` (`{id, url, directUrl, username, password}`) and `counters()`
 */
export async function startSims(distDir, { count, maxInFlight, latencyMs, bytesPerSec, password }) {
  const child = await startChild('sims', distDir, { count, maxInFlight, latencyMs, bytesPerSec, password });
  const accounts = child.info.accounts.map((a) => ({ ...a, username: 'bench', password }));
  const counters = async () => (await child.ask('counters', 'counters')).counters;
  return { ...child, accounts, counters };
}
