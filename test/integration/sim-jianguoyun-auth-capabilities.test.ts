/**
 * Auth (jianguoyun.md §6, statement 11), capabilities: OPTIONS, fake PROPPATCH and LOCK (§4, statement 12), and
 * forbidden characters in names (§5, statement 13) on the simulated 坚果云 account.
 */
import t from 'tap';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { basicAuth, davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');

let s: JianguoyunSim;
t.before(async () => {
  s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw', budget: 10_000 });
});
t.teardown(() => s?.stop());

function req(p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

t.test('§6 auth: wrong or absent credentials → 401, Basic realm="nutstore", no body', async (t) => {
  const cases: [string, DavRequestOptions][] = [
    ['absent', { auth: null }],
    ['wrong password', { auth: { username: 'u@example.com', password: 'login-password' } }],
    ['wrong user', { auth: { username: 'v@example.com', password: 'app-pw' } }],
    ['password with a pasted space', { auth: { username: 'u@example.com', password: 'app-pw ' } }],
    ['Digest', { auth: null, headers: { authorization: 'Digest username="u@example.com", realm="nutstore"' } }],
  ];
  for (const [what, opts] of cases) {
    const r = await davRequest(`${s.url}${SB}`, 'PROPFIND', { headers: { depth: '0' }, ...opts });
    t.equal(r.status, 401, what);
    t.equal(r.headers['www-authenticate'], 'Basic realm="nutstore"', what);
    t.equal(r.bytes.length, 0, `${what}: no body`);
    t.equal(r.headers['content-type'], undefined, `${what}: no content type`);
  }
  t.equal((await req(SB, 'PROPFIND', { headers: { depth: '0' } })).status, 207, 'the app password works');
});

t.test('§6 auth: optional lock after N consecutive failures keeps answering 401', async (t) => {
  const l = await startJianguoyunSim({ username: 'u', password: 'p', lockAfterFailures: 2 });
  t.teardown(() => l.stop());
  const good = { auth: { username: 'u', password: 'p' } };
  const bad = { auth: { username: 'u', password: 'x' } };
  t.equal((await davRequest(l.url, 'OPTIONS', bad)).status, 401);
  t.equal((await davRequest(l.url, 'OPTIONS', good)).status, 200, 'one failure is forgiven');
  t.equal((await davRequest(l.url, 'OPTIONS', bad)).status, 401);
  t.equal((await davRequest(l.url, 'OPTIONS', bad)).status, 401);
  t.equal((await davRequest(l.url, 'OPTIONS', good)).status, 401, 'locked');
});

t.test('§4 OPTIONS: 200, DAV: 2, the fixed Allow list without HEAD and PROPPATCH', async (t) => {
  const r = await req(SB, 'OPTIONS');
  t.equal(r.status, 200);
  t.equal(r.headers['dav'], '2');
  t.equal(r.headers['allow'], 'DELETE, GET, LOCK, UNLOCK, MKCOL, MOVE, OPTIONS, PROPFIND, PUT, COPY');
  t.equal(r.headers['ms-author-via'], 'DAV');
  t.notMatch(String(r.headers['allow']), /HEAD|PROPPATCH/);
});

t.test('§4 PROPPATCH: 207 fake success with Win32* props at 200, nothing stored', async (t) => {
  await req(`${SB}/p.txt`, 'PUT', { body: 'x' });
  const body =
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:color>red</Z:color>' +
    '</D:prop></D:set></D:propertyupdate>';
  const r = await req(`${SB}/p.txt`, 'PROPPATCH', { body });
  t.equal(r.status, 207);
  for (const p of ['Win32CreationTime', 'Win32LastAccessTime', 'Win32LastModifiedTime', 'Win32FileAttributes']) {
    t.match(r.body, new RegExp(`<z:${p}/>`), p);
  }
  t.match(r.body, /HTTP\/1\.1 200 OK/);
  const back = await req(`${SB}/p.txt`, 'PROPFIND', {
    headers: { depth: '0' },
    body: '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><Z:color/></D:prop></D:propfind>',
  });
  t.match(back.body, /404 Not Found/, 'the property was not stored');
  t.notMatch(back.body, /red/);
  await req(`${SB}/pd`, 'MKCOL');
  t.equal((await req(`${SB}/pd/`, 'PROPPATCH', { body })).status, 403, 'a collection URI with a trailing slash');
  t.equal((await req(`${SB}/pd`, 'PROPPATCH', { body })).status, 207, 'without the slash');
});

t.test('§4 LOCK: 200 fixed lockdiscovery, Lock-Token without angle brackets; UNLOCK: 204 ignoring the token', async (t) => {
  const r = await req(`${SB}/never-created.txt`, 'LOCK', {
    body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
  });
  t.equal(r.status, 200);
  t.match(String(r.headers['lock-token']), /^opaquelocktoken:[0-9a-f-]{36}$/, 'no <…>');
  t.match(r.body, /<d:exclusive\/>/, 'exclusive whatever was asked');
  t.match(r.body, /<d:depth>infinity<\/d:depth><d:timeout>Infinite<\/d:timeout>/);
  t.match(r.body, new RegExp(`<d:href>${String(r.headers['lock-token'])}</d:href>`));
  t.equal((await req(`${SB}/never-created.txt`, 'GET')).status, 404, 'locking a missing file creates nothing');
  t.equal((await req(`${SB}/never-created.txt`, 'UNLOCK', { headers: { 'lock-token': '<urn:bogus>' } })).status, 204);
  t.equal((await req(`${SB}/x`, 'UNLOCK')).status, 204, 'no token at all');
});

t.test('§5 bad names: : * ? " < > | → 400 IllegalArgument [G]', async (t) => {
  for (const c of [':', '*', '?', '"', '<', '>', '|']) {
    const name = encodeURIComponent(`a${c}b.txt`);
    const r = await req(`${SB}/${name}`, 'PUT', { body: 'x' });
    t.equal(r.status, 400, `PUT a${c}b.txt`);
    t.match(r.body, /<s:exception>IllegalArgument<\/s:exception>/);
    t.equal((await req(`${SB}/${name}`, 'MKCOL')).status, 400, `MKCOL a${c}b.txt`);
  }
  await req(`${SB}/ok.txt`, 'PUT', { body: 'x' });
  const mv = await req(`${SB}/ok.txt`, 'MOVE', { headers: { destination: `/dav/${SB}/${encodeURIComponent('bad*.txt')}` } });
  t.equal(mv.status, 400, 'in a MOVE Destination');
  t.equal((await req(`${SB}/ok.txt`, 'GET')).status, 200, 'source kept');
});

t.test('§5 paths: /dav//x → 400, /dav// → 404, outside /dav/ → 404', async (t) => {
  const auth = basicAuth(s.username, s.password);
  t.equal((await davRequest(`${s.origin}/dav//x`, 'PROPFIND', { auth: null, headers: { authorization: auth, depth: '0' } })).status, 400);
  t.equal((await davRequest(`${s.origin}/dav//`, 'PROPFIND', { auth: null, headers: { authorization: auth, depth: '0' } })).status, 404);
  t.equal((await davRequest(`${s.origin}/other/`, 'PROPFIND', { auth: null, headers: { authorization: auth, depth: '0' } })).status, 404);
  t.equal((await davRequest(`${s.origin}/dav`, 'PROPFIND', { auth: null, headers: { authorization: auth, depth: '0' } })).status, 207, '/dav is the root');
});
