/**
 * Active health checks: every `health.intervalMs` (`WEBDAV_HEALTH_CHECK_INTERVAL`) each enabled upstream
 * gets a PROPFIND Depth 0 of its base. A down upstream is probed only once its cool-down is over; a
 * successful probe brings it back (issue #2, "Health").
 */
import type { Gateway } from '../gateway.js';

/** A running prober; `stop()` clears its timer. */
export interface Prober {
  stop(): void;
  /** Runs one round now (tests and start-up). */
  runOnce(): Promise<void>;
}

/** Starts the probe loop for `gw`. The timer is unref'd so it never keeps the process alive. */
export function startProber(gw: Gateway): Prober {
  const { intervalMs, probeTimeoutMs } = gw.config.health;
  let running = false;
  const runOnce = async () => {
    if (running) return;
    running = true;
    gw.locks.sweep();
    try {
      await Promise.all(
        gw.enabled.map(async (u) => {
          // A cooling account gets no probe until its rest is over (issue #4); then one probe.
          if (u.cooling) return;
          if (!u.health.healthy && !u.health.probeDue()) return;
          if (await u.probe(probeTimeoutMs)) await gw.runRepairs(u);
        }),
      );
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void runOnce(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
