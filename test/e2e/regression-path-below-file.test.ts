/**
 * Regression (second new-user trial): on Apache upstreams a path below a regular file (`/file2/child`) made
 * MKCOL and DELETE answer 502 ("f answered 400 to PROPFIND") and PROPFIND pass Apache's HTML 400 page through,
 * which names the upstream's base path. Apache answers 400 (ENOTDIR) there; davgate now reads it as "absent".
 */
import t from 'tap';
import { request } from 'undici';
import { DIRECT, startTarget } from './helpers/target.js';

t.test('paths below a file', { skip: DIRECT ? 'gateway only' : false }, async (t) => {
  const target = await startTarget(t, { upstreams: 3 });
  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const r = await request(new URL(path.slice(1), target.url), {
      method: method as 'GET',
      headers: { authorization: target.authorization, ...headers },
      body,
    });
    return { status: r.statusCode, text: await r.body.text() };
  };
  t.equal((await call('PUT', '/file2', 'x')).status, 201);
  t.equal((await call('MKCOL', '/file2/child')).status, 409, 'MKCOL below a file: 409 (no parent collection)');
  t.equal((await call('DELETE', '/file2/child')).status, 404, 'DELETE below a file: 404');
  const pf = await call('PROPFIND', '/file2/child', undefined, { depth: '0' });
  t.equal(pf.status, 404, 'PROPFIND below a file: 404');
  t.notMatch(pf.text, /\/dav\//, 'no upstream base path in the answer');
  for (const u of target.upstreams) t.notMatch(pf.text, new URL(u.url).host, `no upstream host ${u.id}`);
});
