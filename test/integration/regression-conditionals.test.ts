/**
 * Regression (review finding 8): RFC 9110 §13 conditional requests through davgate to 坚果云 accounts. davgate left
 * If-Match / If-None-Match to the upstream, but the vendor compares them as exact strings only (jianguoyun.md §4
 * "If-None-Match" and PUT rows, statement 10): no `*`, no weak comparison, no lists, If-None-Match ignored on PUT
 * (so `If-None-Match: *` overwrote an existing file: data loss for create-only uploads), If-Match ignored on GET.
 * davgate now evaluates them itself (src/proxy/conditionals.ts) and forwards none of them.
 */
import t from 'tap';
import { jianguoyunRig, type Rig } from '../helpers/jianguoyun-rig.js';

const put = (r: Rig, p: string, text: string, h: Record<string, string> = {}) =>
  r.call('PUT', p, { 'content-length': String(Buffer.byteLength(text)), ...h }, text);
const requests = (r: Rig) => r.sims.reduce((n, s) => n + s.counters.requests, 0);

t.test('conditional PUT and GET (quoted ETags, as DAV_API shows them)', async (t) => {
  const r = await jianguoyunRig(t, { sim: { budget: 100_000, etagStyle: 'quoted' } });
  t.equal((await put(r, '/c.txt', 'original')).status, 201);
  const etag = (await r.call('HEAD', '/c.txt')).headers['etag'] as string;
  t.comment(`etag ${etag}`);

  // RFC 9110 §13.1.2: If-None-Match: * fails when a current representation exists -> 412 for PUT.
  const before = requests(r);
  const create = await put(r, '/c.txt', 'clobbered', { 'if-none-match': '*' });
  t.equal(create.status, 412, 'PUT If-None-Match: * onto an existing file is 412 (create-only upload)');
  t.equal(requests(r) - before, 1, 'one PROPFIND, and no PUT reached the account');
  t.equal((await r.call('GET', '/c.txt')).text, 'original', 'and the file is untouched');

  // RFC 9110 §13.1.1: If-Match: * is true when a current representation exists.
  const anyMatch = await put(r, '/c.txt', 'updated', { 'if-match': '*' });
  t.ok(anyMatch.status === 204 || anyMatch.status === 200, `PUT If-Match: * onto an existing file succeeds (got ${anyMatch.status})`);

  const etag2 = (await r.call('HEAD', '/c.txt')).headers['etag'] as string;
  // A list containing the current tag matches (§13.1.1).
  const listMatch = await put(r, '/c.txt', 'listed', { 'if-match': `"nope", ${etag2}` });
  t.ok(listMatch.status === 204 || listMatch.status === 200, `PUT If-Match: "nope", <etag> succeeds (got ${listMatch.status})`);
  t.equal((await r.call('GET', '/c.txt')).text, 'listed');

  const etag3 = (await r.call('HEAD', '/c.txt')).headers['etag'] as string;
  // GET: If-None-Match with `*`, a weak tag or a list -> 304 (§13.1.2 weak comparison).
  t.equal((await r.call('GET', '/c.txt', { 'if-none-match': '*' })).status, 304, 'GET If-None-Match: * -> 304');
  t.equal((await r.call('GET', '/c.txt', { 'if-none-match': `W/${etag3}` })).status, 304, 'GET If-None-Match: W/<etag> -> 304');
  const listed = await r.call('GET', '/c.txt', { 'if-none-match': `"x", ${etag3}` });
  t.equal(listed.status, 304, 'GET If-None-Match: list -> 304');
  t.equal(listed.headers['etag'], etag3, 'the 304 carries the ETag (§15.4.5)');
  t.equal((await r.call('HEAD', '/c.txt', { 'if-none-match': etag3 })).status, 304, 'HEAD too');
  // GET: If-Match that does not match -> 412 (§13.1.1).
  t.equal((await r.call('GET', '/c.txt', { 'if-match': '"nope"' })).status, 412, 'GET If-Match: "nope" -> 412');
  t.equal((await r.call('GET', '/c.txt', { 'if-match': '"nope"', range: 'bytes=0-1' })).status, 412, 'GET If-Match + Range -> 412, not 206');
  // If-Match is a strong comparison: a weak tag never matches (§13.1.1).
  t.equal((await r.call('GET', '/c.txt', { 'if-match': `W/${etag3}` })).status, 412, 'GET If-Match: W/<etag> -> 412');
  const ok = await r.call('GET', '/c.txt', { 'if-match': etag3, range: 'bytes=1-3' });
  t.equal(ok.status, 206, 'GET If-Match: <etag> + Range -> 206');
  t.equal(ok.text, 'ist');
  const other = await r.call('GET', '/c.txt', { 'if-none-match': '"other"' });
  t.equal(other.status, 200, 'GET If-None-Match: another tag -> 200');
  t.equal(other.text, 'listed');
});

