import t from 'tap';
import { davErrorBody, multistatusOfStatuses, statusLine } from '../../src/dav/error-body.js';
import { parseMultistatus } from '../../src/dav/multistatus.js';
import { DAV_NS, parseXml } from '../../src/dav/xml.js';

t.test('DAV:error precondition body (RFC 4918 §16)', async (t) => {
  t.equal(
    davErrorBody('propfind-finite-depth'),
    '<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>',
  );
  const withHrefs = davErrorBody('lock-token-submitted', ['/a%20b', '/x&y']);
  t.equal(
    withHrefs,
    '<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:lock-token-submitted>' +
      '<D:href>/a%20b</D:href><D:href>/x&amp;y</D:href></D:lock-token-submitted></D:error>',
  );
  t.equal(parseXml(withHrefs).ns, DAV_NS, 'well-formed');
  t.throws(() => davErrorBody('bad name'), TypeError);
  t.throws(() => davErrorBody('x><y'), TypeError);
});

t.test('207 of statuses for partial DELETE failures', async (t) => {
  const body = multistatusOfStatuses([
    { href: '/d/a%20b', status: 424 },
    { href: '/d/c&d', status: 423, description: 'locked <by> someone' },
    { href: '/d/e', status: 502 },
  ]);
  t.equal(
    body,
    '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">' +
      '<D:response><D:href>/d/a%20b</D:href><D:status>HTTP/1.1 424 Failed Dependency</D:status></D:response>' +
      '<D:response><D:href>/d/c&amp;d</D:href><D:status>HTTP/1.1 423 Locked</D:status>' +
      '<D:responsedescription>locked &lt;by&gt; someone</D:responsedescription></D:response>' +
      '<D:response><D:href>/d/e</D:href><D:status>HTTP/1.1 502 Bad Gateway</D:status></D:response></D:multistatus>',
  );
  t.strictSame(
    parseMultistatus(body).map((r) => r.href),
    ['/d/a%20b', '/d/c&d', '/d/e'],
  );
  t.equal(multistatusOfStatuses([]), '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"></D:multistatus>');
});

t.test('status lines use standard reason phrases', async (t) => {
  t.equal(statusLine(200), 'HTTP/1.1 200 OK');
  t.equal(statusLine(403), 'HTTP/1.1 403 Forbidden');
  t.equal(statusLine(507), 'HTTP/1.1 507 Insufficient Storage');
  t.equal(statusLine(599), 'HTTP/1.1 599 Unknown');
});
