import t from 'tap';
import {
  LockManager,
  MemoryLockStore,
  parseTimeoutHeader,
  type ActiveLock,
  type LockManagerOptions,
  type LockScope,
} from '../../src/locks/manager.js';

const T0 = 1_700_000_000_000;

function setup(opts: Partial<LockManagerOptions> = {}) {
  const clock = { now: T0 };
  const store = new MemoryLockStore();
  const m = new LockManager(store, { maxTimeoutS: 3600, defaultTimeoutS: 600, now: () => clock.now, ...opts });
  return { clock, store, m };
}

type Depth = '0' | 'infinity';

function take(m: LockManager, key: string, scope: LockScope, depth: Depth, timeoutS?: number | null): ActiveLock {
  const r = m.lock({ key, rootIsCollection: true, depth, scope, owner: null, timeoutS, principal: null });
  if (!r.ok) throw new Error(`setup lock on ${key} conflicted`);
  return r.lock;
}

const tokens = (ls: readonly ActiveLock[]): string[] => ls.map((l) => l.token);

t.test('a granted lock has a fresh urn:uuid token and the requested fields', async (t) => {
  const { m, store } = setup();
  const r = m.lock({
    key: '/docs/a.txt',
    rootIsCollection: false,
    depth: '0',
    scope: 'exclusive',
    owner: '<D:owner xmlns:D="DAV:">me</D:owner>',
    timeoutS: 100,
    principal: 'ann',
  });
  t.equal(r.ok, true);
  if (!r.ok) return;
  t.match(r.lock.token, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.strictSame(
    { ...r.lock, token: 'x' },
    {
      token: 'x',
      root: '/docs/a.txt',
      rootIsCollection: false,
      depth: '0',
      scope: 'exclusive',
      owner: '<D:owner xmlns:D="DAV:">me</D:owner>',
      timeoutS: 100,
      expiresAt: T0 + 100_000,
      principal: 'ann',
    },
  );
  t.equal(Object.isFrozen(r.lock), true);
  t.equal(store.get(r.lock.token), r.lock, 'stored under its token');
  t.equal(m.size, 1);
});

t.test('tokens are unique', async (t) => {
  const { m } = setup();
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(take(m, '/s', 'shared', '0').token);
  t.equal(seen.size, 200);
  t.equal(m.size, 200);
});

// Conflict decision table (RFC 4918 §6.1, §9.10.5). The existing lock sits at the same key as the request, at
// its parent (ancestor) or at its child (descendant). Requests are at /p/c except for 'descendant', at /p.
// Columns: position, existing scope, existing depth, requested scope, requested depth, conflict?
const TABLE: [string, LockScope, Depth, LockScope, Depth, boolean][] = [
  ['same', 'exclusive', '0', 'exclusive', '0', true],
  ['same', 'exclusive', '0', 'exclusive', 'infinity', true],
  ['same', 'exclusive', '0', 'shared', '0', true],
  ['same', 'exclusive', '0', 'shared', 'infinity', true],
  ['same', 'exclusive', 'infinity', 'exclusive', '0', true],
  ['same', 'exclusive', 'infinity', 'exclusive', 'infinity', true],
  ['same', 'exclusive', 'infinity', 'shared', '0', true],
  ['same', 'exclusive', 'infinity', 'shared', 'infinity', true],
  ['same', 'shared', '0', 'exclusive', '0', true],
  ['same', 'shared', '0', 'exclusive', 'infinity', true],
  ['same', 'shared', '0', 'shared', '0', false],
  ['same', 'shared', '0', 'shared', 'infinity', false],
  ['same', 'shared', 'infinity', 'exclusive', '0', true],
  ['same', 'shared', 'infinity', 'exclusive', 'infinity', true],
  ['same', 'shared', 'infinity', 'shared', '0', false],
  ['same', 'shared', 'infinity', 'shared', 'infinity', false],
  // an ancestor's lock covers the request only with depth infinity
  ['ancestor', 'exclusive', '0', 'exclusive', '0', false],
  ['ancestor', 'exclusive', '0', 'exclusive', 'infinity', false],
  ['ancestor', 'exclusive', '0', 'shared', '0', false],
  ['ancestor', 'exclusive', '0', 'shared', 'infinity', false],
  ['ancestor', 'exclusive', 'infinity', 'exclusive', '0', true],
  ['ancestor', 'exclusive', 'infinity', 'exclusive', 'infinity', true],
  ['ancestor', 'exclusive', 'infinity', 'shared', '0', true],
  ['ancestor', 'exclusive', 'infinity', 'shared', 'infinity', true],
  ['ancestor', 'shared', '0', 'exclusive', '0', false],
  ['ancestor', 'shared', '0', 'exclusive', 'infinity', false],
  ['ancestor', 'shared', '0', 'shared', '0', false],
  ['ancestor', 'shared', '0', 'shared', 'infinity', false],
  ['ancestor', 'shared', 'infinity', 'exclusive', '0', true],
  ['ancestor', 'shared', 'infinity', 'exclusive', 'infinity', true],
  ['ancestor', 'shared', 'infinity', 'shared', '0', false],
  ['ancestor', 'shared', 'infinity', 'shared', 'infinity', false],
  // a lock below the request matters only to a depth-infinity request
  ['descendant', 'exclusive', '0', 'exclusive', '0', false],
  ['descendant', 'exclusive', '0', 'exclusive', 'infinity', true],
  ['descendant', 'exclusive', '0', 'shared', '0', false],
  ['descendant', 'exclusive', '0', 'shared', 'infinity', true],
  ['descendant', 'exclusive', 'infinity', 'exclusive', '0', false],
  ['descendant', 'exclusive', 'infinity', 'exclusive', 'infinity', true],
  ['descendant', 'exclusive', 'infinity', 'shared', '0', false],
  ['descendant', 'exclusive', 'infinity', 'shared', 'infinity', true],
  ['descendant', 'shared', '0', 'exclusive', '0', false],
  ['descendant', 'shared', '0', 'exclusive', 'infinity', true],
  ['descendant', 'shared', '0', 'shared', '0', false],
  ['descendant', 'shared', '0', 'shared', 'infinity', false],
  ['descendant', 'shared', 'infinity', 'exclusive', '0', false],
  ['descendant', 'shared', 'infinity', 'exclusive', 'infinity', true],
  ['descendant', 'shared', 'infinity', 'shared', '0', false],
  ['descendant', 'shared', 'infinity', 'shared', 'infinity', false],
];

t.test('conflict decision table', async (t) => {
  t.equal(TABLE.length, 48);
  for (const [pos, exScope, exDepth, reqScope, reqDepth, conflict] of TABLE) {
    const { m } = setup();
    const existingKey = pos === 'same' ? '/p/c' : pos === 'ancestor' ? '/p' : '/p/c';
    const requestKey = pos === 'descendant' ? '/p' : '/p/c';
    const existing = take(m, existingKey, exScope, exDepth);
    const r = m.lock({ key: requestKey, rootIsCollection: true, depth: reqDepth, scope: reqScope, owner: null, timeoutS: undefined, principal: null });
    const name = `${pos}: existing ${exScope}/${exDepth}, request ${reqScope}/${reqDepth}`;
    if (conflict) {
      t.strictSame(r, { ok: false, conflicts: [existing] }, name);
      t.equal(m.size, 1, `${name}: nothing stored`);
    } else {
      t.equal(r.ok, true, name);
      t.equal(m.size, 2, `${name}: stored`);
    }
  }
});

t.test('siblings and prefix-sharing names never conflict; a root lock covers everything', async (t) => {
  const { m } = setup();
  take(m, '/a', 'exclusive', 'infinity');
  t.equal(m.lock({ key: '/ab', rootIsCollection: false, depth: 'infinity', scope: 'exclusive', owner: null, timeoutS: 1, principal: null }).ok, true, '/ab is not below /a');
  t.equal(m.lock({ key: '/b/c', rootIsCollection: false, depth: '0', scope: 'exclusive', owner: null, timeoutS: 1, principal: null }).ok, true);
  const r = m.lock({ key: '/', rootIsCollection: true, depth: 'infinity', scope: 'shared', owner: null, timeoutS: 1, principal: null });
  t.equal(r.ok, false);
  if (!r.ok) t.strictSame(r.conflicts.map((l) => l.root).sort(), ['/a', '/ab', '/b/c'], 'every lock below the root');

  const { m: m2 } = setup();
  const root = take(m2, '/', 'exclusive', 'infinity');
  const r2 = m2.lock({ key: '/x/y/z', rootIsCollection: false, depth: '0', scope: 'shared', owner: null, timeoutS: 1, principal: null });
  t.strictSame(r2, { ok: false, conflicts: [root] });
});

t.test('conflicts list covering locks first, then locks below', async (t) => {
  const { m } = setup();
  const below = take(m, '/p/c/d', 'shared', '0');
  const anc = take(m, '/p', 'shared', 'infinity');
  const r = m.lock({ key: '/p/c', rootIsCollection: true, depth: 'infinity', scope: 'exclusive', owner: null, timeoutS: 1, principal: null });
  t.strictSame(r, { ok: false, conflicts: [anc, below] });
});

t.test('covering and below', async (t) => {
  const { m } = setup();
  const root0 = take(m, '/', 'shared', '0');
  const aInf = take(m, '/a', 'shared', 'infinity');
  const ab0 = take(m, '/a/b', 'shared', '0');
  const abcInf = take(m, '/a/b/c', 'shared', 'infinity');
  const x = take(m, '/ab', 'shared', 'infinity');
  t.strictSame(tokens(m.covering('/')), tokens([root0]));
  t.strictSame(tokens(m.covering('/a')), tokens([aInf]));
  t.strictSame(tokens(m.covering('/a/b')), tokens([aInf, ab0]));
  t.strictSame(tokens(m.covering('/a/b/zz')), tokens([aInf]), 'depth-0 /a/b does not cover its member');
  t.strictSame(tokens(m.covering('/a/b/c/d/e')), tokens([aInf, abcInf]));
  t.strictSame(tokens(m.covering('/abc')), [], 'prefix of a name is not an ancestor');
  t.strictSame(tokens(m.covering('/ab/q')), tokens([x]));
  t.strictSame(tokens(m.below('/')), tokens([aInf, ab0, abcInf, x]));
  t.strictSame(tokens(m.below('/a')), tokens([ab0, abcInf]));
  t.strictSame(tokens(m.below('/a/b/c')), []);
  t.strictSame(tokens(m.below('/zzz')), []);
});

t.test('timeouts granted (RFC 4918 §10.7, issue 3: Infinite capped by config)', async (t) => {
  const { m } = setup();
  const cases: [number | null | undefined, number][] = [
    [undefined, 600],
    [100, 100],
    [3600, 3600],
    [3601, 3600],
    [4294967295, 3600],
    [null, 3600],
    [0, 1],
    [2.7, 2],
  ];
  for (const [req, granted] of cases) {
    const l = take(m, `/t${String(req)}`, 'exclusive', '0', req);
    t.equal(l.timeoutS, granted, `requested ${String(req)}`);
    t.equal(l.expiresAt, T0 + granted * 1000, `requested ${String(req)}: expiry`);
  }
  const { m: small } = setup({ maxTimeoutS: 60, defaultTimeoutS: 600 });
  t.equal(take(small, '/d', 'exclusive', '0').timeoutS, 60, 'default capped by max');
});

t.test('maxTimeoutS Infinity grants Infinite as a lock that never expires', async (t) => {
  const { m, clock } = setup({ maxTimeoutS: Infinity });
  const l = take(m, '/i', 'exclusive', '0', null);
  t.equal(l.timeoutS, null);
  t.equal(l.expiresAt, null);
  t.equal(take(m, '/j', 'exclusive', '0', 5000).timeoutS, 5000);
  clock.now += 1e12;
  t.strictSame(tokens(m.covering('/i')), [l.token]);
  t.equal(m.sweep(), 1, 'only /j expired');
  t.equal(m.size, 1);
});

t.test('options are validated', async (t) => {
  const store = new MemoryLockStore();
  for (const bad of [0, -1, NaN]) {
    t.throws(() => new LockManager(store, { maxTimeoutS: bad, defaultTimeoutS: 1 }), { name: 'RangeError', message: /maxTimeoutS/ });
    t.throws(() => new LockManager(store, { maxTimeoutS: 10, defaultTimeoutS: bad }), { name: 'RangeError', message: /defaultTimeoutS/ });
  }
  t.throws(() => new LockManager(store, { maxTimeoutS: 10, defaultTimeoutS: Infinity }), { name: 'RangeError', message: /defaultTimeoutS/ });
});

t.test('expired locks are never returned and stop conflicting', async (t) => {
  const { m, clock, store } = setup();
  const l = take(m, '/a', 'exclusive', 'infinity', 10);
  clock.now = T0 + 9_999;
  t.strictSame(tokens(m.covering('/a/x')), [l.token], '1 ms before expiry');
  t.equal(m.size, 1);
  clock.now = T0 + 10_000;
  t.strictSame(m.covering('/a'), []);
  t.strictSame(m.covering('/a/x'), []);
  t.strictSame(m.below('/'), []);
  t.equal(m.size, 0);
  t.equal(m.refresh(l.token, '/a', 100), undefined);
  t.equal(m.unlock(l.token, '/a'), undefined);
  t.equal(store.get(l.token), l, 'still in the store until swept');
  t.equal(m.lock({ key: '/a/x', rootIsCollection: false, depth: '0', scope: 'exclusive', owner: null, timeoutS: 10, principal: null }).ok, true);
  t.equal(m.sweep(), 1);
  t.equal(store.get(l.token), undefined);
  t.equal(m.sweep(), 0);
  t.equal(m.size, 1);
});

t.test('refresh restarts the timeout from now, by the same rules', async (t) => {
  const { m, clock, store } = setup();
  const l = take(m, '/c', 'shared', 'infinity', 100);
  clock.now = T0 + 50_000;
  const r = m.refresh(l.token, '/c', 200);
  t.strictSame(r, { ...l, timeoutS: 200, expiresAt: T0 + 250_000 });
  t.equal(store.get(l.token), r, 'stored');
  t.equal(Object.isFrozen(r), true);
  clock.now = T0 + 150_000;
  t.strictSame(tokens(m.covering('/c')), [l.token], 'alive past the original expiry');
  t.equal(m.refresh(l.token, '/c/member/deep', undefined)?.expiresAt, T0 + 150_000 + 600_000, 'member of a depth-infinity lock; default timeout');
  t.equal(m.refresh(l.token, '/c', null)?.timeoutS, 3600, 'Infinite capped');
  t.equal(m.refresh(l.token, '/d', 10), undefined, 'outside the lock');
  t.equal(m.refresh('urn:uuid:nope', '/c', 10), undefined, 'unknown token');
  const zero = take(m, '/z', 'exclusive', '0', 10);
  t.equal(m.refresh(zero.token, '/z/m', 10), undefined, 'depth 0 does not cover a member');
  t.equal(m.refresh(zero.token, '/z', 10)?.expiresAt, T0 + 160_000);
});

t.test('unlock scope rules (RFC 4918 §9.11)', async (t) => {
  const { m } = setup();
  const inf = take(m, '/c', 'exclusive', 'infinity');
  const zero = take(m, '/d', 'exclusive', '0');
  t.equal(m.unlock(inf.token, '/d'), undefined, 'Request-URI outside the lock');
  t.equal(m.unlock(zero.token, '/c'), undefined, 'token of another lock');
  t.equal(m.unlock(zero.token, '/d/x'), undefined, 'member of a depth-0 lock');
  t.equal(m.unlock('urn:uuid:unknown', '/c'), undefined);
  t.equal(m.size, 2, 'nothing removed so far');
  t.equal(m.unlock(inf.token, '/c/x/y'), inf, 'member of a depth-infinity lock');
  t.equal(m.unlock(inf.token, '/c'), undefined, 'already gone');
  t.equal(m.unlock(zero.token, '/d'), zero);
  t.equal(m.size, 0);
});

t.test('removeAtOrBelow ends locks at and below the key only (RFC 4918 §7.5, §9.6)', async (t) => {
  const { m, clock } = setup();
  const root = take(m, '/', 'shared', '0');
  const a = take(m, '/a', 'shared', 'infinity');
  const ab = take(m, '/a/b', 'shared', '0');
  take(m, '/a/b/e', 'shared', '0', 1); // expires at T0 + 1 s
  const abc = take(m, '/a/b/c', 'shared', 'infinity');
  const prefix = take(m, '/ab', 'shared', '0');
  const x = take(m, '/x', 'shared', '0');
  clock.now = T0 + 1_000;
  t.strictSame(tokens(m.removeAtOrBelow('/a')), tokens([a, ab, abc]), 'expired /a/b/e is not returned');
  t.equal(m.sweep(), 0, 'the expired one was dropped too');
  t.strictSame(tokens(m.below('/')), tokens([prefix, x]));
  t.strictSame(tokens(m.covering('/')), tokens([root]));
  t.strictSame(m.removeAtOrBelow('/a'), []);
  t.strictSame(tokens(m.removeAtOrBelow('/')), tokens([root, prefix, x]));
  t.equal(m.size, 0);
});

t.test('MemoryLockStore', async (t) => {
  const s = new MemoryLockStore();
  const l: ActiveLock = { token: 'urn:uuid:1', root: '/a', rootIsCollection: false, depth: '0', scope: 'shared', owner: null, timeoutS: 1, expiresAt: 1, principal: null };
  t.equal(s.get('urn:uuid:1'), undefined);
  s.put(l);
  t.equal(s.get('urn:uuid:1'), l);
  const l2 = { ...l, expiresAt: 2 };
  s.put(l2);
  t.strictSame([...s.all()], [l2], 'put replaces');
  s.delete('urn:uuid:1');
  s.delete('urn:uuid:1');
  t.strictSame([...s.all()], []);
});

t.test('parseTimeoutHeader (RFC 4918 §10.7)', async (t) => {
  const cases: [string | undefined, number | null | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['Infinite', null],
    ['infinite', null],
    ['Second-100', 100],
    ['second-100', 100],
    ['SECOND-7', 7],
    ['Second-0', 0],
    ['Second-0010', 10],
    ['Infinite, Second-4100000000', null],
    ['Second-4100000000, Infinite', 4100000000],
    ['Second-99999999999', 4294967295],
    ['Second-abc, Second-5', 5],
    ['Second-, Infinite', null],
    [' , Second-7 ', 7],
    ['Extended-1, Second-3', 3],
    ['Second-1.5', undefined],
    ['Second--1', undefined],
    ['Second-+1', undefined],
    ['Seconds-10', undefined],
    ['Second-10 Infinite', undefined],
    ['Second- 10', undefined],
    ['garbage', undefined],
  ];
  for (const [v, want] of cases) t.equal(parseTimeoutHeader(v), want, JSON.stringify(v));
});
