/**
 * Conditional request evaluation (src/proxy/conditionals.ts) against RFC 9110 §8.8.3 (entity-tags, the §8.8.3.2
 * comparison table), §13.1.1–§13.1.4 (the four conditional headers), §13.2.2 (order of evaluation) and §5.6.7
 * (HTTP-date), plus the bare ETags 坚果云 sends (jianguoyun.md §4 "ETag format").
 */
import t from 'tap';
import {
  conditionalHeadersOf,
  evaluateConditionals,
  parseEntityTag,
  parseEntityTagCondition,
  parseHttpDate,
  strongMatch,
  weakMatch,
  withoutConditionals,
  type CurrentState,
} from '../../src/proxy/conditionals.js';

t.test('§8.8.3.2 comparison table', async (t) => {
  const tag = (s: string) => parseEntityTag(s)!;
  const rows: [string, string, boolean, boolean][] = [
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', '"1"', true, true],
  ];
  for (const [a, b, strong, weak] of rows) {
    t.equal(strongMatch(tag(a), tag(b)), strong, `strong ${a} ${b}`);
    t.equal(weakMatch(tag(a), tag(b)), weak, `weak ${a} ${b}`);
  }
});

t.test("a vendor's bare tag and the client's quoted tag are the same", async (t) => {
  t.same(parseEntityTag('rErap3U7trvdPsbTKxpZxg'), { weak: false, opaque: 'rErap3U7trvdPsbTKxpZxg' });
  t.ok(strongMatch(parseEntityTag('abc')!, parseEntityTag('"abc"')!));
  t.same(parseEntityTag('W/abc'), { weak: true, opaque: 'abc' });
  t.same(parseEntityTag('""'), { weak: false, opaque: '' }, 'an empty quoted tag is a tag');
  t.equal(parseEntityTag('  '), undefined);
});

t.test('If-Match / If-None-Match values', async (t) => {
  t.same(parseEntityTagCondition('*'), { kind: 'any' });
  t.same(parseEntityTagCondition(' * '), { kind: 'any' });
  t.same(parseEntityTagCondition('"a", W/"b",  "c,d" ,bare'), {
    kind: 'list',
    tags: [
      { weak: false, opaque: 'a' },
      { weak: true, opaque: 'b' },
      { weak: false, opaque: 'c,d' },
      { weak: false, opaque: 'bare' },
    ],
  }, 'a quoted tag may hold a comma (etagc)');
  t.same(parseEntityTagCondition('"a", *'), { kind: 'any' }, 'a stray * reads as *');
  t.same(parseEntityTagCondition(''), { kind: 'list', tags: [] });
  t.same(parseEntityTagCondition('"unterminated'), { kind: 'list', tags: [{ weak: false, opaque: 'unterminated' }] });
});

t.test('§5.6.7 HTTP-date formats', async (t) => {
  const ms = Date.UTC(1994, 10, 6, 8, 49, 37);
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), ms, 'IMF-fixdate');
  t.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2026, 0, 1)), ms, 'RFC 850, past century');
  t.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), ms, 'asctime');
  t.equal(parseHttpDate('Friday, 01-Jan-70 00:00:00 GMT', Date.UTC(2026, 0, 1)), Date.UTC(2070, 0, 1), 'RFC 850: ≤ 50 years ahead stays');
  for (const bad of ['yesterday', 'Sun, 06 Nov 1994 08:49:37 UTC', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Xyz, 06 Nov 1994 08:49:37 GMT', '']) {
    t.equal(parseHttpDate(bad), undefined, `invalid: ${JSON.stringify(bad)}`);
  }
});

t.test('which headers are conditional', async (t) => {
  t.equal(conditionalHeadersOf({ range: 'bytes=0-1', 'if-range': '"x"' }), undefined, 'If-Range alone is not');
  t.same(conditionalHeadersOf({ 'if-match': ['"a"', '"b"'], 'if-none-match': '*' }), { ifMatch: '"a", "b"', ifNoneMatch: '*' });
  t.same(withoutConditionals({ 'if-match': 'a', 'if-none-match': 'b', 'if-modified-since': 'c', 'if-unmodified-since': 'd', 'if-range': 'e', range: 'f' }), {
    'if-range': 'e',
    range: 'f',
  });
});

