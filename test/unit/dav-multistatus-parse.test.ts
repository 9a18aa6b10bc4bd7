import t from 'tap';
import { parseMultistatus, serializeMultistatus, statusCodeOf } from '../../src/dav/multistatus.js';
import { upstreamHrefToKey } from '../../src/dav/href.js';
import { DAV_NS, findChild, serializeXml, textOf } from '../../src/dav/xml.js';

// Shapes captured from real servers (names changed).

/** Apache httpd mod_dav (mod_dav_fs): ns0 bound to DAV: on the root, lp1/lp2 per response, path hrefs. */
const APACHE = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/dav/music/</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:creationdate>2024-01-02T03:04:05Z</lp1:creationdate>
<lp1:getlastmodified>Tue, 02 Jan 2024 03:04:05 GMT</lp1:getlastmodified>
<lp1:getetag>"1000-60ddf1b1a1e40"</lp1:getetag>
<D:supportedlock>
<D:lockentry>
<D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype>
</D:lockentry>
</D:supportedlock>
<D:lockdiscovery/>
<D:getcontenttype>httpd/unix-directory</D:getcontenttype>
</D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/dav/music/a%20b%20%23%25%3f%26.mp3</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype/>
<lp1:getcontentlength>1234</lp1:getcontentlength>
<lp1:getetag>"4d2-60ddf1b1a1e40"</lp1:getetag>
<lp2:executable>F</lp2:executable>
<D:getcontenttype>audio/mpeg</D:getcontenttype>
</D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>
<D:propstat>
<D:prop>
<ns0:quota-used-bytes/>
</D:prop>
<D:status>HTTP/1.1 404 Not Found</D:status>
</D:propstat>
</D:response>
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/dav/music/%e4%b8%ad%e6%96%87/</D:href>
<D:propstat>
<D:prop>
<lp1:resourcetype><D:collection/></lp1:resourcetype>
</D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>
</D:response>
</D:multistatus>
`;

/** webdav-server (npm, v2): absolute URLs, everything in one line. */
const WEBDAV_SERVER =
  '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response>' +
  '<D:href>http://localhost:1900/music/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>' +
  '<D:displayname>music</D:displayname><D:getlastmodified>Tue, 02 Jan 2024 03:04:05 GMT</D:getlastmodified>' +
  '</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response>' +
  '<D:href>http://localhost:1900/music/it&apos;s%20%F0%9F%98%80.txt</D:href><D:propstat><D:prop><D:resourcetype/>' +
  '<D:getcontentlength>5</D:getcontentlength><D:getcontenttype>text/plain</D:getcontenttype></D:prop>' +
  '<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>';

/** Jianguoyun: lower-case d:, a vendor namespace, lowercase hex, folder hrefs without trailing slash. */
const JIANGUOYUN = `<?xml version="1.0" encoding="UTF-8"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com"><d:response><d:href>/dav/%e6%88%91%e7%9a%84%e5%9d%9a%e6%9e%9c%e4%ba%91</d:href><d:propstat><d:prop><d:getlastmodified>Tue, 02 Jan 2024 03:04:05 GMT</d:getlastmodified><d:getcontentlength>0</d:getcontentlength><d:owner>someone@example.com</d:owner><d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege><d:privilege><d:all/></d:privilege></d:current-user-privilege-set><d:getcontenttype>httpd/unix-directory</d:getcontenttype><d:displayname>我的坚果云</d:displayname><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:response><d:href>/dav/%e6%88%91%e7%9a%84%e5%9d%9a%e6%9e%9c%e4%ba%91/a&amp;b%2b1.txt</d:href><d:propstat><d:prop><d:getlastmodified>Tue, 02 Jan 2024 03:04:05 GMT</d:getlastmodified><d:getcontentlength>3</d:getcontentlength><d:getetag>"abc"</d:getetag><d:getcontenttype>text/plain</d:getcontenttype><d:displayname>a&amp;b+1.txt</d:displayname><d:resourcetype/><s:share>false</s:share></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:response><d:href>/dav/%e6%88%91%e7%9a%84%e5%9d%9a%e6%9e%9c%e4%ba%91/sub</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`;

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

t.test('serializeMultistatus re-parses to the same responses', async (t) => {
  const rs = parseMultistatus(JIANGUOYUN);
  const out = serializeMultistatus(rs.map((r) => r.element));
  t.ok(out.startsWith('<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:" xmlns:s="http://ns.jianguoyun.com">'));
  const again = parseMultistatus(out);
  t.strictSame(
    again.map((r) => [r.href, r.isCollection]),
    rs.map((r) => [r.href, r.isCollection]),
  );
  t.match(out, '<s:share>false</s:share>');
  t.equal(serializeMultistatus([]), '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"/>');
});
