import t from 'tap';
import { nextPagePath } from '../../src/proxy/paging.js';

const base = new URL('https://dav.jianguoyun.com/dav/music/');

t.equal(nextPagePath('<https://dav.jianguoyun.com/dav/music/a?mk=abc>; rel="next"', base), '/dav/music/a?mk=abc', '坚果云 form');
t.equal(nextPagePath('</dav/music/a?mk=x>; rel=next', base), '/dav/music/a?mk=x', 'path-only, unquoted rel');
t.equal(nextPagePath('<https://dav.jianguoyun.com/dav/music/a?mk=1>; rel="prev", <https://dav.jianguoyun.com/dav/music/a?mk=2>; rel="next"', base), '/dav/music/a?mk=2', 'several links');
t.equal(nextPagePath(['<x>; rel="prev"', '</dav/music/b?mk=3>; rel="last next"'], base), '/dav/music/b?mk=3', 'repeated header, rel list');
t.equal(nextPagePath(undefined, base), null, 'no Link: last page');
t.equal(nextPagePath('<https://dav.jianguoyun.com/dav/music/a?mk=1>; rel="prev"', base), null, 'no next');
t.equal(nextPagePath('<https://evil.example/dav/music/a?mk=1>; rel="next"', base), null, 'another origin is never followed');
t.equal(nextPagePath('</dav/other/a?mk=1>; rel="next"', base), null, 'outside the base path is never followed');
t.equal(nextPagePath('<https://dav.jianguoyun.com/dav/music/a?mk=1>; rel="nextpage"', base), null, 'rel must be next exactly');
