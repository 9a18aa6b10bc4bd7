import t from 'tap';
import { parseMultistatus, rewriteHrefs, serializeMultistatus } from '../../src/dav/multistatus.js';
import { keyToGatewayHref, upstreamHrefToKey } from '../../src/dav/href.js';
import { parseXml, serializeXml } from '../../src/dav/xml.js';

const base = new URL('http://up1:8080/dav/');
const toGateway = (href: string): string => {
  const key = upstreamHrefToKey(href, base);
  return key === null ? href : keyToGatewayHref(key, href.trim().endsWith('/'));
};

t.test('every DAV:href is rewritten: response, lockroot, error', async (t) => {
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response>' +
    '<D:href>http://up1:8080/dav/a%20b/</D:href><D:propstat><D:prop><D:lockdiscovery><D:activelock>' +
    '<D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>infinity</D:depth>' +
    '<D:owner><D:href>http://client.example/me</D:href></D:owner><D:timeout>Second-600</D:timeout>' +
    '<D:locktoken><D:href>urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4</D:href></D:locktoken>' +
    '<D:lockroot><D:href>/dav/a%20b/</D:href></D:lockroot></D:activelock></D:lockdiscovery></D:prop>' +
    '<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/dav/x&amp;y</D:href>' +
    '<D:href>/dav/%e4%b8%ad</D:href><D:status>HTTP/1.1 423 Locked</D:status><D:error><D:lock-token-submitted>' +
    '<D:href>/dav/locked</D:href></D:lock-token-submitted></D:error></D:response></D:multistatus>';
  const rs = parseMultistatus(body);
  const out = serializeMultistatus(rs.map((r) => rewriteHrefs(r.element, toGateway)));
  t.equal(
    out,
    '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response>' +
      '<D:href>/a%20b/</D:href><D:propstat><D:prop><D:lockdiscovery><D:activelock>' +
      '<D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>infinity</D:depth>' +
      '<D:owner><D:href>http://client.example/me</D:href></D:owner><D:timeout>Second-600</D:timeout>' +
      '<D:locktoken><D:href>urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4</D:href></D:locktoken>' +
      '<D:lockroot><D:href>/a%20b/</D:href></D:lockroot></D:activelock></D:lockdiscovery></D:prop>' +
      '<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/x%26y</D:href>' +
      '<D:href>/%E4%B8%AD</D:href><D:status>HTTP/1.1 423 Locked</D:status><D:error><D:lock-token-submitted>' +
      '<D:href>/locked</D:href></D:lock-token-submitted></D:error></D:response></D:multistatus>',
  );
});

t.test('rewriteHrefs copies and leaves the input alone', async (t) => {
  const el = parseXml('<D:prop xmlns:D="DAV:" xmlns:z="urn:z"><z:href>/dav/not-dav</z:href><D:href>/dav/a</D:href></D:prop>');
  const before = serializeXml(el);
  const seen: string[] = [];
  const copy = rewriteHrefs(el, (h) => {
    seen.push(h);
    return 'NEW<&>';
  });
  t.strictSame(seen, ['/dav/a'], 'only DAV:href, not {urn:z}href');
  t.equal(serializeXml(el), before);
  t.equal(
    serializeXml(copy),
    '<D:prop xmlns:D="DAV:" xmlns:z="urn:z"><z:href>/dav/not-dav</z:href><D:href>NEW&lt;&amp;&gt;</D:href></D:prop>',
  );
});

t.test('an empty href is mapped too', async (t) => {
  const el = parseXml('<D:href xmlns:D="DAV:"/>');
  t.equal(serializeXml(rewriteHrefs(el, (h) => `[${h}]`)), '<D:href xmlns:D="DAV:">[]</D:href>');
});
