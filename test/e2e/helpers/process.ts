/**
 * Small process utilities shared by the e2e helpers: wait for readiness, stop a child by its PID.
 *
 * Every process the suite starts is stopped by its own PID (never by name), first politely, then with
 * SIGKILL after a grace period, so a hung server cannot outlive its test.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Servers this test process started and has not yet stopped. If the process exits without running its
 * teardowns (a tap timeout, an uncaught error), the 'exit' hook sends each a SIGTERM by PID, so no Apache or
 * gateway outlives the test file. ('exit' handlers must be synchronous; process.kill is.)
 */
const live = new Map<ChildProcess, (() => void) | undefined>();
process.on('exit', () => {
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
});

/**
 * Registers a spawned server for the exit hook above, with an optional synchronous `cleanup` (e.g. remove
 * its temp dir); it is forgotten once it exits, as its owner's stop() then does the cleanup.
 */
export function track(child: ChildProcess, cleanup?: () => void): ChildProcess {
  live.set(child, cleanup);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal` to the child's PID; after `graceMs` without exit, SIGKILL. Resolves once it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const done = exited(child);
  try {
    process.kill(child.pid, signal);
  } catch {
    return; // already gone
  }
  // Unref'd so a stopped child does not keep the test process alive for the rest of the grace period.
  const timer = sleep(graceMs, undefined, { ref: false }).then(() => 'timeout' as const);
  if ((await Promise.race([done.then(() => 'exited' as const), timer])) === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // exited between the race and the kill
    }
    await done;
  }
}

/**
 * Calls `probe` every `intervalMs` until it returns true, the `child` exits, or `timeoutMs` passes.
 * Throws with `what` and the child's captured output in the message, so a failed start explains itself.
 */
export async function waitReady(
  what: string,
  probe: () => Promise<boolean>,
  opts: { child: ChildProcess; output: () => string; timeoutMs?: number; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (opts.child.exitCode !== null || opts.child.signalCode !== null) {
      throw new Error(
        `${what} exited (code ${opts.child.exitCode}, signal ${opts.child.signalCode}) before it was ready:\n${opts.output()}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${opts.timeoutMs ?? 30_000} ms:\n${opts.output()}`);
    await sleep(opts.intervalMs ?? 100);
  }
}

/** Keeps the last `max` characters written to it: enough of a server's output to explain a failure. */
export class OutputTail {
  #buf = '';
  constructor(private readonly max = 16_384) {}
  push(chunk: Buffer | string): void {
    this.#buf += chunk.toString();
    if (this.#buf.length > this.max) this.#buf = this.#buf.slice(-this.max);
  }
  toString(): string {
    return this.#buf;
  }
}
