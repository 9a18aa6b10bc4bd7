/**
 * Byte-range decisions (src/proxy/range.ts) against RFC 9110 §14.1.1–§14.1.2 (grammar, the §14.1.2 examples on a
 * 10000-byte representation), §13.1.5 (If-Range), §14.2 (ignoring Range), §15.5.17 (416 Content-Range).
 */
import t from 'tap';
import {
  answerWithSize,
  firstRequest,
  ifRangeHolds,
  parseContentRange,
  parseRangeHeader,
  partAnswersSpec,
  rangeValue,
  resolveRange,
  type ByteRangeSpec,
  type RangeHeader,
} from '../../src/proxy/range.js';

const MAX = Number.MAX_SAFE_INTEGER;

/** Parses a header that must hold one range-spec. */
function single(value: string): ByteRangeSpec {
  const h = parseRangeHeader(value);
  if (h.kind !== 'single') throw new Error(`${value} parsed as ${JSON.stringify(h)}`);
  return h.spec;
}

t.test('§14.1.2 examples on a 10000-byte representation', async (t) => {
  const size = 10000;
  const cases: [string, string, number, number][] = [
    ['the first 500 bytes', 'bytes=0-499', 0, 499],
    ['the second 500 bytes', 'bytes=500-999', 500, 999],
    ['the final 500 bytes (suffix)', 'bytes=-500', 9500, 9999],
    ['the final 500 bytes (open int-range)', 'bytes=9500-', 9500, 9999],
  ];
  for (const [name, value, start, end] of cases) {
    t.same(resolveRange(single(value), size), { kind: 'part', start, end }, `${name}: ${value}`);
  }
  // The other §14.1.2 examples name several ranges, which davgate ignores (200 with the whole file, §14.2).
  for (const value of ['bytes=0-0,-1', 'bytes=500-600,601-999', 'bytes=500-700,601-999']) {
    t.same(parseRangeHeader(value), { kind: 'ignored', why: 'multiple' }, value);
  }
});

t.test('parsing (§14.1.1 grammar)', async (t) => {
  const table: [string | undefined, RangeHeader][] = [
    [undefined, { kind: 'absent' }],
    ['bytes=0-499', { kind: 'single', spec: { kind: 'int', first: 0, last: 499 } }],
    ['bytes=9500-', { kind: 'single', spec: { kind: 'int', first: 9500, last: null } }],
    ['bytes=-500', { kind: 'single', spec: { kind: 'suffix', length: 500 } }],
    ['bytes=-0', { kind: 'single', spec: { kind: 'suffix', length: 0 } }],
    ['BYTES=5-5', { kind: 'single', spec: { kind: 'int', first: 5, last: 5 } }],
    // §5.6.1: OWS around list elements and empty elements are accepted.
    ['bytes= 3-4 ,', { kind: 'single', spec: { kind: 'int', first: 3, last: 4 } }],
    ['bytes=,,-7', { kind: 'single', spec: { kind: 'suffix', length: 7 } }],
    // Huge positions are clamped, keeping their meaning (unsatisfiable start, "to the end", "the whole file").
    ['bytes=99999999999999999999-', { kind: 'single', spec: { kind: 'int', first: MAX, last: null } }],
    ['bytes=0-99999999999999999999', { kind: 'single', spec: { kind: 'int', first: 0, last: MAX } }],
    ['bytes=-99999999999999999999', { kind: 'single', spec: { kind: 'suffix', length: MAX } }],
    ['items=0-5', { kind: 'ignored', why: 'unit' }],
    ['none=0-5', { kind: 'ignored', why: 'unit' }],
    ['bytes', { kind: 'ignored', why: 'invalid' }],
    ['bytes=', { kind: 'ignored', why: 'invalid' }],
    ['bytes=-', { kind: 'ignored', why: 'invalid' }],
    ['bytes=a-b', { kind: 'ignored', why: 'invalid' }],
    ['bytes=1-2-3', { kind: 'ignored', why: 'invalid' }],
    ['bytes=+1-2', { kind: 'ignored', why: 'invalid' }],
    // §14.1.1: last-pos below first-pos makes the range-spec invalid, compared before any clamping.
    ['bytes=5-4', { kind: 'ignored', why: 'invalid' }],
    ['bytes=99999999999999999999-9999999999999999999', { kind: 'ignored', why: 'invalid' }],
    ['bytes=0-1,5-4', { kind: 'ignored', why: 'invalid' }],
    ['bytes=0-1,2-3', { kind: 'ignored', why: 'multiple' }],
  ];
  for (const [value, expected] of table) t.same(parseRangeHeader(value), expected, String(value));
});

