import t from 'tap';
import { formatIfHeader, lockTokensOf, parseIfHeader } from '../../src/dav/if-header.js';

const T1 = 'urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2';
const T2 = 'opaquelocktoken:e454f3f3-acdc-452a-56c7-00a0c91e4b7e';

t.test('untagged lists (RFC 4918 §10.4.6 example)', async (t) => {
  const h = parseIfHeader(`(<${T1}> ["I am an ETag"]) (["I am another ETag"])`);
  t.strictSame(h, {
    lists: [
      {
        conditions: [
          { not: false, kind: 'token', value: T1 },
          { not: false, kind: 'etag', value: '"I am an ETag"' },
        ],
      },
      { conditions: [{ not: false, kind: 'etag', value: '"I am another ETag"' }] },
    ],
  });
  t.equal(formatIfHeader(h), `(<${T1}> ["I am an ETag"]) (["I am another ETag"])`);
});

t.test('Not, DAV:no-lock, weak etags and whitespace variants', async (t) => {
  const h = parseIfHeader(`\t(  Not<${T1}>\tnot   <DAV:no-lock>  [W/"x y"] )(NOT [""])`);
  t.strictSame(h.lists, [
    {
      conditions: [
        { not: true, kind: 'token', value: T1 },
        { not: true, kind: 'token', value: 'DAV:no-lock' },
        { not: false, kind: 'etag', value: 'W/"x y"' },
      ],
    },
    { conditions: [{ not: true, kind: 'etag', value: '""' }] },
  ]);
  t.equal(formatIfHeader(h), `(Not <${T1}> Not <DAV:no-lock> [W/"x y"]) (Not [""])`);
});

t.test('tagged lists, several resources, several lists per resource', async (t) => {
  const v = `<http://gw/a%20b> (<${T1}>) (Not <DAV:no-lock> ["e"]) </c/d> (<${T2}>)`;
  const h = parseIfHeader(v);
  t.strictSame(
    h.lists.map((l) => [l.resource, l.conditions.length]),
    [
      ['http://gw/a%20b', 1],
      ['http://gw/a%20b', 2],
      ['/c/d', 1],
    ],
  );
  t.equal(formatIfHeader(h), v);
  t.strictSame(parseIfHeader(formatIfHeader(h)), h, 'round trip');
  t.strictSame(lockTokensOf(h), [T1, T2]);
});

t.test('an entity-tag may contain ] and spaces inside its quotes', async (t) => {
  const h = parseIfHeader('([ "a]b" ] [W/"c d"])');
  t.strictSame(h.lists[0]!.conditions.map((c) => c.value), ['"a]b"', 'W/"c d"']);
  t.equal(formatIfHeader(h), '(["a]b"] [W/"c d"])');
});

t.test('lockTokensOf skips Not, etags, DAV:no-lock and duplicates', async (t) => {
  t.strictSame(lockTokensOf(parseIfHeader(`(<${T1}>) (Not <${T2}>) (<${T1}> ["e"]) (<DAV:no-lock>)`)), [T1]);
});

t.test('malformed headers are BAD_HEADER', async (t) => {
  for (const bad of [
    '',
    '   ',
    '()',
    '(<a>',
    '(<a> ',
    '<http://x/a>',
    '<http://x/a> (<t>) <http://x/b>',
    '(<t>) <http://x/a> (<u>)',
    '<http://x/a> (<t>) (<u>) x',
    '(<>)',
    '(<a b>)',
    '(["a"x])',
    '(["unterminated)',
    '([noquotes])',
    '([w/"lowercase-weak"])',
    '(Nothing)',
    '(Not)',
    '(token)',
    '<http://x/a><http://x/b> (<t>)',
  ]) {
    t.throws(() => parseIfHeader(bad), { code: 'DAVGATE_BAD_HEADER', statusCode: 400, message: /^invalid header: If: / }, JSON.stringify(bad));
  }
});
