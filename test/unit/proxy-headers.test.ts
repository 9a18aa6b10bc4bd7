import t from 'tap';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/proxy/headers.js';

t.test('request: hop-by-hop, Connection-named, credentials and Expect never go upstream', async (t) => {
  const out = upstreamRequestHeaders({
    host: 'gw',
    authorization: 'Basic c2VjcmV0',
    cookie: 'a=b',
    expect: '100-continue',
    connection: 'keep-alive, x-private',
    'x-private': '1',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    range: 'bytes=0-9',
    'if-match': '"e1"',
    'if-none-match': '"e2"',
    'content-type': 'audio/mpeg',
    destination: 'http://gw/x',
    if: '(<urn:uuid:1>)',
    'lock-token': '<urn:uuid:1>',
    timeout: 'Second-60',
  });
  t.same(out, { range: 'bytes=0-9', 'if-match': '"e1"', 'if-none-match': '"e2"', 'content-type': 'audio/mpeg' });
});

t.test('response: Location rewritten, upstream challenges and DAV dropped', async (t) => {
  const out = clientResponseHeaders(
    {
      location: 'http://up:1/dav/a%20b',
      'content-location': 'http://elsewhere/x',
      'www-authenticate': 'Basic realm="nutstore"',
      dav: '1,2',
      etag: '"x"',
      'content-length': '5',
      'transfer-encoding': 'chunked',
      'access-control-allow-origin': '*',
    },
    (u) => (u.startsWith('http://up:1/dav/') ? '/' + u.slice('http://up:1/dav/'.length) : null),
    ['content-length'],
  );
  t.same(out, { location: '/a%20b', etag: '"x"' });
});
