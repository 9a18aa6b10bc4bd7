/**
 * Writes on the simulated 坚果云 account: MKCOL (jianguoyun.md §4, statement 4), the root and sandboxes (§5,
 * statement 5), PUT (§3/§4, statement 6) and If-Match (§4, statement 10).
 */
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startJianguoyunSim, type JianguoyunSim, type JianguoyunSimOptions } from '../../src/sim/jianguoyun.js';
import { basicAuth, davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');
const ANCESTORS_NOT_FOUND =
  '<?xml version="1.0" encoding="UTF-8" standalone="no"?><d:error xmlns:d="DAV:" xmlns:s="http://ns.jianguoyun.com">' +
  '<s:exception>AncestorsNotFound</s:exception><s:message>The ancestors of this location does not found</s:message></d:error>';

async function sim(t: Test, opts: JianguoyunSimOptions = {}): Promise<JianguoyunSim> {
  const s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw', ...opts });
  t.teardown(() => s.stop());
  return s;
}

function req(s: JianguoyunSim, p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

t.test('§4 MKCOL: 409 AncestorsNotFound (235 bytes), 405 ResourceExisted, 201', async (t) => {
  const s = await sim(t);
  const r = await req(s, `${SB}/a/b/`, 'MKCOL');
  t.equal(r.status, 409, 'parent missing');
  t.equal(r.body, ANCESTORS_NOT_FOUND);
  t.equal(r.bytes.length, 235, 'the size captured in nyaterm#611');
  t.equal(r.headers['content-type'], 'text/xml; charset=UTF-8');
  t.equal(r.headers['pragma'], 'no-cache');
  t.equal(r.headers['cache-control'], 'no-cache');
  t.equal(r.headers['server'], 'nginx');
  t.equal((await req(s, `${SB}/a/`, 'MKCOL')).status, 201);
  const again = await req(s, `${SB}/a`, 'MKCOL');
  t.equal(again.status, 405, 'target exists');
  t.match(again.body, /<s:exception>ResourceExisted<\/s:exception>/);
  t.equal((await req(s, `${SB}/a/b/`, 'MKCOL')).status, 201, 'no recursive creation needed once a exists');
  await req(s, `${SB}/a/f.txt`, 'PUT', { body: 'x' });
  t.equal((await req(s, `${SB}/a/f.txt`, 'MKCOL')).status, 405, 'a file is there');
  t.equal((await req(s, `${SB}/a/f.txt/sub`, 'MKCOL')).status, 409, 'the parent is a file');
});

t.test('§5 root behaviour: MKCOL /dav/<new> creates a sandbox; PUT /dav/<file> → 404 ObjectNotFound', async (t) => {
  const s = await sim(t);
  t.equal((await req(s, 'typo-app', 'MKCOL')).status, 201, 'a new sandbox');
  t.equal((await req(s, 'typo-app/', 'MKCOL')).status, 201, 'again: 201 for an existing sandbox [G]');
  t.equal((await req(s, 'typo-app/x.txt', 'PUT', { body: 'x' })).status, 201, 'the sandbox is writable');
  const r = await req(s, 'x.json', 'PUT', { body: '{}' });
  t.equal(r.status, 404);
  t.match(r.body, /<s:exception>ObjectNotFound<\/s:exception><s:message>The resource of this location does not exist<\/s:message>/);
  t.equal((await req(s, '', 'MKCOL')).status, 405, 'MKCOL /dav/ itself');
  t.equal((await req(s, '', 'DELETE')).status, 403, 'the root cannot be deleted');
  t.equal((await req(s, 'typo-app', 'DELETE')).status, 403, 'a sandbox root cannot be deleted');
});

t.test('§4 PUT: 201 + X-File-Version 1, then 204 + incremented version; 409 AncestorsNotFound without parent', async (t) => {
  const s = await sim(t);
  const first = await req(s, `${SB}/f.txt`, 'PUT', { body: 'one' });
  t.equal(first.status, 201);
  t.equal(first.headers['x-file-version'], '1');
  const second = await req(s, `${SB}/f.txt`, 'PUT', { body: 'two' });
  t.equal(second.status, 204, 'overwrite needs no special header');
  t.equal(second.headers['x-file-version'], '2');
  t.equal((await req(s, `${SB}/f.txt`, 'PUT', { body: 'three' })).headers['x-file-version'], '3');
  t.equal((await req(s, `${SB}/f.txt`, 'GET')).body, 'three');
  const orphan = await req(s, `${SB}/missing/f.txt`, 'PUT', { body: 'x' });
  t.equal(orphan.status, 409);
  t.equal(orphan.body, ANCESTORS_NOT_FOUND);
  await req(s, `${SB}/dir`, 'MKCOL');
  t.equal((await req(s, `${SB}/dir`, 'PUT', { body: 'x' })).status, 405, 'onto a folder [G]');
  t.equal((await req(s, `${SB}/empty.txt`, 'PUT', { body: '' })).status, 201, 'an empty file');
});

t.test('§4 PUT without Content-Length (chunked) → 411 [G]', async (t) => {
  const s = await sim(t);
  const res = await request(`${s.url}${SB}/chunked.txt`, {
    method: 'PUT',
    headers: { authorization: basicAuth(s.username, s.password) },
    body: Readable.from([Buffer.from('abc'), Buffer.from('def')]),
  });
  await res.body.dump();
  t.equal(res.statusCode, 411);
  t.equal((await req(s, `${SB}/chunked.txt`, 'GET')).status, 404, 'nothing was stored');
});

t.test('§3 PUT over the single-file cap → 413 (front nginx)', async (t) => {
  const s = await sim(t, { maxFileBytes: 10 });
  t.equal((await req(s, `${SB}/ok.bin`, 'PUT', { body: '0123456789' })).status, 201, 'exactly the cap');
  const r = await req(s, `${SB}/big.bin`, 'PUT', { body: '0123456789A' });
  t.equal(r.status, 413);
  t.match(r.body, /413 Request Entity Too Large/);
  t.equal((await req(s, `${SB}/big.bin`, 'GET')).status, 404, 'nothing was stored');
});

t.test('§4 If-Match: an exact-string mismatch → 412; a match → 204', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/f.txt`, 'PUT', { body: 'one' });
  const etag = String((await req(s, `${SB}/f.txt`, 'HEAD')).headers['etag']);
  t.equal((await req(s, `${SB}/f.txt`, 'PUT', { body: 'x', headers: { 'if-match': 'nope' } })).status, 412);
  t.equal((await req(s, `${SB}/f.txt`, 'PUT', { body: 'x', headers: { 'if-match': `"${etag}"` } })).status, 412, 'quoted ≠ bare');
  t.equal((await req(s, `${SB}/new.txt`, 'PUT', { body: 'x', headers: { 'if-match': etag } })).status, 412, 'no file [G]');
  t.equal((await req(s, `${SB}/f.txt`, 'GET')).body, 'one', 'not overwritten');
  t.equal((await req(s, `${SB}/f.txt`, 'PUT', { body: 'two', headers: { 'if-match': etag } })).status, 204);

  const q = await sim(t, { etagStyle: 'quoted' });
  await req(q, `${SB}/f.txt`, 'PUT', { body: 'one' });
  const qe = String((await req(q, `${SB}/f.txt`, 'HEAD')).headers['etag']);
  t.match(qe, /^"[^"]{22}"$/, 'etagStyle quoted');
  t.equal((await req(q, `${SB}/f.txt`, 'PUT', { body: 'x', headers: { 'if-match': qe } })).status, 204);
});

t.test('§4 DELETE: 204, recursive; 404 / 409 when missing', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/d`, 'MKCOL');
  await req(s, `${SB}/d/e`, 'MKCOL');
  await req(s, `${SB}/d/e/f.txt`, 'PUT', { body: 'x' });
  t.equal((await req(s, `${SB}/d`, 'DELETE')).status, 204);
  t.equal((await req(s, `${SB}/d/e/f.txt`, 'GET')).status, 409, 'gone with its folder');
  t.equal((await req(s, `${SB}/d`, 'DELETE')).status, 404);
  t.equal((await req(s, `${SB}/d/e`, 'DELETE')).status, 409);
});
