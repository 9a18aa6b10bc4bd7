import t from 'tap';
import { parseIfHeader } from '../../src/dav/if-header.js';
import {
  evaluateIf,
  ifHeaderKeys,
  ifHeaderNeedsEtags,
  missingLockTokens,
  type ResourceState,
} from '../../src/locks/if-eval.js';
import type { ActiveLock, LockScope } from '../../src/locks/manager.js';

const T1 = 'urn:uuid:11111111-1111-4111-8111-111111111111';
const T2 = 'urn:uuid:22222222-2222-4222-8222-222222222222';

// The gateway's view: /a is locked by T1 (etag "e1"), /b is unlocked with a weak etag, /c is locked by T2
// and its upstream sends an unquoted etag (/d a weak one), /new is unmapped but inside T1's depth-infinity lock,
// /gone is unmapped and unlocked.
const STATES: Record<string, ResourceState> = {
  '/a': { exists: true, etag: '"e1"', lockTokens: [T1] },
  '/b': { exists: true, etag: 'W/"e2"', lockTokens: [] },
  '/c': { exists: true, etag: 'e3', lockTokens: [T2] },
  '/d': { exists: true, etag: 'W/e4', lockTokens: [] },
  '/new': { exists: false, etag: null, lockTokens: [T1] },
  '/gone': { exists: false, etag: '"e1"', lockTokens: [] },
};

function state(key: string): ResourceState {
  const s = STATES[key];
  if (s === undefined) throw new Error(`state asked for ${key}`);
  return s;
}

/** Absolute paths and http://gw/ URLs are ours; anything else is another server. */
function resolve(url: string): string | null {
  if (url.startsWith('http://gw/')) return url.slice('http://gw'.length);
  if (url.startsWith('/')) return url;
  return null;
}

// Columns: If header, request key, expected result.
const TABLE: [string, string, boolean][] = [
  // untagged state tokens
  [`(<${T1}>)`, '/a', true],
  [`(<${T1}>)`, '/b', false],
  [`(<${T2}>)`, '/a', false],
  [`(Not <${T1}>)`, '/b', true],
  [`(Not <${T1}>)`, '/a', false],
  // DAV:no-lock never matches (§10.4.8)
  ['(<DAV:no-lock>)', '/a', false],
  ['(Not <DAV:no-lock>)', '/b', true],
  [`(<${T2}>) (Not <DAV:no-lock>)`, '/a', true],
  // several lists are ORed, conditions of a list ANDed (§10.4.3)
  [`(<${T1}> ["e1"])`, '/a', true],
  [`(<${T1}> ["e2"])`, '/a', false],
  ['(["x"]) (["e1"])', '/a', true],
  ['(["x"]) (["y"])', '/a', false],
  ['(["e1"] ["x"])', '/a', false],
  ['(["e1"] Not ["x"])', '/a', true],
  // entity tags: W/ must match exactly; an unquoted upstream etag is normalised
  ['(["e1"])', '/a', true],
  ['(Not ["e1"])', '/a', false],
  ['([W/"e1"])', '/a', false],
  ['([W/"e2"])', '/b', true],
  ['(["e2"])', '/b', false],
  ['(["e3"])', '/c', true],
  ['([W/"e3"])', '/c', false],
  ['([W/"e4"])', '/d', true],
  ['(["e4"])', '/d', false],
  // unmapped URLs: no etag even if one is reported, tokens of covering locks match (§10.4.4, §10.4.11)
  ['(["e1"])', '/gone', false],
  ['(Not ["e1"])', '/gone', true],
  [`(<${T1}>)`, '/new', true],
  [`(<${T1}> Not ["e1"])`, '/new', true],
  // tagged lists are evaluated against their own resource (§10.4.2, §10.4.4)
  [`</a> (<${T1}>)`, '/b', true],
  [`</b> (<${T1}>)`, '/a', false],
  [`<http://gw/a> (<${T1}>)`, '/b', true],
  [`<http://gw/c> (<${T1}>) (<${T2}>)`, '/a', true],
  [`</b> (<${T1}>) </a> (["e1"])`, '/b', true],
  [`</a> (["nope"]) </b> ([W/"e2"])`, '/c', true],
  [`</a> (["nope"]) </b> (["e2"])`, '/b', false],
  [`</gone> (Not <${T1}>)`, '/a', true],
  // a tag we cannot resolve (another server): its lists are false, Not included
  [`<http://other/a> (<${T1}>)`, '/a', false],
  [`<http://other/a> (Not <${T1}>)`, '/a', false],
  ['<http://other/a> (Not <DAV:no-lock>)', '/a', false],
  [`<http://other/a> (<${T1}>) </a> (<${T1}>)`, '/b', true],
];

