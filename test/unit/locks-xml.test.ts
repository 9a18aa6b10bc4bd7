import t from 'tap';
import { keyToGatewayHref } from '../../src/dav/href.js';
import { DAV_NS, findChild, parseXml, serializeXml } from '../../src/dav/xml.js';
import type { ActiveLock } from '../../src/locks/manager.js';
import { activeLockXml, lockDiscoveryXml, lockResponseBody, parseLockInfo, supportedLockXml } from '../../src/locks/xml.js';

const NOW = 1_700_000_000_000;
const TOKEN = 'urn:uuid:181d4fae-7d8c-41d0-a765-00a0c91e6bf2';
const OWNER = '<D:owner xmlns:D="DAV:" xmlns:x="urn:x"><x:name>Ann</x:name></D:owner>';

const EXCL: ActiveLock = {
  token: TOKEN,
  root: '/a b',
  rootIsCollection: true,
  depth: 'infinity',
  scope: 'exclusive',
  owner: OWNER,
  timeoutS: 600,
  expiresAt: NOW + 600_000,
  principal: 'ann',
};
const SHARED: ActiveLock = {
  token: 'urn:uuid:2',
  root: '/f.txt',
  rootIsCollection: false,
  depth: '0',
  scope: 'shared',
  owner: null,
  timeoutS: null,
  expiresAt: null,
  principal: null,
};

const EXCL_XML =
  '<D:activelock><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>' +
  '<D:depth>infinity</D:depth>' +
  OWNER +
  '<D:timeout>Second-600</D:timeout>' +
  `<D:locktoken><D:href>${TOKEN}</D:href></D:locktoken>` +
  '<D:lockroot><D:href>/a%20b/</D:href></D:lockroot></D:activelock>';
const SHARED_XML =
  '<D:activelock><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>' +
  '<D:depth>0</D:depth><D:timeout>Infinite</D:timeout>' +
  '<D:locktoken><D:href>urn:uuid:2</D:href></D:locktoken>' +
  '<D:lockroot><D:href>/f.txt</D:href></D:lockroot></D:activelock>';

t.test('activeLockXml (RFC 4918 §14.1)', async (t) => {
  t.equal(activeLockXml(EXCL, NOW, keyToGatewayHref), EXCL_XML);
  t.equal(activeLockXml(SHARED, NOW, keyToGatewayHref), SHARED_XML, 'no owner, Infinite, file root without slash');
});

t.test('the timeout shows the seconds left, rounded up, never negative', async (t) => {
  const at = (ms: number): string => /<D:timeout>([^<]*)<\/D:timeout>/.exec(activeLockXml(EXCL, ms, keyToGatewayHref))![1]!;
  t.equal(at(NOW), 'Second-600');
  t.equal(at(NOW + 999), 'Second-600');
  t.equal(at(NOW + 1_000), 'Second-599');
  t.equal(at(NOW + 599_999), 'Second-1');
  t.equal(at(NOW + 600_000), 'Second-0');
  t.equal(at(NOW + 700_000), 'Second-0');
});

t.test('hrefs are XML-escaped, not re-encoded', async (t) => {
  const calls: [string, boolean][] = [];
  const x = activeLockXml({ ...SHARED, root: '/a&b' }, NOW, (k, c) => {
    calls.push([k, c]);
    return `http://h${k}<`;
  });
  t.match(x, '<D:lockroot><D:href>http://h/a&amp;b&lt;</D:href></D:lockroot>');
  t.strictSame(calls, [['/a&b', false]]);
});

t.test('lockDiscoveryXml (RFC 4918 §15.8)', async (t) => {
  t.equal(lockDiscoveryXml([], NOW, keyToGatewayHref), '<D:lockdiscovery/>');
  t.equal(lockDiscoveryXml([EXCL], NOW, keyToGatewayHref), `<D:lockdiscovery>${EXCL_XML}</D:lockdiscovery>`);
  t.equal(
    lockDiscoveryXml([SHARED, EXCL], NOW, keyToGatewayHref),
    `<D:lockdiscovery>${SHARED_XML}${EXCL_XML}</D:lockdiscovery>`,
  );
});

t.test('supportedLockXml (RFC 4918 §15.10)', async (t) => {
  t.equal(
    supportedLockXml(),
    '<D:supportedlock>' +
      '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
      '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>' +
      '</D:supportedlock>',
  );
});

t.test('fragments parse inside a body that declares D:', async (t) => {
  const doc = `<D:prop xmlns:D="DAV:">${lockDiscoveryXml([EXCL, SHARED], NOW, keyToGatewayHref)}${supportedLockXml()}</D:prop>`;
  const prop = parseXml(doc);
  const ld = findChild(prop, DAV_NS, 'lockdiscovery')!;
  t.equal(ld.children.length, 2);
  t.ok(findChild(prop, DAV_NS, 'supportedlock'));
});

