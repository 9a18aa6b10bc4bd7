// Regression: `\` let `z%5c..%5cREADME.md` overwrite another file on upstreams that split on backslashes
// (webdav-server), and a control character in a name (`ctrl%01.txt`) made every later listing of its folder
// fail with 503 because XML 1.0 cannot carry it. Both are refused with 400 before any upstream call.
import t from 'tap';
import { parsePath } from '../../src/path/canonical.js';

for (const bad of ['/z%5c..%5cREADME.md', '/z%5C..%5CREADME.md', '/a\\b', '/hn/ctrl%01.txt', '/a%1Fb', '/a%7Fb', '/a%0Ab', '/a%0d']) {
  t.throws(() => parsePath(bad), { statusCode: 400, code: 'DAVGATE_BAD_PATH' }, bad);
}
t.equal(parsePath('/tab-free name ~!$&\'()*+,;=:@.txt').key, "/tab-free name ~!$&'()*+,;=:@.txt", 'ordinary punctuation still allowed');
