/**
 * MKCOL through davgate over simulated 坚果云 accounts answers as RFC 4918 §9.3.1 says, whatever the vendor's
 * own codes (jianguoyun.md statement 4: 409 AncestorsNotFound, 405 ResourceExisted, and 201 for an existing
 * sandbox): 201 created, 405 when anything exists at the URL, 409 without a parent, 415 with a body.
 */
import t from 'tap';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

t.test('MKCOL status codes are RFC 4918 ones', async (t) => {
  const rig = await jianguoyunRig(t);
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    (await rig.call(method, path, headers, body)).status;
  t.equal(await call('MKCOL', '/m/'), 201, 'a new collection: 201');
  t.equal(await call('MKCOL', '/m/'), 405, 'an existing collection: 405 (§9.3.1)');
  t.equal(await call('MKCOL', '/m'), 405, 'the same without the slash');
  t.equal(await call('MKCOL', '/none/sub/'), 409, 'a missing parent: 409 (§9.3.1)');
  t.equal(await call('PUT', '/m/f.txt', { 'content-length': '1' }, 'x'), 201);
  t.equal(await call('MKCOL', '/m/f.txt'), 405, 'a file already at the URL: 405');
  t.equal(await call('MKCOL', '/m/f.txt/sub/'), 409, 'a file as the parent: 409');
  t.equal(await call('MKCOL', '/m/b/', { 'content-type': 'application/xml', 'content-length': '5' }, '<a/>\n'), 415, 'a body: 415 (§9.3)');
  t.equal(await call('MKCOL', '/m/bad:name/'), 400, 'a name the vendor forbids: 400 before any upstream call');
  t.equal(await call('MKCOL', '/m/b/'), 201, 'and a later MKCOL of the same name works');
  t.equal(await call('PROPFIND', '/m/b/', { depth: '0' }), 207, 'the collection is there');
  // Regression (new-user trial, finding 7): concurrent MKCOLs of one name all answered 201.
  const race = await Promise.all(Array.from({ length: 6 }, () => call('MKCOL', '/m/race/')));
  t.same(race.sort(), [201, 405, 405, 405, 405, 405], 'regression: concurrent MKCOLs: one 201, the rest 405');
});
