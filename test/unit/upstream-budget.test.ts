import t from 'tap';
import { RequestBudget, type Reservation } from '../../src/upstream/budget.js';

/** The wait of a booking (a refusal is returned as is so that the assertion shows it). */
const wait = (r: Reservation | { refusedForMs: number }) => ('waitMs' in r ? r.waitMs : r);

/** A booking; throws (failing the test) if the budget refused it. */
function booked(r: Reservation | { refusedForMs: number }): Reservation {
  if (!('waitMs' in r)) throw new Error(`refused for ${r.refusedForMs} ms`);
  return r;
}

t.test('at most N requests in any window; the next waits for the oldest to leave it', async (t) => {
  let now = 1_000;
  const b = new RequestBudget({ requests: 3, windowMs: 10_000, minSpacingMs: 0 }, () => now);
  const first = [booked(b.reserve(60_000)), booked(b.reserve(60_000))];
  for (const r of first) t.equal(b.send(r), 0);
  now = 2_000;
  const third = booked(b.reserve(60_000));
  t.equal(third.waitMs, 0);
  t.equal(b.send(third), 0);
  t.equal(b.remaining(), 0);
  const later = [booked(b.reserve(60_000)), booked(b.reserve(60_000)), booked(b.reserve(60_000))];
  t.same(
    later.map((r) => r.waitMs),
    [9_000, 9_000, 10_000],
    'the 4th and 5th go when the sends at t=1000 leave the window (t=11000), the 6th when t=2000 leaves',
  );
  now = 11_000;
  t.equal(b.send(later[0]!), 0);
  t.equal(b.send(later[1]!), 0);
  now = 12_000;
  t.equal(b.send(later[2]!), 0);
  now = 12_001;
  t.equal(b.used(), 3, 'sends at 11000, 11000, 12000 are in the window ending now');
});

t.test('a wait past the limit is refused and reserves nothing', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 1, windowMs: 30_000, minSpacingMs: 0 }, () => now);
  t.equal(b.send(booked(b.reserve(1_000))), 0);
  t.same(b.reserve(1_000), { refusedForMs: 30_000 });
  t.same(b.reserve(1_000), { refusedForMs: 30_000 }, 'still 30 s: the refusal took no slot');
  now = 30_000;
  t.equal(wait(b.reserve(1_000)), 0);
});

t.test('minimum spacing', async (t) => {
  const now = 0;
  const b = new RequestBudget({ requests: 100, windowMs: 60_000, minSpacingMs: 200 }, () => now);
  t.equal(wait(b.reserve(10_000)), 0);
  t.equal(wait(b.reserve(10_000)), 200);
  t.equal(wait(b.reserve(10_000)), 400);
});

t.test('regression: a released booking (client gave up before it was sent) gives its budget back', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 2, windowMs: 10_000, minSpacingMs: 0 }, () => now);
  t.equal(b.send(booked(b.reserve(60_000))), 0);
  t.equal(b.send(booked(b.reserve(60_000))), 0);
  // Two waiters book the next window; both give up before their time.
  const gaveUp = [booked(b.reserve(60_000)), booked(b.reserve(60_000))];
  t.same(gaveUp.map((r) => r.waitMs), [10_000, 10_000]);
  t.same(b.reserve(15_000), { refusedForMs: 20_000 }, 'while they wait, the next is pushed a window further');
  for (const r of gaveUp) b.release(r);
  b.release(gaveUp[0]!);
  t.equal(b.remaining(), 0, 'the two sends still count');
  t.equal(wait(b.reserve(15_000)), 10_000, 'once released, the next waiter takes their place');
  now = 10_000;
  t.equal(b.used(), 0, 'nothing released was counted as sent');
  t.equal(b.remaining(), 1, 'a window later only that waiter’s booking is left');
});

t.test('regression: released or sent bookings are settled; send and release are idempotent', async (t) => {
  const now = 0;
  const b = new RequestBudget({ requests: 1, windowMs: 10_000, minSpacingMs: 0 }, () => now);
  const r = booked(b.reserve(60_000));
  t.equal(b.send(r), 0);
  b.release(r);
  t.equal(b.used(), 1, 'releasing a sent booking does not un-count it');
  t.equal(b.send(r), 0);
  t.equal(b.used(), 1, 'sending twice counts once');
});

t.test('regression: a request is counted from when it was really sent, not from its booked time', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 1, windowMs: 1_000, minSpacingMs: 0 }, () => now);
  const x = booked(b.reserve(60_000));
  const y = booked(b.reserve(60_000));
  t.equal(y.waitMs, 1_000, 'y is planned one window after x’s booked time');
  now = 40;
  t.equal(b.send(x), 0, 'x really leaves at t=40 (busy event loop)');
  now = 1_000;
  t.equal(b.send(y), 40, 'y at t=1000 would meet x (t=40) in the account’s window: 40 ms more');
  t.equal(y.at, 1_040, 'its booking moved');
  t.equal(b.remaining(), 0, 'and still counts');
  now = 1_040;
  t.equal(b.send(y), 0);
  t.equal(b.used(), 1, 'x left the window; y is the one in it');
  t.equal(b.send(y), 0, 'sending again counts nothing more');
  t.equal(b.used(), 1);
});

t.test('regression: an answered request is counted from its answer, the latest the account can have counted it', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 2, windowMs: 1_000, minSpacingMs: 0 }, () => now);
  const x = booked(b.reserve(60_000));
  const y = booked(b.reserve(60_000));
  t.equal(b.send(x), 0);
  t.equal(b.send(y), 0);
  const z = booked(b.reserve(60_000));
  t.equal(z.waitMs, 1_000, 'z planned from the send times');
  // Both took a while to reach the account and be answered (slow connection, busy event loop).
  now = 20;
  b.answered(x);
  b.answered(x);
  now = 30;
  b.answered(y);
  t.equal(b.used(), 2, 'answering moves a request, it does not add one');
  now = 1_000;
  t.equal(b.send(z), 20, 'z waits until the older answer (t=20) left the window');
  now = 1_020;
  t.equal(b.send(z), 0);
  t.equal(wait(b.reserve(60_000)), 10, 'the next waits for y’s answer (t=30) to leave');
});

t.test('regression: send() keeps spacing over real send times', async (t) => {
  let now = 0;
  const b = new RequestBudget({ requests: 100, windowMs: 60_000, minSpacingMs: 200 }, () => now);
  const a = booked(b.reserve(10_000));
  const c = booked(b.reserve(10_000));
  t.equal(c.waitMs, 200);
  now = 150;
  t.equal(b.send(a), 0, 'a leaves late, at 150');
  now = 200;
  t.equal(b.send(c), 150, 'c waits until 200 ms after a really left');
});
