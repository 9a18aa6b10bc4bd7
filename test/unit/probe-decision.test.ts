/** The prober's per-upstream decision (src/upstream/prober.ts probeDecision), a pure table. */
import t from 'tap';
import { probeDecision } from '../../src/upstream/prober.js';

const base = { cooling: false, healthy: true, probeDue: false, msSinceTrafficOk: Infinity, intervalMs: 30_000 };

t.equal(probeDecision(base), 'probe', 'healthy, no recent traffic: probe');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 29_999 }), 'skip-alive', 'traffic answered within the interval: no probe (issue 4)');
t.equal(probeDecision({ ...base, msSinceTrafficOk: 30_000 }), 'probe', 'traffic exactly one interval ago: probe');
t.equal(probeDecision({ ...base, cooling: true, msSinceTrafficOk: 0 }), 'skip-cooling', 'a cooling account is never probed');
t.equal(probeDecision({ ...base, healthy: false, probeDue: false }), 'skip-resting', 'down, cool-down running: wait');
t.equal(probeDecision({ ...base, healthy: false, probeDue: true, msSinceTrafficOk: 0 }), 'probe', 'down and due: probe, whatever traffic said');