t.test('§13.1.1 If-Match and §13.1.2 If-None-Match', async (t) => {
  const file: CurrentState = { exists: true, etag: 'abc' };
  const absent: CurrentState = { exists: false };
  const noTag: CurrentState = { exists: true };
  const v = (method: string, h: Parameters<typeof evaluateConditionals>[1], s: CurrentState) => evaluateConditionals(method, h, s).kind;
  t.equal(v('PUT', { ifMatch: '*' }, file), 'proceed', 'If-Match: * with a file');
  t.equal(v('PUT', { ifMatch: '*' }, absent), 'precondition-failed', 'If-Match: * without one');
  t.equal(v('PUT', { ifMatch: '"x", "abc"' }, file), 'proceed', 'a list holding the tag');
  t.equal(v('PUT', { ifMatch: 'W/"abc"' }, file), 'precondition-failed', 'strong comparison: a weak tag never matches');
  t.equal(v('PUT', { ifMatch: '"abc"' }, noTag), 'precondition-failed', 'no current tag: no match');
  t.equal(v('PUT', { ifNoneMatch: '*' }, file), 'precondition-failed', 'If-None-Match: * on PUT over a file → 412');
  t.equal(v('PUT', { ifNoneMatch: '*' }, absent), 'proceed', 'create-only upload of a new file');
  t.equal(v('GET', { ifNoneMatch: '*' }, file), 'not-modified', 'If-None-Match: * on GET → 304');
  t.equal(v('GET', { ifNoneMatch: 'W/"abc"' }, file), 'not-modified', 'weak comparison');
  t.equal(v('HEAD', { ifNoneMatch: '"x", abc' }, file), 'not-modified', 'a list, bare tag');
  t.equal(v('GET', { ifNoneMatch: '"x"' }, file), 'proceed');
  t.equal(v('GET', { ifNoneMatch: '"x"' }, noTag), 'proceed', 'no current tag: nothing matches');
});

t.test('§13.2.2 order of evaluation and the date conditionals', async (t) => {
  const lm = Date.UTC(2026, 0, 10, 12, 0, 0);
  const file: CurrentState = { exists: true, etag: '"abc"', lastModifiedMs: lm + 400 };
  const at = (ms: number) => new Date(ms).toUTCString();
  const v = (method: string, h: Parameters<typeof evaluateConditionals>[1], s: CurrentState = file) => evaluateConditionals(method, h, s);
  t.same(v('GET', { ifMatch: '"x"', ifNoneMatch: '"abc"' }), { kind: 'precondition-failed', header: 'If-Match' }, 'step 1 before step 3');
  t.same(v('GET', { ifMatch: '"abc"', ifNoneMatch: '"abc"' }), { kind: 'not-modified' }, 'If-Match true, then If-None-Match');
  t.same(v('PUT', { ifUnmodifiedSince: at(lm - 1000) }), { kind: 'precondition-failed', header: 'If-Unmodified-Since' });
  t.same(v('PUT', { ifUnmodifiedSince: at(lm) }), { kind: 'proceed' }, 'same second: not modified since (whole seconds)');
  t.same(v('PUT', { ifMatch: '"abc"', ifUnmodifiedSince: at(lm - 1000) }), { kind: 'proceed' }, 'ignored when If-Match is present');
  t.same(v('PUT', { ifUnmodifiedSince: 'garbage' }), { kind: 'proceed' }, 'ignored when not a date');
  t.same(v('PUT', { ifUnmodifiedSince: at(lm - 1000) }, { exists: true, etag: 'abc' }), { kind: 'proceed' }, 'ignored without a date');
  t.same(v('GET', { ifModifiedSince: at(lm) }), { kind: 'not-modified' }, 'not modified since → 304');
  t.same(v('GET', { ifModifiedSince: at(lm - 1000) }), { kind: 'proceed' });
  t.same(v('GET', { ifNoneMatch: '"x"', ifModifiedSince: at(lm) }), { kind: 'proceed' }, 'ignored when If-None-Match is present');
  t.same(v('PUT', { ifModifiedSince: at(lm) }), { kind: 'proceed' }, 'ignored for methods other than GET/HEAD');
});
