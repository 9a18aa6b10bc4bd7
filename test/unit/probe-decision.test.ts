/** The prober's per-upstream decisions (src/upstream/prober.ts probeDecision, repairsDue), pure tables. */
import t from 'tap';
import { probeDecision, repairsDue } from '../../src/upstream/prober.js';
import { slowWhileDown } from '../../src/upstream/upstream.js';

const base = {
  loop: 'slow' as const,
  cooling: false,
  healthy: true,
  slowWhileDown: false,
  msSinceTrafficOk: Infinity,
  intervalMs: 30_000,
};
const fast = { ...base, loop: 'fast' as const };

t.equal(probeDecision(base), 'probe', 'healthy, no recent traffic: probe');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 29_999 }), 'skip-alive', 'traffic answered within the interval: no probe (issue 4)');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 30_000 }), 'probe', 'traffic exactly one interval ago: probe');
t.equal(probeDecision({ ...base, cooling: true, msSinceTrafficOk: 0 }), 'skip-cooling', 'a cooling account is never probed');
t.equal(probeDecision({ ...base, healthy: false, msSinceTrafficOk: 0 }), 'probe', 'down: the slow loop probes it, whatever traffic said');
t.equal(probeDecision({ ...base, healthy: false, slowWhileDown: true }), 'probe', 'down and slow while down: the slow loop probes it');

// Issue 8 ("Recovery is slow"): a down upstream is probed every health.downIntervalMs by the fast loop.
t.equal(probeDecision({ ...fast, healthy: false }), 'probe', 'fast loop: a down upstream is probed');
t.equal(probeDecision({ ...fast, healthy: false, slowWhileDown: true }), 'skip-slow-while-down', 'fast loop: budgeted or refused credentials wait for the slow loop');
t.equal(probeDecision(fast), 'skip-healthy', 'fast loop: healthy upstreams are the slow loop\'s');
t.equal(probeDecision({ ...fast, healthy: false, cooling: true }), 'skip-cooling', 'fast loop: a cooling account is never probed');

t.equal(slowWhileDown({ budgeted: false, credentialsRefused: false }), false, 'plain upstream: fast probes while down');
t.equal(slowWhileDown({ budgeted: true, credentialsRefused: false }), true, 'request budget (jianguoyun.md §1): slow');
t.equal(slowWhileDown({ budgeted: false, credentialsRefused: true }), true, 'refused password (jianguoyun.md §6): slow');

// Regression (review finding 6): repairs were replayed only after a successful probe, so an account that cooled
// down (no health change, no onUp) and stayed busy (probe skipped) never got its journal replayed.
const owes = { available: true, pendingRepairs: 2, probeFailed: false };
t.equal(repairsDue(owes), true, 'available and owing: replay, whatever the probe decision (also when skipped as alive)');
t.equal(repairsDue({ ...owes, pendingRepairs: 0 }), false, 'nothing owed: nothing to do');
t.equal(repairsDue({ ...owes, available: false }), false, 'cooling or down: wait until it is available again');
t.equal(repairsDue({ ...owes, probeFailed: true }), false, 'right after a failed probe: the replay would fail too');