t.test('If evaluation decision table (RFC 4918 §10.4.3, §10.4.4)', async (t) => {
  for (const [header, key, want] of TABLE) {
    t.equal(evaluateIf(parseIfHeader(header), key, resolve, state), want, `${header} on ${key}`);
  }
});

t.test('state is asked once per key, only for keys ifHeaderKeys names', async (t) => {
  const h = parseIfHeader(`</c> (["x"]) </a> (["y"]) <http://other/z> (["q"]) </c> (["z"]) </a> (["w"])`);
  const asked: string[] = [];
  const r = evaluateIf(h, '/b', resolve, (k) => {
    asked.push(k);
    return state(k);
  });
  t.equal(r, false);
  t.strictSame(asked, ['/c', '/a']);
  t.strictSame(ifHeaderKeys(h, '/b', resolve), ['/c', '/a']);
});

t.test('evaluation stops at the first true list', async (t) => {
  const asked: string[] = [];
  const r = evaluateIf(parseIfHeader(`</a> (<${T1}>) </c> (<${T2}>)`), '/b', resolve, (k) => {
    asked.push(k);
    return state(k);
  });
  t.equal(r, true);
  t.strictSame(asked, ['/a']);
});

t.test('ifHeaderKeys', async (t) => {
  t.strictSame(ifHeaderKeys(parseIfHeader(`(<${T1}>) (["e"])`), '/r', resolve), ['/r'], 'untagged: the request key');
  t.strictSame(
    ifHeaderKeys(parseIfHeader(`</x> (<${T1}>) <http://gw/y> (["e"]) <http://other/z> (["e"]) </x> (["f"])`), '/r', resolve),
    ['/x', '/y'],
    'tagged: resolved tags, unique, foreign ones skipped, request key not added',
  );
  t.strictSame(ifHeaderKeys(parseIfHeader('<http://other/z> (["e"])'), '/r', resolve), []);
});

t.test('ifHeaderNeedsEtags', async (t) => {
  t.equal(ifHeaderNeedsEtags(parseIfHeader(`(<${T1}>) (Not <DAV:no-lock>)`)), false);
  t.equal(ifHeaderNeedsEtags(parseIfHeader(`(<${T1}>) (Not ["x"])`)), true);
  t.equal(ifHeaderNeedsEtags(parseIfHeader(`</a> (<${T1}>) </b> ([W/"x"])`)), true);
});

function lock(token: string, root: string, scope: LockScope, depth: '0' | 'infinity' = '0'): ActiveLock {
  return { token, root, rootIsCollection: true, depth, scope, owner: null, timeoutS: 60, expiresAt: 1, principal: null };
}

t.test('missingLockTokens: exclusive locks need their own token', async (t) => {
  const e1 = lock('urn:e1', '/p', 'exclusive', 'infinity');
  const e2 = lock('urn:e2', '/p/q', 'exclusive');
  t.strictSame(missingLockTokens([e1], new Set()), [e1]);
  t.strictSame(missingLockTokens([e1], new Set(['urn:e1'])), []);
  t.strictSame(missingLockTokens([e1], new Set(['urn:other'])), [e1]);
  t.strictSame(missingLockTokens([e1, e2], new Set(['urn:e2'])), [e1]);
  t.strictSame(missingLockTokens([e1, e2], new Set(['urn:e1'])), [e2], 'an ancestor lock token does not satisfy a lock below');
  t.strictSame(missingLockTokens([e1, e2], new Set(['urn:e1', 'urn:e2'])), []);
  t.strictSame(missingLockTokens([], new Set(['urn:e1'])), []);
});

t.test('missingLockTokens: one shared token satisfies every shared lock covering the resource', async (t) => {
  const s1 = lock('urn:s1', '/a', 'shared');
  const s2 = lock('urn:s2', '/a', 'shared', 'infinity');
  const s3 = lock('urn:s3', '/', 'shared', 'infinity');
  const e = lock('urn:e', '/a', 'exclusive');
  t.strictSame(missingLockTokens([s1, s2], new Set()), [s1, s2]);
  t.strictSame(missingLockTokens([s1, s2], new Set(['urn:s1'])), []);
  t.strictSame(missingLockTokens([s1, s2], new Set(['urn:s2'])), []);
  t.strictSame(missingLockTokens([s3, s1, s2], new Set(['urn:s1'])), [], 'regression: a shared lock on another root covering the resource is satisfied too');
  t.strictSame(missingLockTokens([s3, s1, s2], new Set(['urn:s3'])), [], 'and the other way round');
  t.strictSame(missingLockTokens([s1, e], new Set(['urn:s1'])), [e], 'a shared token does not satisfy an exclusive lock');
  t.strictSame(missingLockTokens([s1, e], new Set(['urn:e'])), [s1], 'nor an exclusive token a shared lock');
  t.strictSame(missingLockTokens([s1, s2, s1], new Set()), [s1, s2], 'duplicates reported once, in order');
});
