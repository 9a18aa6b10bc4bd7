import t from 'tap';
import { keyToGatewayHref, upstreamHrefToKey } from '../../src/dav/href.js';
import { encodeKey, encodeSegment } from '../../src/path/canonical.js';

const apache = new URL('http://127.0.0.1:8080/dav/');
const jgy = new URL('https://dav.jianguoyun.com/dav/');

t.test('absolute paths and absolute URLs under the base', async (t) => {
  t.equal(upstreamHrefToKey('/dav/a%20b/', apache), '/a b');
  t.equal(upstreamHrefToKey('http://127.0.0.1:8080/dav/a%20b/c', apache), '/a b/c');
  t.equal(upstreamHrefToKey('HTTP://127.0.0.1:8080/dav/x', apache), '/x', 'scheme and host case-insensitive');
  t.equal(upstreamHrefToKey('https://dav.jianguoyun.com:443/dav/x', jgy), '/x', 'default port equals absent');
  t.equal(upstreamHrefToKey('  /dav/x\n', apache), '/x', 'surrounding whitespace ignored');
  t.equal(upstreamHrefToKey('/dav/x?y=1#z', apache), '/x?y=1#z', 'a raw ? or # is part of the name (hrefs carry no query)');
});

t.test('the base itself maps to the root key', async (t) => {
  t.equal(upstreamHrefToKey('/dav/', apache), '/');
  t.equal(upstreamHrefToKey('/dav', apache), '/');
  t.equal(upstreamHrefToKey('http://127.0.0.1:8080/dav', apache), '/');
  t.equal(upstreamHrefToKey('http://127.0.0.1:8080/', new URL('http://127.0.0.1:8080/')), '/');
  t.equal(upstreamHrefToKey('http://127.0.0.1:8080', new URL('http://127.0.0.1:8080/')), '/');
});

t.test('hrefs outside the base or on another origin are null', async (t) => {
  t.equal(upstreamHrefToKey('/other/x', apache), null);
  t.equal(upstreamHrefToKey('/davx/x', apache), null, 'prefix match is per segment');
  t.equal(upstreamHrefToKey('/', apache), null);
  t.equal(upstreamHrefToKey('http://127.0.0.1:8081/dav/x', apache), null);
  t.equal(upstreamHrefToKey('https://127.0.0.1:8080/dav/x', apache), null);
  t.equal(upstreamHrefToKey('http://evil.example/dav/x', apache), null);
  t.equal(upstreamHrefToKey('//127.0.0.1:8080/dav/x', apache), null, 'network-path reference');
  t.equal(upstreamHrefToKey('x', apache), null, 'relative reference');
  t.equal(upstreamHrefToKey('/dav/../etc', apache), null, 'dot segment');
  t.equal(upstreamHrefToKey('/dav/a%2Fb', apache), null, 'encoded slash');
  t.equal(upstreamHrefToKey('/dav/%E9', apache), null, 'not UTF-8');
});

t.test('server encoding variants map to the same key', async (t) => {
  const want = '/我的坚果云/a&b +.txt';
  for (const href of [
    '/dav/%E6%88%91%E7%9A%84%E5%9D%9A%E6%9E%9C%E4%BA%91/a%26b%20%2B.txt', // uppercase hex
    '/dav/%e6%88%91%e7%9a%84%e5%9d%9a%e6%9e%9c%e4%ba%91/a%26b%20+.txt', // lowercase hex (Jianguoyun)
    '/dav/我的坚果云/a&b%20+.txt', // raw UTF-8, &amp; already unescaped by the XML parser
    'http://127.0.0.1:8080/dav/我的坚果云/a&b%20+.txt',
    '/dav//我的坚果云//a&b%20+.txt',
  ]) {
    t.equal(upstreamHrefToKey(href, apache), want, href);
  }
  t.equal(upstreamHrefToKey('/dav/100%', apache), '/100%', 'a lone % from a lax server is literal');
  t.equal(upstreamHrefToKey('/dav/100%25', apache), '/100%');
});

t.test('a base with encoded characters compares decoded', async (t) => {
  const base = new URL('https://cloud.example/remote.php/dav/files/a%40b.c/');
  t.equal(upstreamHrefToKey('/remote.php/dav/files/a@b.c/x', base), '/x');
  t.equal(upstreamHrefToKey('/remote.php/dav/files/a%40b.c/x', base), '/x');
});

t.test('gateway hrefs', async (t) => {
  t.equal(keyToGatewayHref('/', true), '/');
  t.equal(keyToGatewayHref('/', false), '/');
  t.equal(keyToGatewayHref('/a b/中', true), '/a%20b/%E4%B8%AD/');
  t.equal(keyToGatewayHref("/x/#?%+&'😀", false), '/x/%23%3F%25%2B%26%27%F0%9F%98%80');
});

t.test('hostile names survive href → key → href', async (t) => {
  const names = ['a b', 'a#b', 'a?b', '100%', 'x%41', 'a+b', 'a&b', "it's", '中文', '😀', '(1)!*~', 'a;b=c,d', 'é\u0301'];
  for (const name of names) {
    const key = `/dir/${name}`;
    for (const collection of [false, true]) {
      const gw = keyToGatewayHref(key, collection);
      t.equal(gw, `/dir/${encodeSegment(name)}${collection ? '/' : ''}`);
      // What Upstream.urlFor sends: origin + encodeKey under the base path.
      const up = apache.origin + encodeKey(key, apache.pathname, collection);
      t.equal(upstreamHrefToKey(up, apache), key, `${name} via absolute URL`);
      t.equal(upstreamHrefToKey(new URL(up).pathname, apache), key, `${name} via path`);
      const lower = new URL(up).pathname.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
      t.equal(upstreamHrefToKey(lower, apache), key, `${name} via lowercase hex`);
      t.equal(keyToGatewayHref(upstreamHrefToKey(up, apache)!, collection), gw);
    }
  }
});

t.test('plain member hrefs (the shortcut) map as their other spellings do', async (t) => {
  const b = new URL('http://up:8080/dav/');
  const same = (plain: string, other: string): void => {
    t.equal(upstreamHrefToKey(plain, b), upstreamHrefToKey(other, b), `${plain} ~ ${other}`);
  };
  same('/dav/list/member-001.txt', '/dav/list/member-%30%301.txt');
  same('/dav/list/', '/dav//list');
  same('http://up:8080/dav/list/a_b~c', '/dav/%6cist/a_b%7Ec');
  t.equal(upstreamHrefToKey('/dav/list/a', b), '/list/a');
  t.equal(upstreamHrefToKey('http://up:8080/dav/list/a/', b), '/list/a');
  t.equal(upstreamHrefToKey('/dav/', b), '/');
  t.equal(upstreamHrefToKey('/dav/.hidden', b), '/.hidden');
  t.equal(upstreamHrefToKey('/dav/./a', b), null);
  t.equal(upstreamHrefToKey('/dav/a/../b', b), null);
  t.equal(upstreamHrefToKey('http://other:8080/dav/a', b), null);
  // A base without its trailing slash is a folder, not a prefix of names.
  const noSlash = new URL('http://up:8080/dav');
  t.equal(upstreamHrefToKey('/davx/a', noSlash), null);
  t.equal(upstreamHrefToKey('/dav/a', noSlash), '/a');
  t.equal(keyToGatewayHref('/list/member-001.txt', false), '/list/member-001.txt');
  t.equal(keyToGatewayHref('/list/a b', true), '/list/a%20b/');
});
