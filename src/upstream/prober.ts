/**
 * Active health checks: every `health.intervalMs` (`WEBDAV_HEALTH_CHECK_INTERVAL`) each enabled upstream
 * gets a PROPFIND Depth 0 of its base. A down upstream is probed only once its cool-down is over; a
 * successful probe brings it back (issue #2, "Health").
 */
import type { Gateway } from '../gateway.js';

/** What one probe round does with one upstream. */
export type ProbeDecision = 'probe' | 'skip-cooling' | 'skip-resting' | 'skip-alive';

/**
 * Whether to probe an upstream this round. Pure.
 * - A cooling (throttled) account gets no probe until its rest is over, then one (issue 4).
 * - A down upstream is probed only once its passive-health cool-down is over (issue 2).
 * - A healthy upstream whose real traffic got a healthy answer within the last interval is not probed: the
 *   probe would tell nothing new and cost a request of the account's budget (issue 4, "Waste avoided").
 *
 * @param s.msSinceTrafficOk - ms since real traffic last got a healthy answer (Infinity if never)
 * @param s.intervalMs - the probe interval (`health.intervalMs`)
 */
export function probeDecision(s: {
  readonly cooling: boolean;
  readonly healthy: boolean;
  readonly probeDue: boolean;
  readonly msSinceTrafficOk: number;
  readonly intervalMs: number;
}): ProbeDecision {
  if (s.cooling) return 'skip-cooling';
  if (!s.healthy) return s.probeDue ? 'probe' : 'skip-resting';
  return s.msSinceTrafficOk < s.intervalMs ? 'skip-alive' : 'probe';
}

/** A running prober; `stop()` clears its timer. */
export interface Prober {
  stop(): void;
  /** Runs one round now (tests and start-up). */
  runOnce(): Promise<void>;
}

/**
 * Starts the probe loop for `gw`. The timer is unref'd so it never keeps the process alive.
 * @param now - clock (ms epoch); tests pass a fake one
 */
export function startProber(gw: Gateway, now: () => number = Date.now): Prober {
  const { intervalMs, probeTimeoutMs } = gw.config.health;
  let running = false;
  const runOnce = async () => {
    if (running) return;
    running = true;
    gw.locks.sweep();
    try {
      await Promise.all(
        gw.enabled.map(async (u) => {
          const decision = probeDecision({
            cooling: u.cooling,
            healthy: u.health.healthy,
            probeDue: u.health.probeDue(),
            msSinceTrafficOk: u.lastTrafficOkAt === 0 ? Infinity : now() - u.lastTrafficOkAt,
            intervalMs,
          });
          if (decision === 'skip-alive') gw.metrics.healthProbes.inc({ upstream: u.id, result: 'skipped' });
          if (decision !== 'probe') return;
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
