/** The prober's per-upstream decisions (src/upstream/prober.ts probeDecision, repairsDue), pure tables. */
import t from 'tap';
import { probeDecision, repairsDue } from '../../src/upstream/prober.js';

const base = { cooling: false, healthy: true, probeDue: false, msSinceTrafficOk: Infinity, intervalMs: 30_000 };

t.equal(probeDecision(base), 'probe', 'healthy, no recent traffic: probe');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 29_999 }), 'skip-alive', 'traffic answered within the interval: no probe (issue 4)');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 30_000 }), 'probe', 'traffic exactly one interval ago: probe');
t.equal(probeDecision({ ...base, cooling: true, msSinceTrafficOk: 0 }), 'skip-cooling', 'a cooling account is never probed');
t.equal(probeDecision({ ...base, healthy: false, probeDue: false }), 'skip-resting', 'down, cool-down running: wait');
t.equal(probeDecision({ ...base, healthy: false, probeDue: true, msSinceTrafficOk: 0 }), 'probe', 'down and due: probe, whatever traffic said');

// Regression (review finding 6): repairs were replayed only after a successful probe, so an account that cooled
// down (no health change, no onUp) and stayed busy (probe skipped) never got its journal replayed.
const owes = { available: true, pendingRepairs: 2, probeFailed: false };
t.equal(repairsDue(owes), true, 'available and owing: replay, whatever the probe decision (also when skipped as alive)');
t.equal(repairsDue({ ...owes, pendingRepairs: 0 }), false, 'nothing owed: nothing to do');
t.equal(repairsDue({ ...owes, available: false }), false, 'cooling or down: wait until it is available again');
t.equal(repairsDue({ ...owes, probeFailed: true }), false, 'right after a failed probe: the replay would fail too');
