/**
 * What each client action costs the 坚果云 accounts' request budgets, counted by the simulated accounts
 * themselves: the README's "Choosing budgets" table states these numbers, and this test keeps it true.
 * Three accounts; the counts are totals over all of them.
 */
import t from 'tap';
import { rank } from '../../src/placement/hrw.js';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (k: string) => rank(k, IDS)[0]!.id;

t.test('requests per client action', async (t) => {
  const rig = await jianguoyunRig(t);
  const total = () => rig.sims.reduce((n, s) => n + s.counters.requests, 0);
  const cost = async (what: string, fn: () => Promise<unknown>) => {
    const before = total();
    await fn();
    const n = total() - before;
    t.comment(`${what}: ${n}`);
    return n;
  };
  const ok = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const r = await rig.call(method, path, headers, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status}`);
    return r;
  };
  const put = (p: string, body = 'x') => ok('PUT', p, { 'content-length': String(body.length) }, body);

  t.equal(await cost('OPTIONS', () => ok('OPTIONS', '/')), 0, 'OPTIONS: none');
  t.equal(await cost('MKCOL', () => ok('MKCOL', '/c/')), 6, 'MKCOL: an existence check and the MKCOL, per account');
  const again = await cost('MKCOL of a folder davgate made', async () => t.equal((await rig.call('MKCOL', '/c/')).status, 405));
  t.equal(again, 0, 'MKCOL of a known folder: 405 at no cost (rclone sends one before every upload)');
  t.equal(await cost('PUT into a folder made through davgate', () => put('/c/a.txt')), 1, 'PUT: 1 (the folder is known)');
  const names = Array.from({ length: 40 }, (_, i) => `/c/f${i}.txt`);
  for (const n of names) await put(n);
  t.equal(await cost('PUT (overwrite)', () => put(names[0]!, 'y')), 1, 'PUT overwrite: 1');
  t.equal(await cost('GET', () => ok('GET', names[0]!)), 1, 'GET of a file: 1');
  t.equal(await cost('HEAD', () => ok('HEAD', names[0]!)), 1, 'HEAD of a file: 1');
  t.equal(await cost('PROPFIND Depth 0 of a file', () => ok('PROPFIND', names[0]!, { depth: '0' })), 1, 'PROPFIND Depth 0 of a file: 1');
  t.equal(await cost('PROPFIND Depth 1', () => ok('PROPFIND', '/c/', { depth: '1' })), 3, 'a listing: one page per account');
  t.equal(await cost('PROPFIND Depth 1 of a folder, no slash', () => ok('PROPFIND', '/c', { depth: '1' })), 3, 'the same without the slash (a known folder)');
  const fileListing = await rig.call('PROPFIND', names[0]!, { depth: '1' });
  t.equal(fileListing.status, 207);
  t.equal(await cost('PROPFIND Depth 1 of a file', () => ok('PROPFIND', names[0]!, { depth: '1' })), 1, 'Depth 1 of a file: 1, its owner (rclone reads each upload this way)');
  t.equal(await cost('DELETE of a file', () => ok('DELETE', names[1]!)), 4, 'DELETE of a file: a PROPFIND per account to find copies, and the DELETE');
  const on = (u: string, except: string[]) => names.filter((n) => owner(n) === u && !except.includes(n));
  const [a, b, c] = on('j0', [names[0]!, names[1]!]);
  const other = on('j1', [names[0]!, names[1]!])[0]!;
  // A new name owned by the same account as the source, and one owned by another account.
  const fresh = (u: string) => Array.from({ length: 60 }, (_, i) => `/c/new${i}.txt`).find((n) => owner(n) === u)!;
  t.equal(await cost('MOVE to a new name, same account', () => ok('MOVE', a!, { destination: rig.url(fresh('j0')) })), 5, 'MOVE, same account: 5');
  t.equal(await cost('MOVE to a new name, other account', () => ok('MOVE', b!, { destination: rig.url(fresh('j2')) })), 7, 'MOVE across accounts: 7 (GET, PUT, DELETE)');
  t.equal(await cost('MOVE onto an existing file, same account', () => ok('MOVE', c!, { destination: rig.url(fresh('j0')) })), 7, 'MOVE replacing a file, same account: 2 more (rename aside, delete it)');
  t.equal(await cost('COPY onto an existing file, other account', () => ok('COPY', other, { destination: rig.url(names[0]!) })), 6, 'COPY replacing a file across accounts');
  await ok('MKCOL', '/d/');
  t.equal(await cost('collection MOVE', () => ok('MOVE', '/d/', { destination: rig.url('/e/') })), 10, 'collection MOVE: about 3 per account');
  t.equal(await cost('collection DELETE', () => ok('DELETE', '/e/')), 6, 'collection DELETE: 2 per account');
  t.equal(
    await cost('LOCK', () =>
      ok('LOCK', names[0]!, { timeout: 'Second-60' }, '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>'),
    ),
    1,
    'LOCK: only locating the resource',
  );
});
