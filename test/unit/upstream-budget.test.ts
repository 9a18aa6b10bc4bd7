import t from 'tap';
import { RequestBudget } from '../../src/upstream/budget.js';

t.test('at most N requests in any window; the next waits for the oldest to leave it', async (t) => {
  let now = 1_000;
  const b = new RequestBudget({ requests: 3, windowMs: 10_000, minSpacingMs: 0 }, () => now);
  t.equal(b.reserve(60_000), 0);
  t.equal(b.reserve(60_000), 0);
  now = 2_000;
  t.equal(b.reserve(60_000), 0);
  t.equal(b.remaining(), 0);
  t.equal(b.reserve(60_000), 9_000, 'the 4th goes when the 1st (t=1000) leaves the window: t=11000');
  t.equal(b.reserve(60_000), 9_000, 'the 5th when the 2nd leaves');
  t.equal(b.reserve(60_000), 10_000, 'the 6th when the 3rd (t=2000) leaves');
  now = 12_001;
  t.equal(b.used(), 3, 'sends at 11000, 11000, 12000 are in the window ending now');
});

t.test('a wait past the limit is refused and reserves nothing', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 1, windowMs: 30_000, minSpacingMs: 0 }, () => now);
  t.equal(b.reserve(1_000), 0);
  t.same(b.reserve(1_000), { refusedForMs: 30_000 });
  t.same(b.reserve(1_000), { refusedForMs: 30_000 }, 'still 30 s: the refusal took no slot');
  now = 30_000;
  t.equal(b.reserve(1_000), 0);
});

t.test('minimum spacing', async (t) => {
  const now = 0;
  const b = new RequestBudget({ requests: 100, windowMs: 60_000, minSpacingMs: 200 }, () => now);
  t.equal(b.reserve(10_000), 0);
  t.equal(b.reserve(10_000), 200);
  t.equal(b.reserve(10_000), 400);
});
