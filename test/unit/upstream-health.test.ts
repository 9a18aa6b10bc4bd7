/** Passive health (src/upstream/health.ts) as a decision table over a fake clock. */
import t from 'tap';
import { HealthState, isCredentialsRefused, isFailureStatus, type HealthOptions } from '../../src/upstream/health.js';

const OPTS: HealthOptions = { failThreshold: 5, windowMs: 10_000, minRequests: 10, failureRatio: 0.5 };

/** A state over a fake clock; `at(ms)` moves the clock. */
function rig(opts: Partial<HealthOptions> = {}) {
  let now = 1_000_000;
  const h = new HealthState({ ...OPTS, ...opts }, () => now);
  return { h, at: (ms: number) => (now = ms), advance: (ms: number) => (now += ms), now: () => now };
}

/** Records `pattern` (s = success, f = failure) and returns the transitions seen. */
function play(h: HealthState, pattern: string): string[] {
  const changes: string[] = [];
  for (const c of pattern) {
    const change = c === 'f' ? h.recordFailure() : h.recordSuccess();
    if (change) changes.push(change);
  }
  return changes;
}

t.test('consecutive path: failThreshold failures in a row mark down; a success resets the count', async (t) => {
  const { h } = rig();
  t.same(play(h, 'ffffsffff'), [], 'interrupted runs of 4: still up');
  t.equal(h.consecutiveFailures, 4);
  t.same(play(h, 'f'), ['down'], 'the fifth in a row');
  t.equal(h.lastDownCause, 'consecutive');
  t.notOk(h.healthy);
  t.same(play(h, 'ff'), [], 'failures while down (failed probes) report nothing');
});

t.test('ratio path: needs minRequests outcomes in the window, then failureRatio of them failed', async (t) => {
  // 9 outcomes, 5 failed (never 5 in a row): below minRequests, so not yet.
  const { h } = rig();
  t.same(play(h, 'fsfsfsfsf'), []);
  t.same(h.window(), { requests: 9, failures: 5 });
  t.same(play(h, 's'), [], 'a success never marks an upstream down, whatever the ratio');
  t.same(play(h, 'f'), ['down'], '11 outcomes, 6 failed: the ratio is checked on the failure');
  t.equal(h.lastDownCause, 'ratio');
  const { h: h2 } = rig();
  t.same(play(h2, 'sfsfsfsfs'), [], '9 outcomes, 4 failed');
  t.same(play(h2, 'f'), ['down'], '10 outcomes, 5 failed: exactly failureRatio (0.5) and minRequests (10)');
  const { h: h3 } = rig();
  t.same(play(h3, 'ssfsfsfsfs'), [], '10 outcomes, 4 failed');
  t.same(play(h3, 'f'), [], '11 outcomes, 5 failed: below 0.5');
});

t.test('regression: a few failures among many successes never mark a busy upstream down (no flapping)', async (t) => {
  const { h, advance } = rig();
  // 1,000 outcomes over 100 s, one failure in ten, failures spread out.
  for (let i = 0; i < 1000; i++) {
    advance(100);
    t.equal(i % 10 === 0 ? h.recordFailure() : h.recordSuccess(), null);
  }
  t.ok(h.healthy);
});

t.test('the window slides: old failures are forgotten', async (t) => {
  const { h, advance } = rig();
  t.same(play(h, 'fsfsfsfs'), [], '4 of 8 failed');
  advance(10_000 + 1_000);
  t.same(h.window(), { requests: 0, failures: 0 }, 'a window later, nothing is remembered');
  t.same(play(h, 'fs'), [], 'only 2 outcomes in the new window');
  advance(5_000);
  t.same(play(h, 'ssssssss'), [], '10 in the window, 1 failed');
  t.same(h.window(), { requests: 10, failures: 1 });
});

t.test('window buckets: an outcome counts until about one window later', async (t) => {
  const { h, advance } = rig({ minRequests: 1, failureRatio: 1, failThreshold: 100 });
  h.recordSuccess();
  advance(9_000);
  t.equal(h.window().requests, 1, 'still inside the window');
  advance(2_000);
  t.equal(h.window().requests, 0, 'forgotten past the window');
});

t.test('recovery: a success while down brings it back with a clean slate', async (t) => {
  const { h, advance } = rig();
  play(h, 'fffff');
  t.notOk(h.healthy);
  advance(1_500);
  t.equal(h.downForMs(), 1_500);
  t.same(play(h, 's'), ['up']);
  t.ok(h.healthy);
  t.equal(h.downForMs(), 0);
  t.equal(h.consecutiveFailures, 0);
  t.same(h.window(), { requests: 0, failures: 0 }, 'failures from before the outage are gone');
  t.same(play(h, 'ffff'), [], 'so it takes a whole new run to go down again');
});

t.test('failures while down are not counted in the window', async (t) => {
  const { h } = rig();
  play(h, 'fffff');
  play(h, 'ffffffffffff');
  t.same(h.window(), { requests: 0, failures: 0 });
});

t.test('regression: refused credentials (401/407) count as failures, like 5xx (review finding 12)', async (t) => {
  for (const s of [401, 407, 500, 502, 503, 504]) t.ok(isFailureStatus(s), `${s} is a failure`);
  for (const s of [200, 201, 204, 207, 304, 403, 404, 405, 409, 412, 416, 423]) t.notOk(isFailureStatus(s), `${s} is not`);
  t.ok(isCredentialsRefused(401) && isCredentialsRefused(407) && !isCredentialsRefused(403) && !isCredentialsRefused(500));
});
