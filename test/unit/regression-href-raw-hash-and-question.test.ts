// Regression: hrefs written by webdav-server with a raw `#` or `?` in a name were cut at that character,
// so `hash#frag.txt` was listed as `hash` (found by the hostile-names integration test).
import t from 'tap';
import { upstreamHrefToKey } from '../../src/dav/href.js';

const base = new URL('http://127.0.0.1:4000/dav/');

t.equal(upstreamHrefToKey('http://127.0.0.1:4000/dav/d/hash#frag.txt', base), '/d/hash#frag.txt');
t.equal(upstreamHrefToKey('http://127.0.0.1:4000/dav/d/q?x=1.txt', base), '/d/q?x=1.txt');
t.equal(upstreamHrefToKey('/dav/d/hash#frag.txt', base), '/d/hash#frag.txt');
t.equal(upstreamHrefToKey('/dav/d/q?x=1.txt', base), '/d/q?x=1.txt');
t.equal(upstreamHrefToKey('/dav/d/q%3Fx%3D1.txt', base), '/d/q?x=1.txt', 'encoded spelling gives the same key');