t.test("the vendor's bare ETag and a client's quoted one are the same tag", async (t) => {
  const r = await jianguoyunRig(t); // the simulator's default: bare ETags, as the capture in jianguoyun.md §4 shows
  t.equal((await put(r, '/b.txt', 'one')).status, 201);
  const bare = (await r.call('HEAD', '/b.txt')).headers['etag'] as string;
  t.notOk(bare.startsWith('"'), `the account sends a bare tag (${bare})`);
  t.equal((await r.call('GET', '/b.txt', { 'if-none-match': `"${bare}"` })).status, 304, 'quoted If-None-Match matches');
  t.equal((await r.call('GET', '/b.txt', { 'if-none-match': bare })).status, 304, 'the bare tag echoed back matches');
  t.equal((await put(r, '/b.txt', 'two', { 'if-match': `"${bare}"` })).status, 204, 'quoted If-Match matches on PUT');
  t.equal((await put(r, '/b.txt', 'three', { 'if-match': `"${bare}"` })).status, 412, 'the old tag no longer does');
  t.equal((await r.call('GET', '/b.txt')).text, 'two');
});

t.test('create-only upload, missing files, dates', async (t) => {
  const r = await jianguoyunRig(t);
  t.equal((await put(r, '/new.txt', 'fresh', { 'if-none-match': '*' })).status, 201, 'If-None-Match: * creates a new file');
  t.equal((await put(r, '/new.txt', 'again', { 'if-none-match': '*' })).status, 412, 'and refuses the second upload');
  t.equal((await r.call('GET', '/new.txt')).text, 'fresh');
  t.equal((await put(r, '/absent.txt', 'x', { 'if-match': '*' })).status, 412, 'If-Match: * on a missing file -> 412');
  t.equal((await r.call('GET', '/absent.txt')).status, 404, 'and nothing was created');
  t.equal((await r.call('GET', '/absent.txt', { 'if-none-match': '*' })).status, 404, 'a missing file is still 404 (§13.2.1)');

  const future = new Date(Date.now() + 3_600_000).toUTCString();
  const past = new Date(Date.now() - 3_600_000).toUTCString();
  t.equal((await r.call('GET', '/new.txt', { 'if-modified-since': future })).status, 304, 'If-Modified-Since after the change -> 304');
  t.equal((await r.call('GET', '/new.txt', { 'if-modified-since': past })).status, 200, 'before the change -> 200');
  t.equal((await r.call('GET', '/new.txt', { 'if-modified-since': 'not a date' })).status, 200, 'an invalid date is ignored');
  t.equal((await put(r, '/new.txt', 'late', { 'if-unmodified-since': past })).status, 412, 'If-Unmodified-Since before the change -> 412');
  t.equal((await put(r, '/new.txt', 'ok', { 'if-unmodified-since': future })).status, 204, 'after it -> 204');
  t.equal((await r.call('GET', '/new.txt')).text, 'ok');
});

t.test('requests without conditional headers cost what they did', async (t) => {
  const r = await jianguoyunRig(t);
  t.equal((await put(r, '/plain.txt', 'abc')).status, 201);
  let before = requests(r);
  t.equal((await r.call('GET', '/plain.txt')).status, 200);
  t.equal(requests(r) - before, 1, 'a GET is one request');
  before = requests(r);
  t.equal((await put(r, '/plain.txt', 'abcd')).status, 204);
  t.equal(requests(r) - before, 1, 'an overwrite is one request');
});
