import t from 'tap';
import { parseMultistatus, statusCodeOf } from '../../src/dav/multistatus.js';
import { upstreamHrefToKey } from '../../src/dav/href.js';
import { DAV_NS, findChild, serializeXml, textOf } from '../../src/dav/xml.js';
import { APACHE, JIANGUOYUN, WEBDAV_SERVER } from '../fixtures/multistatus-bodies.js';

t.test('Apache mod_dav body', async (t) => {
  const rs = parseMultistatus(APACHE);
  const base = new URL('http://127.0.0.1:8080/dav/');
  t.strictSame(
    rs.map((r) => [r.href, upstreamHrefToKey(r.href, base), r.isCollection]),
    [
      ['/dav/music/', '/music', true],
      ['/dav/music/a%20b%20%23%25%3f%26.mp3', '/music/a b #%?&.mp3', false],
      ['/dav/music/%e4%b8%ad%e6%96%87/', '/music/中文', true],
    ],
  );
  const etag = findChild(findChild(findChild(rs[1]!.element, DAV_NS, 'propstat')!, DAV_NS, 'prop')!, DAV_NS, 'getetag')!;
  t.equal(textOf(etag), '"4d2-60ddf1b1a1e40"', 'lp1: prefixed properties resolve to DAV:');
  t.match(serializeXml(rs[1]!.element), /<D:quota-used-bytes\/>/, 'ns0: (DAV:) written as D:');
  t.match(serializeXml(rs[1]!.element), /<lp2:executable>F<\/lp2:executable>/, 'Apache prefix kept');
});

t.test('webdav-server body', async (t) => {
  const rs = parseMultistatus(WEBDAV_SERVER);
  const base = new URL('http://localhost:1900/');
  t.strictSame(
    rs.map((r) => [r.href, upstreamHrefToKey(r.href, base), r.isCollection]),
    [
      ['http://localhost:1900/music/', '/music', true],
      ["http://localhost:1900/music/it's%20%F0%9F%98%80.txt", "/music/it's 😀.txt", false],
    ],
  );
});

t.test('Jianguoyun body', async (t) => {
  const rs = parseMultistatus(JIANGUOYUN);
  const base = new URL('https://dav.jianguoyun.com/dav/');
  t.strictSame(
    rs.map((r) => [upstreamHrefToKey(r.href, base), r.isCollection]),
    [
      ['/我的坚果云', true],
      ['/我的坚果云/a&b+1.txt', false],
      ['/我的坚果云/sub', true],
    ],
  );
  t.equal(rs[1]!.href, '/dav/%e6%88%91%e7%9a%84%e5%9d%9a%e6%9e%9c%e4%ba%91/a&b%2b1.txt', 'href raw after XML unescaping');
});

t.test('isCollection only counts a 200 propstat', async (t) => {
  const body =
    '<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>' +
    '</D:resourcetype></D:prop><D:status>HTTP/1.1 403 Forbidden</D:status></D:propstat></D:response>' +
    '<D:response><D:href>/b</D:href><D:status>HTTP/1.1 200 OK</D:status></D:response></D:multistatus>';
  t.strictSame(
    parseMultistatus(body).map((r) => [r.href, r.isCollection]),
    [
      ['/a', false],
      ['/b', false],
    ],
  );
});

t.test('status lines', async (t) => {
  t.equal(statusCodeOf('HTTP/1.1 200 OK'), 200);
  t.equal(statusCodeOf(' HTTP/1.0 404 Not Found\n'), 404);
  t.equal(statusCodeOf('HTTP/2 207'), 207);
  t.equal(statusCodeOf('200 OK'), undefined);
  t.equal(statusCodeOf('HTTP/1.1 2000'), undefined);
});

t.test('a body that is not a multistatus is BAD_XML', async (t) => {
  t.throws(() => parseMultistatus('<D:prop xmlns:D="DAV:"/>'), { code: 'DAVGATE_BAD_XML', message: /expected \{DAV:\}multistatus/ });
  t.throws(() => parseMultistatus('<multistatus/>'), { code: 'DAVGATE_BAD_XML' });
  t.throws(() => parseMultistatus('<D:multistatus xmlns:D="DAV:"><D:response/></D:multistatus>'), {
    code: 'DAVGATE_BAD_XML',
    message: /without DAV:href/,
  });
  t.throws(() => parseMultistatus('<html><body>502</body></html>'), { code: 'DAVGATE_BAD_XML' });
});
