/**
 * The simulated 坚果云 account's request budget and throttle (jianguoyun.md §1, §2; simulator statement 1).
 * Time is mocked through the `now` option: nothing here sleeps or asserts on durations.
 */
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startJianguoyunSim, type JianguoyunSim, type JianguoyunSimOptions } from '../../src/sim/jianguoyun.js';
import { basicAuth, davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');
const BLOCKED =
  '<d:error xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com"><s:exception>BlockedTemporarily</s:exception>' +
  '<s:message>Too many requests are received recently</s:message></d:error>';

async function sim(t: Test, opts: JianguoyunSimOptions): Promise<JianguoyunSim> {
  const s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw', ...opts });
  t.teardown(() => s.stop());
  return s;
}

function req(s: JianguoyunSim, p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

/** A mutable clock for the `now` option. */
function clock(start = 1_000_000): { now: () => number; set(v: number): void } {
  let v = start;
  return { now: () => v, set: (x) => (v = x) };
}

t.test('§1 throttle reply: 503 BlockedTemporarily, no Retry-After', async (t) => {
  const c = clock();
  const s = await sim(t, { budget: 3, windowMs: 10_000, now: c.now });
  for (let i = 0; i < 3; i++) t.equal((await req(s, '', 'OPTIONS')).status, 200, `request ${i + 1} within the budget`);
  const r = await req(s, '', 'OPTIONS');
  t.equal(r.status, 503);
  t.equal(r.body, BLOCKED, 'the body quoted in jianguoyun.md §1, byte for byte');
  t.equal(r.headers['content-type'], 'text/xml; charset=UTF-8');
  t.equal(r.headers['retry-after'], undefined, 'no Retry-After');
  t.equal(s.counters.throttled, 1);
  t.equal(s.counters.throttledBudget, 1);
  // Every method gets it once the budget is spent, PROPFIND and GET alike.
  t.equal((await req(s, SB, 'PROPFIND', { headers: { depth: '1' } })).status, 503);
  t.equal((await req(s, `${SB}/x.txt`, 'GET')).body, BLOCKED);
});

t.test('§1 every request counts: 401s, 404s and each listing page', async (t) => {
  const c = clock();
  const s = await sim(t, { budget: 6, windowMs: 10_000, now: c.now, pageSize: 2 });
  t.equal((await req(s, `${SB}/a.txt`, 'PUT', { body: 'a' })).status, 201);
  t.equal((await req(s, `${SB}/b.txt`, 'PUT', { body: 'b' })).status, 201);
  t.equal((await davRequest(s.url, 'PROPFIND', { auth: null })).status, 401, 'a request without credentials');
  t.equal((await req(s, `${SB}/missing.txt`, 'GET')).status, 404, 'a failed GET');
  const page1 = await req(s, SB, 'PROPFIND', { headers: { depth: '1' } });
  const next = /^<([^>]+)>; rel="next"$/.exec(String(page1.headers['link']))![1]!;
  t.equal((await davRequest(next, 'PROPFIND', { auth: s, headers: { depth: '1' } })).status, 207, 'second page');
  t.equal(s.counters.windowUsed, 6);
  t.equal((await req(s, '', 'OPTIONS')).status, 503, 'the 7th request in the window');
  t.same(s.snapshot().byMethod, { PUT: 2, PROPFIND: 3, GET: 1, OPTIONS: 1 });
  t.equal(s.counters.requests, 7);
  t.equal(s.counters.unauthorized, 1);
});

t.test('§1 sliding window: budget returns as requests leave the trailing window; refused ones count', async (t) => {
  const c = clock(0);
  const s = await sim(t, { budget: 2, windowMs: 10_000, now: c.now });
  c.set(0);
  t.equal((await req(s, '', 'OPTIONS')).status, 200);
  c.set(5_000);
  t.equal((await req(s, '', 'OPTIONS')).status, 200);
  c.set(6_000);
  t.equal((await req(s, '', 'OPTIONS')).status, 503, 'third request within 10 s');
  c.set(10_001);
  t.equal((await req(s, '', 'OPTIONS')).status, 503, 'the first left the window, but the refused one at 6 s still counts');
  c.set(16_001);
  t.equal(s.counters.windowUsed, 1, 'only the request at 10.001 s is left in (6.001 s, 16.001 s]');
  t.equal((await req(s, '', 'OPTIONS')).status, 200, 'budget is back');
  t.equal(s.counters.throttled, 2);
});

t.test('§1 countThrottled: false lets the window free up while a client keeps retrying', async (t) => {
  const c = clock(0);
  const s = await sim(t, { budget: 1, windowMs: 10_000, now: c.now, countThrottled: false });
  t.equal((await req(s, '', 'OPTIONS')).status, 200);
  c.set(9_000);
  t.equal((await req(s, '', 'OPTIONS')).status, 503);
  c.set(10_000);
  t.equal((await req(s, '', 'OPTIONS')).status, 200, 'the refused request at 9 s was not counted');
});

t.test('§2 maxInFlight: past it, the same 503 BlockedTemporarily', async (t) => {
  const s = await sim(t, { maxInFlight: 1 });
  const body = new PassThrough();
  const put = request(`${s.url}${SB}/slow.bin`, {
    method: 'PUT',
    headers: { authorization: basicAuth(s.username, s.password), 'content-length': '4' },
    body,
  });
  body.write('ab');
  // Wait (by yielding, not by time) until the simulator has the PUT in flight.
  for (let i = 0; s.counters.inFlight < 1 && i < 10_000; i++) await new Promise((r) => setImmediate(r));
  t.equal(s.counters.inFlight, 1);
  const r = await req(s, '', 'OPTIONS');
  t.equal(r.status, 503, 'a second concurrent request');
  t.equal(r.body, BLOCKED);
  t.equal(r.headers['retry-after'], undefined);
  body.end('cd');
  const res = await put;
  await res.body.dump();
  t.equal(res.statusCode, 201, 'the request in flight completes');
  t.equal(s.counters.throttledInFlight, 1);
  t.equal(s.counters.throttledBudget, 0);
  t.equal(s.counters.maxInFlightSeen, 2);
  t.equal((await req(s, '', 'OPTIONS')).status, 200, 'alone again');
});

t.test('latency knob: answers still arrive (no timing asserted)', async (t) => {
  const s = await sim(t, { latencyMs: { min: 1, max: 3 } });
  t.equal((await req(s, '', 'OPTIONS')).status, 200);
  const s2 = await sim(t, { latencyMs: 1 });
  t.equal((await req(s2, '', 'OPTIONS')).status, 200);
});

t.test('options are validated, naming the option', async (t) => {
  await t.rejects(startJianguoyunSim({ budget: 0 }), /budget must be an integer >= 1/);
  await t.rejects(startJianguoyunSim({ pageSize: 1 }), /pageSize must be an integer >= 2/);
  await t.rejects(startJianguoyunSim({ latencyMs: { min: 5, max: 1 } }), /latencyMs/);
  await t.rejects(startJianguoyunSim({ sandboxes: ['a:b'] }), /sandboxes/);
  const paid = await sim(t, { plan: 'paid', budget: undefined });
  t.ok(paid.url);
});
