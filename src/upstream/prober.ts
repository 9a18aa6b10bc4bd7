/**
 * Active health checks: every `health.intervalMs` (`WEBDAV_HEALTH_CHECK_INTERVAL`) each enabled upstream
 * gets a PROPFIND Depth 0 of its base. A down upstream is probed only once its cool-down is over; a
 * successful probe brings it back (issue #2, "Health"). Each round also replays the repair journal of every
 * available upstream that owes repairs (see {@link repairsDue}).
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

/**
 * Whether to replay an upstream's repair journal this round. Pure.
 *
 * Repairs are owed by an upstream that missed writes or deletes while it could not be reached (down, or
 * cooling after `503 BlockedTemporarily`). Coming back up fires a replay (`Upstream.onUp`), but the end of a
 * cool-down changes no health state, and an account busy with client traffic is never probed
 * ('skip-alive'); a replay that failed would otherwise wait for an outage that may never come. So every round
 * replays for any available upstream (healthy, not cooling) that owes something, whatever the probe decision,
 * except right after a failed probe (the repairs would fail too and spend requests of the account's budget).
 *
 * @param s.available - `Upstream.available` after this round's probe (enabled, healthy, not cooling)
 * @param s.pendingRepairs - repairs the upstream owes (`RepairJournal.pendingFor`, `placement/repairs.ts`)
 * @param s.probeFailed - this round probed the upstream and the probe failed
 */
export function repairsDue(s: {
  readonly available: boolean;
  readonly pendingRepairs: number;
  readonly probeFailed: boolean;
}): boolean {
  return s.available && s.pendingRepairs > 0 && !s.probeFailed;
}

/** A running prober; `stop()` clears its timer. */
export interface Prober {
  stop(): void;
  /** Runs one round now (tests and start-up); resolves once its probes and the repairs it started are done. */
  runOnce(): Promise<void>;
}

/**
 * Starts the probe loop for `gw`. The timer is unref'd so it never keeps the process alive. A round's repair
 * replays do not hold up the next round's probes (a replay on a budgeted account can take minutes);
 * `Gateway.runRepairs` never runs two replays for one upstream at once.
 * @param now - clock (ms epoch); tests pass a fake one
 */
export function startProber(gw: Gateway, now: () => number = Date.now): Prober {
  const { intervalMs, probeTimeoutMs } = gw.config.health;
  let running = false;
  const runOnce = async () => {
    if (running) return;
    running = true;
    gw.locks.sweep();
    const replays: Promise<void>[] = [];
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
          const probeFailed = decision === 'probe' && !(await u.probe(probeTimeoutMs));
          if (repairsDue({ available: u.available, pendingRepairs: gw.repairs.pendingFor(u.id), probeFailed })) {
            replays.push(gw.runRepairs(u));
          }
        }),
      );
    } finally {
      running = false;
    }
    await Promise.all(replays);
  };
  const timer = setInterval(() => void runOnce(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
