// Regression: the href rewriter turned `<D:locktoken><D:href>opaquelocktoken:…</D:href>` into `/`, so
// litmus' locks group saw "Response missing activelock for opaquelocktoken:…" through davgate.
import t from 'tap';
import { hrefMapper } from '../../src/methods/context.js';
import type { Upstream } from '../../src/upstream/upstream.js';

const u = { base: new URL('http://127.0.0.1:4000/dav/') } as Upstream;
const map = hrefMapper(u);
t.equal(map('opaquelocktoken:25be785f-c328-4218-9eb1-31768ce5d380'), 'opaquelocktoken:25be785f-c328-4218-9eb1-31768ce5d380');
t.equal(map('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6'), 'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
t.equal(map('http://127.0.0.1:4000/dav/locks/lockme'), '/locks/lockme', 'resource hrefs still rewritten');
t.equal(map('/dav/locks/coll/'), '/locks/coll/');
t.equal(map('http://elsewhere:1/x'), '/', 'a foreign URL never leaks');
