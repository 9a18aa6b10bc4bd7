import t from 'tap';
import { parseDepth, parseDestination, parseOverwrite } from '../../src/dav/destination.js';

t.test('absolute URI on the request host', async (t) => {
  t.strictSame(parseDestination('http://gw:8080/a%20b/c', 'gw:8080'), { key: '/a b/c', trailingSlash: false });
  t.strictSame(parseDestination('http://GW:8080/a/', 'gw:8080'), { key: '/a', trailingSlash: true });
  t.strictSame(parseDestination('http://gw/x', 'gw:80'), { key: '/x', trailingSlash: false }, 'default port 80');
  t.strictSame(parseDestination('https://gw:443/x', 'GW'), { key: '/x', trailingSlash: false }, 'default port 443');
  t.strictSame(parseDestination('http://gw', 'gw'), { key: '/', trailingSlash: false });
  t.strictSame(parseDestination('http://u:p@gw/x', 'gw'), { key: '/x', trailingSlash: false }, 'user info ignored');
  t.strictSame(parseDestination('http://[::1]:8080/x', '[::1]:8080'), { key: '/x', trailingSlash: false });
  t.strictSame(parseDestination('http://gw/x?q=1#f', 'gw'), { key: '/x', trailingSlash: false }, 'query and fragment removed');
});

t.test('absolute path', async (t) => {
  t.strictSame(parseDestination('/%E4%B8%AD%e6%96%87/a+b%23', undefined), { key: '/中文/a+b#', trailingSlash: false });
  t.strictSame(parseDestination(' /x/ ', 'gw'), { key: '/x', trailingSlash: true });
  t.strictSame(parseDestination('/x?y', 'gw'), { key: '/x', trailingSlash: false });
});

t.test('another host is FOREIGN_DESTINATION (502)', async (t) => {
  for (const [dest, host] of [
    ['http://other:8080/x', 'gw:8080'],
    ['http://gw:8081/x', 'gw:8080'],
    ['http://gw/x', 'gw:8080'],
    ['http://gw:8080/x', undefined],
    ['http://gw.evil/x', 'gw'],
  ] as const) {
    t.throws(() => parseDestination(dest, host), { code: 'DAVGATE_FOREIGN_DESTINATION', statusCode: 502 }, dest);
  }
});

t.test('missing or malformed is BAD_HEADER (400)', async (t) => {
  for (const dest of [undefined, '', '  ', 'x/y', '//gw/x', 'ftp://gw/x', 'http:///x', 'http://gw/a b', '/a\tb', 'urn:x']) {
    t.throws(() => parseDestination(dest, 'gw'), { code: 'DAVGATE_BAD_HEADER', statusCode: 400, message: /Destination/ }, String(dest));
  }
});

t.test('bad paths are BAD_PATH (400)', async (t) => {
  for (const dest of ['/a/../b', 'http://gw/a/%2e%2e/b', '/a%2Fb', '/a%00', '/%zz', '/%C3%28']) {
    t.throws(() => parseDestination(dest, 'gw'), { code: 'DAVGATE_BAD_PATH', statusCode: 400 }, dest);
  }
});

t.test('Overwrite (RFC 4918 §10.6)', async (t) => {
  t.equal(parseOverwrite(undefined), true);
  t.equal(parseOverwrite('T'), true);
  t.equal(parseOverwrite('F'), false);
  for (const bad of ['t', 'f', '', 'TRUE', 'T F']) {
    t.throws(() => parseOverwrite(bad), { code: 'DAVGATE_BAD_HEADER', message: /Overwrite/ }, bad);
  }
});

t.test('Depth (RFC 4918 §10.2)', async (t) => {
  t.equal(parseDepth(undefined, ['0', '1', 'infinity'], 'infinity'), 'infinity');
  t.equal(parseDepth('0', ['0', '1'], '1'), '0');
  t.equal(parseDepth(' 1 ', ['0', '1'], '0'), '1');
  t.equal(parseDepth('Infinity', ['0', 'infinity'], '0'), 'infinity');
  for (const bad of ['1', '2', '', 'inf', '-1', '01']) {
    t.throws(() => parseDepth(bad, ['0', 'infinity'], 'infinity'), { code: 'DAVGATE_BAD_HEADER', message: /Depth/ }, bad);
  }
});
