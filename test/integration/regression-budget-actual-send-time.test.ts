/**
 * Regression (review finding 9): with davgate's budget below the account's (90 % of it, davgate's default
 * share) a BlockedTemporarily still reached the account under sustained load. `RequestBudget.reserve` counted
 * each request at its planned send time and planned later ones from those, while the account counts arrivals:
 * a request that went out or arrived later than planned (busy event loop, slower connection) shared the
 * account's window with the next window's requests. With minSpacingMs 0 many requests share a planned instant,
 * so the overshoot was as large as a burst. Now a request is counted from when it is really sent, and from its
 * answer once that comes (the latest moment the account can have counted it).
 */
import t from 'tap';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const WINDOW = 1000;

// 9: davgate's default share (90 %); 10: the whole budget, which counting from the answers also keeps.
for (const [gw, spacing] of [
  [9, 0],
  [10, 0],
] as const) {
  t.test(`davgate budget ${gw}, the account's 10 per second (spacing ${spacing} ms), sustained load`, async (t) => {
    const r = await jianguoyunRig(t, {
      accounts: 1,
      sim: { budget: 10, windowMs: WINDOW },
      upstream: { budget: { requests: gw, windowMs: WINDOW, minSpacingMs: spacing }, maxConcurrent: 4 },
      config: { health: { intervalMs: 3_600_000, failThreshold: 1000 }, limits: { queueTimeoutMs: 60_000, queueLength: 10_000 } },
    });
    t.equal((await r.call('PUT', '/x.txt', { 'content-length': '1' }, 'x')).status, 201);
    const answers = await Promise.all(Array.from({ length: 60 }, () => r.call('GET', '/x.txt')));
    t.comment(`account: ${r.sims[0]!.counters.requests} requests, ${r.sims[0]!.counters.throttled} blocked`);
    t.equal(r.sims[0]!.counters.throttled, 0, 'no BlockedTemporarily');
    t.ok(answers.every((a) => a.status === 200), 'every GET served');
  });
}
