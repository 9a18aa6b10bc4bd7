/**
 * Regression (litmus locks, notowner_modify): a MOVE of a locked file whose destination hashes to another
 * upstream copied the bytes, then failed to delete the locked source and answered 502, leaving two files.
 * Now the copy is undone and the client gets the source's 423; a COPY onto a locked destination answers
 * the destination's 423 instead of 502.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { rank } from '../../src/placement/hrw.js';
import { DIRECT, startTarget } from './helpers/target.js';

const LOCKINFO =
  '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>' +
  '<D:locktype><D:write/></D:locktype><D:owner>regression</D:owner></D:lockinfo>';

t.test('MOVE of a locked source across upstreams', { skip: DIRECT ? 'gateway only' : false }, async (t) => {
  const target = await startTarget(t, { upstreams: 3 });
  const ids = target.upstreams.map((u) => ({ id: u.id, weight: 1 }));
  const owner = (key: string) => rank(key, ids)[0]!.id;
  const src = '/locked-src.txt';
  let dst = '';
  for (let i = 0; !dst; i++) if (owner(`/dst-${i}.txt`) !== owner(src)) dst = `/dst-${i}.txt`;
  const onDisk = (key: string) => target.upstreams.filter((u) => existsSync(join(u.dataDir, key))).map((u) => u.id);
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const r = await request(new URL(path.slice(1), target.url), {
      method: method as 'GET',
      headers: { authorization: target.authorization, ...headers },
      body,
    });
    await r.body.dump();
    return r.statusCode;
  };

  t.equal(await call('PUT', src, {}, 'payload'), 201);
  t.equal(await call('LOCK', src, { 'content-type': 'application/xml', timeout: 'Second-60' }, LOCKINFO), 200);
  t.equal(await call('MOVE', src, { destination: new URL(dst.slice(1), target.url).href }), 423, 'MOVE answers 423');
  t.same(onDisk(dst), [], 'no copy left at the destination');
  t.same(onDisk(src), [owner(src)], 'the source is still in place');

  t.equal(await call('PUT', dst, {}, 'dest'), 201);
  t.equal(await call('LOCK', dst, { 'content-type': 'application/xml', timeout: 'Second-60' }, LOCKINFO), 200);
  let copySrc = '';
  for (let i = 0; !copySrc; i++) if (owner(`/c-${i}.txt`) !== owner(dst)) copySrc = `/c-${i}.txt`;
  t.equal(await call('PUT', copySrc, {}, 'c'), 201);
  const st = await call('COPY', copySrc, { destination: new URL(dst.slice(1), target.url).href });
  t.equal(st, 423, 'COPY onto a locked destination answers 423');
});
