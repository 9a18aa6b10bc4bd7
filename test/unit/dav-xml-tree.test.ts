import t from 'tap';
import {
  DAV_NS,
  findChild,
  findChildren,
  parseXml,
  serializeXml,
  textOf,
  xmlElement,
  type XmlElement,
} from '../../src/dav/xml.js';

t.test('parses namespaces, attributes, text, CDATA and entities', async (t) => {
  const el = parseXml(
    '\uFEFF<?xml version="1.0" encoding="utf-8"?>\n' +
      '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><Z:a Z:x="1" y="a&amp;&quot;b">t&lt;&#x4E2D;<![CDATA[<c>]]></Z:a>' +
      '<plain xmlns=""/></D:prop></D:propfind>\n',
  );
  t.equal(el.ns, DAV_NS);
  t.equal(el.local, 'propfind');
  const prop = findChild(el, DAV_NS, 'prop')!;
  t.ok(prop);
  const a = findChild(prop, 'urn:z', 'a')!;
  t.strictSame(a.attrs, [
    { ns: 'urn:z', local: 'x', value: '1', prefix: 'Z' },
    { ns: '', local: 'y', value: 'a&"b' },
  ]);
  t.strictSame(a.children, ['t<中<c>'], 'text, entity, char ref and CDATA merge into one string');
  const plain = findChild(prop, '', 'plain')!;
  t.equal(plain.ns, '');
  t.equal(findChild(el, DAV_NS, 'nope'), undefined);
});

t.test('drops namespace declarations, comments and PIs', async (t) => {
  const el = parseXml('<a xmlns="urn:a" xmlns:b="urn:b"><!-- c --><?pi x?><b:c/></a>');
  t.strictSame(el.attrs, []);
  t.equal(el.children.length, 1);
  t.equal((el.children[0] as XmlElement).ns, 'urn:b');
});

t.test('serialises self-contained: D for DAV:, original prefixes kept, nsN otherwise', async (t) => {
  const el = parseXml(
    '<d:multistatus xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com"><d:response xmlns="urn:default">' +
      '<d:href>/a&amp;b</d:href><thing s:attr="v&#10;w">x</thing><s:q/><n xmlns="">z</n></d:response></d:multistatus>',
  );
  t.equal(
    serializeXml(el, { declaration: true }),
    '<?xml version="1.0" encoding="utf-8"?>' +
      '<D:multistatus xmlns:D="DAV:" xmlns:ns0="urn:default" xmlns:s="http://ns.jianguoyun.com">' +
      '<D:response><D:href>/a&amp;b</D:href><ns0:thing s:attr="v&#10;w">x</ns0:thing><s:q/><n>z</n></D:response>' +
      '</D:multistatus>',
  );
});

t.test('a subtree serialises on its own with its namespaces', async (t) => {
  const el = parseXml('<D:a xmlns:D="DAV:"><x:b xmlns:x="urn:x"><x:c/></x:b></D:a>');
  const b = el.children[0] as XmlElement;
  t.equal(serializeXml(b), '<x:b xmlns:x="urn:x"><x:c/></x:b>');
});

t.test('a prefix hint that clashes gets a generated prefix', async (t) => {
  const root = xmlElement('urn:one', 'r', [
    { ns: 'urn:two', local: 'c', attrs: [], children: [], prefix: 'p' },
    { ns: 'urn:three', local: 'c', attrs: [], children: [], prefix: 'p' },
    { ns: 'urn:four', local: 'c', attrs: [], children: [], prefix: 'D' },
    { ns: 'urn:five', local: 'c', attrs: [], children: [], prefix: 'xmlfoo' },
  ]);
  t.equal(
    serializeXml(root),
    '<ns0:r xmlns:ns0="urn:one" xmlns:p="urn:two" xmlns:ns1="urn:three" xmlns:ns2="urn:four" xmlns:ns3="urn:five">' +
      '<p:c/><ns1:c/><ns2:c/><ns3:c/></ns0:r>',
  );
});

t.test('escapes text and attributes and round-trips them', async (t) => {
  const root = xmlElement('', 'r', ['a<b>&c]]>\r\n'], [{ ns: '', local: 'v', value: '"<&>\t\n\r' }]);
  const s = serializeXml(root);
  t.equal(s, '<r v="&quot;&lt;&amp;&gt;&#9;&#10;&#13;">a&lt;b&gt;&amp;c]]&gt;&#13;\n</r>');
  t.strictSame(parseXml(s), { ...root, prefix: '' });
});

t.test('xml:lang keeps the reserved prefix without a declaration', async (t) => {
  const el = parseXml('<D:displayname xmlns:D="DAV:" xml:lang="zh">名</D:displayname>');
  t.equal(serializeXml(el), '<D:displayname xmlns:D="DAV:" xml:lang="zh">名</D:displayname>');
});

t.test('findChildren and textOf', async (t) => {
  const el = parseXml('<D:a xmlns:D="DAV:"><D:h>1</D:h><D:x><D:h>no</D:h></D:x><D:h>2<D:i>3</D:i></D:h></D:a>');
  t.strictSame(findChildren(el, DAV_NS, 'h').map(textOf), ['1', '23']);
  t.equal(textOf(el), '1no23');
});

t.test('malformed XML is BAD_XML', async (t) => {
  for (const bad of ['', 'text', '<a>', '<a></b>', '<a><b></a></b>', '<p:a/>', '<a x="1" x="2"/>', '<a/><b/>', '<a>&nbsp;</a>']) {
    t.throws(() => parseXml(bad), { code: 'DAVGATE_BAD_XML', statusCode: 400 }, JSON.stringify(bad));
  }
});

t.test('limits: maxBytes (413) and nesting depth (400)', async (t) => {
  t.throws(() => parseXml('<a>€€</a>', { maxBytes: 12 }), { code: 'DAVGATE_PAYLOAD_TOO_LARGE' });
  t.equal(parseXml('<a>€€</a>', { maxBytes: 13 }).local, 'a');
  t.throws(() => parseXml('<a>'.repeat(300) + '</a>'.repeat(300)), { code: 'DAVGATE_BAD_XML', message: /deeper than 256/ });
  t.equal(parseXml('<a>'.repeat(5) + '</a>'.repeat(5), { maxDepth: 5 }).local, 'a');
});