t.test('resolving against a size (§14.1.1 satisfiable, §14.1.2 clamping)', async (t) => {
  const table: [string, number, ReturnType<typeof resolveRange>][] = [
    ['bytes=0-9', 10, { kind: 'part', start: 0, end: 9 }],
    ['bytes=2-100', 10, { kind: 'part', start: 2, end: 9 }],
    ['bytes=9-9', 10, { kind: 'part', start: 9, end: 9 }],
    ['bytes=0-', 10, { kind: 'part', start: 0, end: 9 }],
    ['bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['bytes=10-20', 10, { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999-', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-3', 10, { kind: 'part', start: 7, end: 9 }],
    ['bytes=-10', 10, { kind: 'part', start: 0, end: 9 }],
    ['bytes=-11', 10, { kind: 'part', start: 0, end: 9 }],
    ['bytes=-99999999999999999999', 10, { kind: 'part', start: 0, end: 9 }],
    ['bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['bytes=-0', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'empty' }],
  ];
  for (const [value, size, expected] of table) t.same(resolveRange(single(value), size), expected, `${value} of ${size}`);
});

t.test('the first request to a 坚果云 account', async (t) => {
  t.same(firstRequest(parseRangeHeader(undefined)), { kind: 'as-is' });
  t.same(firstRequest(parseRangeHeader('bytes=0-1,3-4')), { kind: 'whole' });
  t.same(firstRequest(parseRangeHeader('pages=1-2')), { kind: 'whole' });
  t.same(firstRequest(parseRangeHeader('bytes=5-1')), { kind: 'whole' });
  t.same(firstRequest(parseRangeHeader('bytes = 2-5')), {
    kind: 'range',
    range: 'bytes=2-5',
    spec: { kind: 'int', first: 2, last: 5 },
  }, 'an int-range goes as it is (normalised): one request when in bounds');
  t.same(firstRequest(parseRangeHeader('bytes=7-')), { kind: 'range', range: 'bytes=7-', spec: { kind: 'int', first: 7, last: null } });
  t.same(firstRequest(parseRangeHeader('bytes=-4')), { kind: 'size-first', spec: { kind: 'suffix', length: 4 } }, 'a suffix needs the size');
  t.equal(rangeValue({ kind: 'suffix', length: 4 }), 'bytes=-4');
});

t.test('If-Range (§13.1.5): strong, exact comparison; dates never hold', async (t) => {
  t.ok(ifRangeHolds('rErap3U7trvdPsbTKxpZxg', 'rErap3U7trvdPsbTKxpZxg'), 'bare token, as 坚果云 sends');
  t.ok(ifRangeHolds('"abc"', '"abc"'));
  t.ok(ifRangeHolds(' "abc" ', '"abc"'));
  t.notOk(ifRangeHolds('W/"abc"', 'W/"abc"'), 'weak never matches strongly');
  t.notOk(ifRangeHolds('"abc"', '"abd"'));
  t.notOk(ifRangeHolds('"abc"', undefined), 'unknown ETag');
  t.notOk(ifRangeHolds('Sat, 29 Oct 1994 19:43:31 GMT', '"abc"'), 'an HTTP-date');
});

t.test('deciding once the size is known', async (t) => {
  const base = { size: 10, etag: 'E1', ifRange: undefined, unevaluatedPreconditions: false };
  t.same(answerWithSize({ ...base, spec: single('bytes=2-100') }), {
    kind: 'part',
    range: 'bytes=2-9',
    ifRange: 'E1',
    contentRange: 'bytes 2-9/10',
  }, 'clamped, guarded by the learned ETag');
  t.same(answerWithSize({ ...base, spec: single('bytes=-3') }), {
    kind: 'part',
    range: 'bytes=7-9',
    ifRange: 'E1',
    contentRange: 'bytes 7-9/10',
  }, 'a suffix becomes an int-range the vendor reads right');
  t.same(answerWithSize({ ...base, spec: single('bytes=-30') }), {
    kind: 'part',
    range: 'bytes=0-9',
    ifRange: 'E1',
    contentRange: 'bytes 0-9/10',
  }, 'a suffix longer than the file: all of it, as a 206');
  t.same(answerWithSize({ ...base, spec: single('bytes=10-') }), { kind: 'unsatisfiable', contentRange: 'bytes */10' });
  t.same(answerWithSize({ ...base, spec: single('bytes=-0') }), { kind: 'unsatisfiable', contentRange: 'bytes */10' });
  t.same(answerWithSize({ ...base, size: 0, spec: single('bytes=0-') }), { kind: 'unsatisfiable', contentRange: 'bytes */0' });
  t.same(answerWithSize({ ...base, size: 0, spec: single('bytes=-5') }), { kind: 'whole' }, 'suffix of an empty file: 200');
  t.same(
    answerWithSize({ ...base, spec: single('bytes=-0'), unevaluatedPreconditions: true }),
    { kind: 'whole' },
    'no local 416 ahead of If-None-Match & co (§13.2.2)',
  );
  t.same(answerWithSize({ ...base, etag: undefined, spec: single('bytes=2-100') }), { kind: 'whole' }, 'no ETag to guard with');
  t.same(answerWithSize({ ...base, etag: undefined, spec: single('bytes=20-') }), {
    kind: 'unsatisfiable',
    contentRange: 'bytes */10',
  }, 'a 416 returns no bytes, so it needs no ETag');
  t.same(answerWithSize({ ...base, ifRange: 'E0', spec: single('bytes=2-100') }), { kind: 'whole' }, 'If-Range fails: 200');
  t.same(answerWithSize({ ...base, ifRange: 'E0', spec: single('bytes=20-') }), { kind: 'whole' }, 'If-Range fails before 416');
  t.same(answerWithSize({ ...base, ifRange: 'E1', spec: single('bytes=2-100') }), {
    kind: 'part',
    range: 'bytes=2-9',
    ifRange: 'E1',
    contentRange: 'bytes 2-9/10',
  }, 'If-Range holds');
});

t.test('parseContentRange: the three forms of RFC 9110 §14.4', async (t) => {
  t.same(parseContentRange('bytes 0-499/1234'), { kind: 'part', first: 0, last: 499, complete: 1234 });
  t.same(parseContentRange('bytes 5-9/*'), { kind: 'part', first: 5, last: 9, complete: undefined });
  t.same(parseContentRange('bytes */10'), { kind: 'unsatisfied', complete: 10 });
  t.same(parseContentRange('Bytes */10'), { kind: 'unsatisfied', complete: 10 }, 'unit case-insensitive');
  t.equal(parseContentRange(undefined), undefined);
  t.equal(parseContentRange('bytes 1-2'), undefined);
  t.equal(parseContentRange('items 1-2/3'), undefined);
});

t.test('partAnswersSpec: a 206 must be the satisfiable range asked for', async (t) => {
  const int = (first: number, last: number | null) => ({ kind: 'int' as const, first, last });
  t.ok(partAnswersSpec(int(0, 4), parseContentRange('bytes 0-4/10')));
  t.ok(partAnswersSpec(int(5, null), parseContentRange('bytes 5-9/10')));
  t.ok(partAnswersSpec(int(5, 100), parseContentRange('bytes 5-9/*')), 'clamped, unknown length');
  t.notOk(partAnswersSpec(int(10, null), parseContentRange('bytes 10-9/*')), 'webdav-server past the end: last < first');
  t.notOk(partAnswersSpec(int(100, 200), parseContentRange('bytes 9-9/*')), 'webdav-server: another part');
  t.notOk(partAnswersSpec(int(0, 4), parseContentRange('bytes 0-9/10')), 'more than asked');
  t.notOk(partAnswersSpec(int(0, 4), parseContentRange('bytes 0-10/10')), 'past the complete length');
  t.notOk(partAnswersSpec(int(0, 4), parseContentRange('bytes */10')));
  t.notOk(partAnswersSpec(int(0, 4), undefined), 'no Content-Range');
  t.ok(partAnswersSpec({ kind: 'suffix', length: 3 }, parseContentRange('bytes 7-9/10')));
  t.ok(partAnswersSpec({ kind: 'suffix', length: 30 }, parseContentRange('bytes 0-9/10')), 'suffix longer than the file');
  t.notOk(partAnswersSpec({ kind: 'suffix', length: 3 }, parseContentRange('bytes 0-2/10')), 'the start, as 坚果云 misreads it');
  t.notOk(partAnswersSpec({ kind: 'suffix', length: 0 }, parseContentRange('bytes 10-9/*')));
});
