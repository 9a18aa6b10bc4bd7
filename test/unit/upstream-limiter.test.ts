/**
 * The per-upstream admission limiter (`src/upstream/limiter.ts`): `maxConcurrent` slots, a FIFO queue of
 * `queueLength`, 503 when full, 499 when the client goes away while queued. No sockets; queue timeouts are
 * set far beyond the test so no timer decides anything.
 */
import t from 'tap';
import { DavgateError } from '../../src/errors.js';
import { Limiter, type Rejection, type Release } from '../../src/upstream/limiter.js';

const FAR = 3_600_000;

/** The state of a promise after letting pending work run (a few event-loop turns, no timers). */
async function state<T>(p: Promise<T>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  let s: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  p.then(
    () => (s = 'fulfilled'),
    () => (s = 'rejected'),
  );
  // A few turns let p-queue's internal promise chains run.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return s;
}

async function rejection(p: Promise<unknown>): Promise<DavgateError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DavgateError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('maxConcurrent 2, queueLength 1: two admitted, third queued, fourth refused with 503 QUEUE_FULL', async (t) => {
  const lim = new Limiter({ maxConcurrent: 2, queueLength: 1, queueTimeoutMs: FAR });
  const rejections: Rejection[] = [];
  const onReject = (r: Rejection) => rejections.push(r);

  const r1 = await lim.acquire(undefined, onReject);
  const r2 = await lim.acquire(undefined, onReject);
  t.equal(lim.inFlight, 2);
  t.equal(lim.waiting, 0);

  const third = lim.acquire(undefined, onReject);
  t.equal(await state(third), 'pending', 'third waits');
  t.equal(lim.waiting, 1);
  t.equal(lim.inFlight, 2);

  const err = await rejection(lim.acquire(undefined, onReject));
  t.equal(err.code, 'DAVGATE_QUEUE_FULL');
  t.equal(err.statusCode, 503);
  t.ok(err.retryAfterS !== undefined && err.retryAfterS >= 1, 'Retry-After set');
  t.same(rejections, ['full'], 'onReject told why');
  t.equal(lim.waiting, 1, 'the refused one took no place');

  r1();
  const r3 = await third;
  t.equal(typeof r3, 'function', 'queued one admitted after a release');
  await state(Promise.resolve());
  t.equal(lim.waiting, 0);
  t.equal(lim.inFlight, 2);
  r2();
  r3();
  await lim.onIdle();
  t.equal(lim.inFlight, 0);
});

t.test('release admits queued requests in FIFO order', async (t) => {
  const lim = new Limiter({ maxConcurrent: 1, queueLength: 5, queueTimeoutMs: FAR });
  const first = await lim.acquire(undefined);
  const order: number[] = [];
  const releases: Promise<Release>[] = [];
  for (let i = 0; i < 4; i++) {
    releases.push(
      lim.acquire(undefined).then((rel) => {
        order.push(i);
        return rel;
      }),
    );
  }
  t.equal(lim.waiting, 4);
  first();
  for (let i = 0; i < 4; i++) {
    const rel = await releases[i]!;
    t.same(order, Array.from({ length: i + 1 }, (_, k) => k), `admitted ${i} after ${i - 1}, nobody jumped ahead`);
    t.equal(await state<unknown>(releases[i + 1] ?? Promise.resolve()), i < 3 ? 'pending' : 'fulfilled', 'the next one still waits');
    rel();
  }
  await lim.onIdle();
  t.same(order, [0, 1, 2, 3]);
});

t.test('a release is idempotent: calling it twice frees one slot only', async (t) => {
  const lim = new Limiter({ maxConcurrent: 1, queueLength: 2, queueTimeoutMs: FAR });
  const r1 = await lim.acquire(undefined);
  const a = lim.acquire(undefined);
  const b = lim.acquire(undefined);
  r1();
  r1();
  const ra = await a;
  t.equal(await state(b), 'pending', 'b still waits: the double release did not free a second slot');
  ra();
  (await b)();
  await lim.onIdle();
});

t.test('an abort while queued rejects with 499 and frees the place', async (t) => {
  const lim = new Limiter({ maxConcurrent: 2, queueLength: 1, queueTimeoutMs: FAR });
  const rejections: Rejection[] = [];
  const r1 = await lim.acquire(undefined);
  const r2 = await lim.acquire(undefined);
  const ctl = new AbortController();
  const queued = lim.acquire(ctl.signal, (r) => rejections.push(r));
  t.equal(await state(queued), 'pending');
  t.equal(lim.waiting, 1);

  ctl.abort();
  const err = await rejection(queued);
  t.equal(err.statusCode, 499);
  t.equal(err.code, 'DAVGATE_CLIENT_CLOSED');
  t.same(rejections, [], 'a client abort is not a queue rejection');
  t.equal(lim.waiting, 0, 'the queue place is free');

  // The freed place can be taken again, and a fifth request is still refused as full only beyond it.
  const again = lim.acquire(undefined);
  t.equal(await state(again), 'pending', 'queued, not refused');
  const full = await rejection(lim.acquire(undefined));
  t.equal(full.code, 'DAVGATE_QUEUE_FULL');

  // The aborted one never takes a slot: releasing one slot admits `again`, and the other stays held.
  r1();
  const ra = await again;
  t.equal(lim.inFlight, 2);
  ra();
  r2();
  await lim.onIdle();
  t.equal(lim.inFlight, 0);
});

t.test('an already aborted signal is refused before queueing', async (t) => {
  const lim = new Limiter({ maxConcurrent: 1, queueLength: 1, queueTimeoutMs: FAR });
  const r1 = await lim.acquire(undefined);
  const ctl = new AbortController();
  ctl.abort();
  await t.rejects(lim.acquire(ctl.signal));
  t.equal(lim.waiting, 0, 'nothing left queued');
  r1();
  await lim.onIdle();
});

t.test('queue timeout: 503 QUEUE_TIMEOUT and the place is freed', async (t) => {
  // The only timer-driven case: a tiny timeout, asserting the outcome, not how long it took.
  const lim = new Limiter({ maxConcurrent: 1, queueLength: 1, queueTimeoutMs: 1 });
  const rejections: Rejection[] = [];
  const r1 = await lim.acquire(undefined);
  // The limiter's wait timer is unref'd (it must never keep a process alive); hold the loop open meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  const err = await rejection(lim.acquire(undefined, (r) => rejections.push(r))).finally(() => clearInterval(keepAlive));
  t.equal(err.code, 'DAVGATE_QUEUE_TIMEOUT');
  t.equal(err.statusCode, 503);
  t.same(rejections, ['timeout']);
  t.equal(lim.waiting, 0);
  r1();
  await lim.onIdle();
});