t.test('lockResponseBody (RFC 4918 §9.10.1)', async (t) => {
  const body = lockResponseBody(EXCL, NOW, keyToGatewayHref);
  t.equal(
    body,
    `<?xml version="1.0" encoding="utf-8"?><D:prop xmlns:D="DAV:"><D:lockdiscovery>${EXCL_XML}</D:lockdiscovery></D:prop>`,
  );
  const root = parseXml(body);
  t.equal(root.ns, DAV_NS);
  t.equal(root.local, 'prop');
});

const LOCKINFO_FOREIGN =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:lockinfo xmlns:D="DAV:" xmlns:x="urn:x"><D:lockscope><D:exclusive/></D:lockscope>' +
  '<D:locktype><D:write/></D:locktype>' +
  '<D:owner>\n  <x:name x:lang="en" a="1&amp;2">Ann &amp; Bob</x:name><D:href>http://ex/~ann</D:href>\n</D:owner>' +
  '</D:lockinfo>';
const OWNER_FOREIGN =
  '<D:owner xmlns:D="DAV:" xmlns:x="urn:x">\n  <x:name x:lang="en" a="1&amp;2">Ann &amp; Bob</x:name>' +
  '<D:href>http://ex/~ann</D:href>\n</D:owner>';

t.test('parseLockInfo keeps the owner verbatim and self-contained', async (t) => {
  const info = parseLockInfo(LOCKINFO_FOREIGN);
  t.strictSame(info, { scope: 'exclusive', owner: OWNER_FOREIGN });
  t.strictSame(
    parseLockInfo(
      '<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype>' +
        '<owner><name xmlns="urn:n">Me</name><D:x xmlns:D="urn:notdav"/></owner><extra/></lockinfo>',
    ),
    {
      scope: 'shared',
      owner: '<D:owner xmlns:D="DAV:" xmlns:ns0="urn:n" xmlns:ns1="urn:notdav"><ns0:name>Me</ns0:name><ns1:x/></D:owner>',
    },
    'default namespace and a foreign D prefix get their own prefixes',
  );
  t.strictSame(
    parseLockInfo('<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype><D:lockscope><D:shared/></D:lockscope></D:lockinfo>'),
    { scope: 'shared', owner: null },
    'no owner; child order does not matter',
  );
});

t.test('owner round trip: LOCK body in, lockdiscovery out, same owner tree', async (t) => {
  const info = parseLockInfo(LOCKINFO_FOREIGN);
  const body = lockResponseBody({ ...EXCL, owner: info.owner }, NOW, keyToGatewayHref);
  t.match(body, OWNER_FOREIGN);
  const activelock = findChild(findChild(parseXml(body), DAV_NS, 'lockdiscovery')!, DAV_NS, 'activelock')!;
  const ownerOut = findChild(activelock, DAV_NS, 'owner')!;
  const ownerIn = findChild(parseXml(LOCKINFO_FOREIGN), DAV_NS, 'owner')!;
  t.equal(serializeXml(ownerOut), serializeXml(ownerIn));
  const name = findChild(ownerOut, 'urn:x', 'name')!;
  t.strictSame(name.attrs.map((a) => [a.ns, a.local, a.value]), [
    ['urn:x', 'lang', 'en'],
    ['', 'a', '1&2'],
  ]);
  t.strictSame(name.children, ['Ann & Bob']);
});

t.test('parseLockInfo refuses what is not a write lockinfo (RFC 4918 §14.11)', async (t) => {
  const bad: [string, RegExp][] = [
    ['<D:propfind xmlns:D="DAV:"/>', /DAV:lockinfo/],
    ['<lockinfo><lockscope><exclusive/></lockscope><locktype><write/></locktype></lockinfo>', /DAV:lockinfo/],
    ['<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>', /lockscope missing/],
    ['<D:lockinfo xmlns:D="DAV:"><D:lockscope/><D:locktype><D:write/></D:locktype></D:lockinfo>', /exactly one/],
    [
      '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
      /exactly one/,
    ],
    [
      '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:local/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
      /unknown lock scope DAV:local/,
    ],
    [
      '<D:lockinfo xmlns:D="DAV:" xmlns:x="urn:x"><D:lockscope><x:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
      /exactly one DAV: element/,
    ],
    ['<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope></D:lockinfo>', /locktype missing/],
    [
      '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>',
      /unsupported lock type DAV:read/,
    ],
    ['<D:lockinfo xmlns:D="DAV:"><D:lockscope>', /./],
    ['', /./],
    ['<!DOCTYPE x [<!ENTITY a "b">]><D:lockinfo xmlns:D="DAV:"/>', /DOCTYPE/],
  ];
  for (const [body, message] of bad) {
    t.throws(() => parseLockInfo(body), { code: 'DAVGATE_BAD_XML', statusCode: 400, message }, JSON.stringify(body));
  }
  t.throws(() => parseLockInfo(LOCKINFO_FOREIGN, { maxBytes: 10 }), { code: 'DAVGATE_PAYLOAD_TOO_LARGE', statusCode: 413 });
});
