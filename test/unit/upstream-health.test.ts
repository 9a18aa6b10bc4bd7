import t from 'tap';
import { HealthState, isFailureStatus } from '../../src/upstream/health.js';

t.test('N consecutive failures mark down; a success resets the count', async (t) => {
  let now = 1_000;
  const h = new HealthState({ failThreshold: 3, cooldownMs: 30_000 }, () => now);
  t.equal(h.recordFailure(), null);
  t.equal(h.recordFailure(), null);
  t.equal(h.recordSuccess(), null, 'success while healthy is no change');
  t.equal(h.recordFailure(), null);
  t.equal(h.recordFailure(), null);
  t.equal(h.recordFailure(), 'down', 'third consecutive failure');
  t.notOk(h.healthy);
  t.equal(h.recordFailure(), null, 'state change is reported once');
  t.equal(h.cooldownRemainingMs(), 30_000);
  t.notOk(h.probeDue());
  now += 30_000;
  t.ok(h.probeDue(), 'probe due after the cool-down');
  t.notOk(h.healthy, 'still down until a probe succeeds');
  t.equal(h.recordSuccess(), 'up');
  t.ok(h.healthy);
  t.equal(h.cooldownRemainingMs(), 0);
});

t.test('a failed probe restarts the cool-down', async (t) => {
  let now = 0;
  const h = new HealthState({ failThreshold: 1, cooldownMs: 10 }, () => now);
  h.recordFailure();
  now = 10;
  t.ok(h.probeDue());
  h.recordFailure();
  t.notOk(h.probeDue());
  t.equal(h.cooldownRemainingMs(), 10);
});

t.test('regression: refused credentials (401/407) count as failures, like 5xx (review finding 12)', async (t) => {
  for (const s of [401, 407, 500, 502, 503, 504]) t.ok(isFailureStatus(s), `${s} is a failure`);
  for (const s of [200, 201, 204, 207, 304, 403, 404, 405, 409, 412, 416, 423]) t.notOk(isFailureStatus(s), `${s} is not`);
});
