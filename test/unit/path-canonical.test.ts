import t from 'tap';
import { ancestorKeys, encodeKey, parentKey, parsePath, pathLengthProblem } from '../../src/path/canonical.js';

t.test('equivalent spellings give the same key', async (t) => {
  t.equal(parsePath('/a/%5Bx%5D').key, '/a/[x]');
  t.equal(parsePath('/a/%5bx%5d').key, '/a/[x]');
  t.equal(parsePath('/a/[x]').key, '/a/[x]');
  t.equal(parsePath('/a b').key, parsePath('/a%20b').key);
  t.equal(parsePath('/a+b').key, '/a+b', '+ stays a plus');
  t.equal(parsePath('/a%2Bb').key, '/a+b');
});

t.test('trailing slash stripped, recorded, and duplicate slashes collapse', async (t) => {
  t.same(parsePath('/music/'), { key: '/music', segments: ['music'], trailingSlash: true });
  t.same(parsePath('/'), { key: '/', segments: [], trailingSlash: false });
  t.equal(parsePath('//a//b/').key, '/a/b');
});

t.test('case-sensitive', async (t) => {
  t.not(parsePath('/A').key, parsePath('/a').key);
});

t.test('percent-decoded exactly once, as UTF-8', async (t) => {
  t.equal(parsePath('/%2520').key, '/%20');
  t.equal(parsePath('/%E4%B8%AD%E6%96%87').key, '/中文');
  t.equal(parsePath('/中文').key, '/中文', 'raw UTF-8 accepted');
  t.equal(parsePath('/%F0%9F%8E%B5').key, '/🎵');
});

for (const bad of ['/a/../b', '/./a', '/a/%2e%2e/b', '/a%2Fb', '/a%2fb', '/a%00b', '/%FF', '/%C3', '/%zz', 'a/b']) {
  t.test(`refuses ${bad} with 400`, async (t) => {
    t.throws(() => parsePath(bad), { statusCode: 400, code: 'DAVGATE_BAD_PATH' });
  });
}

t.test('helpers', async (t) => {
  t.equal(parentKey('/a/b'), '/a');
  t.equal(parentKey('/a'), '/');
  t.equal(parentKey('/'), '/');
  t.same(ancestorKeys('/a/b/c'), ['/a', '/a/b']);
  t.equal(encodeKey('/a b/#?%&\'', '/dav/'), '/dav/a%20b/%23%3F%25%26%27');
  t.equal(encodeKey('/x', '/dav/', true), '/dav/x/');
  t.equal(encodeKey('/', '/dav/', true), '/dav/');
});

t.test('pathLengthProblem: names in UTF-8 bytes, the path percent-encoded', async (t) => {
  const limits = { maxPathBytes: 64, maxNameBytes: 10 };
  t.equal(pathLengthProblem([], limits), undefined, 'the root');
  t.equal(pathLengthProblem(['a'.repeat(10), 'b'], limits), undefined, 'a name of exactly the limit');
  t.match(pathLengthProblem(['a'.repeat(11)], limits), /11 bytes.*limits\.maxNameBytes/);
  t.match(pathLengthProblem(['歌歌歌歌'], limits), /12 bytes/, '4 CJK characters are 12 bytes');
  t.equal(pathLengthProblem(['abcdefghij', 'abcdefghij'], limits), undefined, '22 bytes encoded');
  t.equal(pathLengthProblem(['a b c d e', 'a b c d e', 'a b c d e'], limits), undefined, '54 bytes encoded');
  t.match(pathLengthProblem(['a b c d e', 'a b c d e', 'a b c d e', 'a b c d e'], limits), /the path is 72 bytes/, 'spaces count as %20');
  t.match(pathLengthProblem(['歌歌歌', '歌歌歌', '歌'], limits), /the path is 66 bytes long encoded.*limits\.maxPathBytes/);
});
