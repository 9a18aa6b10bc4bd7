/**
 * Active health checks (issue #2, "Health"; issue 8, "Recovery is slow"). Two loops:
 * - the **slow** loop, every `health.intervalMs` (`WEBDAV_HEALTH_CHECK_INTERVAL`): a PROPFIND Depth 0 of the
 *   base of each enabled upstream not shown alive by recent traffic, and of every down one; each round also
 *   replays the repair journal of every available upstream that owes repairs (see {@link repairsDue});
 * - the **fast** loop, every `health.downIntervalMs` (`DAVGATE_HEALTH_DOWN_INTERVAL_MS`, like HAProxy's
 *   `fastinter`): only down upstreams, so one that comes back serves again within about that interval.
 * A successful probe brings a down upstream back at once.
 */
import type { Gateway } from '../gateway.js';

/** Which loop a probe round belongs to. */
export type ProbeLoop = 'slow' | 'fast';

/** What one probe round does with one upstream. */
export type ProbeDecision = 'probe' | 'skip-cooling' | 'skip-alive' | 'skip-healthy' | 'skip-slow-while-down';

/**
 * Whether to probe an upstream this round. Pure.
 * - A cooling (throttled) account gets no probe until its rest is over, then one (issue 4).
 * - A down upstream is probed by both loops, except that one probed slowly while down (a budgeted account, or
 *   refused credentials: `slowWhileDown` in `upstream.ts`) is left to the slow loop.
 * - The fast loop leaves healthy upstreams alone.
 * - A healthy upstream whose real traffic got a healthy answer within the last interval is not probed: the
 *   probe would tell nothing new and cost a request of the account's budget (issue 4, "Waste avoided").
 *
 * @param s.loop - the loop asking
 * @param s.slowWhileDown - `Upstream.slowProbeWhileDown`
 * @param s.msSinceTrafficOk - ms since real traffic last got a healthy answer (Infinity if never)
 * @param s.intervalMs - the slow probe interval (`health.intervalMs`)
 */
export function probeDecision(s: {
  readonly loop: ProbeLoop;
  readonly cooling: boolean;
  readonly healthy: boolean;
  readonly slowWhileDown: boolean;
  readonly msSinceTrafficOk: number;
  readonly intervalMs: number;
}): ProbeDecision {
  if (s.cooling) return 'skip-cooling';
  if (!s.healthy) return s.loop === 'fast' && s.slowWhileDown ? 'skip-slow-while-down' : 'probe';
  if (s.loop === 'fast') return 'skip-healthy';
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

/** A running prober; `stop()` clears its timers. */
export interface Prober {
  stop(): void;
  /**
   * Runs one round now (tests and start-up); resolves once its probes and the repairs it started are done.
   * @param loop - `slow` (default): every upstream that needs a probe, and repairs; `fast`: down upstreams only
   */
  runOnce(loop?: ProbeLoop): Promise<void>;
}

/**
 * Starts both probe loops for `gw`. The timers are unref'd so they never keep the process alive. A round's
 * repair replays do not hold up the next round's probes (a replay on a budgeted account can take minutes);
 * `Gateway.runRepairs` never runs two replays for one upstream at once. Two rounds of one loop never overlap,
 * and an upstream is never probed by both loops at once.
 * @param now - clock (ms epoch); tests pass a fake one
 */
export function startProber(gw: Gateway, now: () => number = Date.now): Prober {
  const { intervalMs, downIntervalMs, probeTimeoutMs } = gw.config.health;
  const running = new Set<ProbeLoop>();
  const probing = new Set<string>();
  const runOnce = async (loop: ProbeLoop = 'slow') => {
    if (running.has(loop)) return;
    running.add(loop);
    if (loop === 'slow') gw.locks.sweep();
    const replays: Promise<void>[] = [];
    try {
      await Promise.all(
        gw.enabled.map(async (u) => {
          const decision = probeDecision({
            loop,
            cooling: u.cooling,
            healthy: u.health.healthy,
            slowWhileDown: u.slowProbeWhileDown,
            msSinceTrafficOk: u.lastTrafficOkAt === 0 ? Infinity : now() - u.lastTrafficOkAt,
            intervalMs,
          });
          if (decision === 'skip-alive') gw.metrics.healthProbes.inc({ upstream: u.id, result: 'skipped' });
          let probeFailed = false;
          if (decision === 'probe' && !probing.has(u.id)) {
            probing.add(u.id);
            try {
              probeFailed = !(await u.probe(probeTimeoutMs));
            } finally {
              probing.delete(u.id);
            }
          }
          if (loop === 'slow' && repairsDue({ available: u.available, pendingRepairs: gw.repairs.pendingFor(u.id), probeFailed })) {
            replays.push(gw.runRepairs(u));
          }
        }),
      );
    } finally {
      running.delete(loop);
    }
    await Promise.all(replays);
  };
  const slow = setInterval(() => void runOnce('slow'), intervalMs);
  const fast = setInterval(() => void runOnce('fast'), downIntervalMs);
  slow.unref();
  fast.unref();
  return {
    stop: () => {
      clearInterval(slow);
      clearInterval(fast);
    },
    runOnce,
  };
}
