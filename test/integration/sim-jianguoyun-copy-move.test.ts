/**
 * MOVE and COPY on the simulated 坚果云 account never overwrite (jianguoyun.md §4 COPY/MOVE rows, statement 9).
 */
import t, { type Test } from 'tap';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');

async function sim(t: Test): Promise<JianguoyunSim> {
  const s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw' });
  t.teardown(() => s.stop());
  return s;
}

function req(s: JianguoyunSim, p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

for (const method of ['MOVE', 'COPY']) {
  t.test(`§4 ${method} onto an existing destination → 409 DuplicateName, whatever Overwrite says`, async (t) => {
    const s = await sim(t);
    await req(s, `${SB}/a.txt`, 'PUT', { body: 'a' });
    await req(s, `${SB}/b.txt`, 'PUT', { body: 'b' });
    for (const overwrite of ['T', 'F', undefined]) {
      const headers: Record<string, string> = { destination: `${s.url}${SB}/b.txt` };
      if (overwrite) headers['overwrite'] = overwrite;
      const r = await req(s, `${SB}/a.txt`, method, { headers });
      t.equal(r.status, 409, `Overwrite: ${overwrite ?? '(none)'}`);
      t.match(r.body, /<s:exception>DuplicateName<\/s:exception><s:message>The object on path \/我的坚果云\/b\.txt existed<\/s:message>/);
      t.equal(r.headers['content-type'], 'text/xml; charset=UTF-8');
    }
    t.equal((await req(s, `${SB}/b.txt`, 'GET')).body, 'b', 'destination untouched');
    t.equal((await req(s, `${SB}/a.txt`, 'GET')).body, 'a', 'source untouched');
  });

  t.test(`§4 ${method} to a new destination → 201; Destination required`, async (t) => {
    const s = await sim(t);
    await req(s, `${SB}/d`, 'MKCOL');
    await req(s, `${SB}/d/f.txt`, 'PUT', { body: 'f' });
    const r = await req(s, `${SB}/d`, method, { headers: { destination: `/dav/${SB}/e` } });
    t.equal(r.status, 201, 'a folder, Destination as an absolute path');
    t.equal((await req(s, `${SB}/e/f.txt`, 'GET')).body, 'f', 'members came along');
    t.equal((await req(s, `${SB}/d/f.txt`, 'GET')).status, method === 'MOVE' ? 409 : 200, method === 'MOVE' ? 'source gone' : 'source kept');
    t.equal((await req(s, `${SB}/e/f.txt`, method, { headers: { destination: `${s.url}${SB}/g.txt` } })).status, 201, 'a file, absolute URL');
    const noDest = await req(s, `${SB}/g.txt`, method);
    t.equal(noDest.status, 400, 'no Destination');
    t.equal((await req(s, `${SB}/nope.txt`, method, { headers: { destination: `${s.url}${SB}/h.txt` } })).status, 404, 'missing source');
    t.equal((await req(s, `${SB}/g.txt`, method, { headers: { destination: `${s.url}${SB}/no/h.txt` } })).status, 409, 'missing destination parent');
    t.equal((await req(s, `${SB}/g.txt`, method, { headers: { destination: `${s.url}g.txt` } })).status, 404, 'a file cannot land under /dav/');
  });
}

t.test('§4 MOVE keeps the ETag and version; COPY makes a new file (version 1)', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/a.txt`, 'PUT', { body: '1' });
  await req(s, `${SB}/a.txt`, 'PUT', { body: '2' });
  const etag = (await req(s, `${SB}/a.txt`, 'HEAD')).headers['etag'];
  await req(s, `${SB}/a.txt`, 'MOVE', { headers: { destination: `/dav/${SB}/b.txt` } });
  t.equal((await req(s, `${SB}/b.txt`, 'HEAD')).headers['etag'], etag);
  t.equal((await req(s, `${SB}/b.txt`, 'PUT', { body: '3' })).headers['x-file-version'], '3');
  await req(s, `${SB}/b.txt`, 'COPY', { headers: { destination: `/dav/${SB}/c.txt` } });
  t.equal((await req(s, `${SB}/c.txt`, 'PUT', { body: '4' })).headers['x-file-version'], '2');
});
