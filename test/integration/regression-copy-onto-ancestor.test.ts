/**
 * Regression (break-test finding 1): a COPY or MOVE whose destination is a collection containing the source
 * deleted that whole collection, source included (RFC 4918 §9.8.4: the destination is deleted first), and
 * answered 204/409/502. It must be refused before anything changes, on every profile.
 */
import t from 'tap';
import { gatewayRequest, startHarness } from '../helpers/harness.js';
import { jianguoyunRig } from '../helpers/jianguoyun-rig.js';

const CASES: [method: string, source: string, destination: string][] = [
  ['COPY', '/p/q/', '/p'],
  ['MOVE', '/p/q/', '/p/'],
  ['COPY', '/p/q/file.txt', '/p/q'],
  ['COPY', '/p/q/file.txt', '/p'],
  ['MOVE', '/p/q/file.txt', '/p/q/'],
];

t.test('generic upstreams: refused, nothing lost', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.stop());
  const go = (p: string, method: string, opts: Parameters<typeof gatewayRequest>[3] = {}) => gatewayRequest(h, p, method, opts);
  t.equal((await go('/p/', 'MKCOL')).status, 201);
  t.equal((await go('/p/q/', 'MKCOL')).status, 201);
  t.equal((await go('/p/q/file.txt', 'PUT', { body: 'precious' })).status, 201);
  t.equal((await go('/p/other.txt', 'PUT', { body: 'also precious' })).status, 201);
  for (const [method, src, dst] of CASES) {
    const r = await go(src, method, { headers: { destination: new URL(dst.slice(1), h.url).href, overwrite: 'T' } });
    t.equal(r.status, 403, `${method} ${src} onto ${dst}: 403`);
    t.equal((await go('/p/q/file.txt', 'GET')).status, 200, 'the source survives');
    t.equal((await go('/p/other.txt', 'GET')).status, 200, 'its neighbours survive');
  }
});

t.test('坚果云 accounts: refused, nothing lost', async (t) => {
  const rig = await jianguoyunRig(t);
  t.equal((await rig.call('MKCOL', '/p/')).status, 201);
  t.equal((await rig.call('MKCOL', '/p/q/')).status, 201);
  t.equal((await rig.call('PUT', '/p/q/file.txt', { 'content-length': '8' }, 'precious')).status, 201);
  for (const [method, src, dst] of CASES) {
    const r = await rig.call(method, src, { destination: rig.url(dst), overwrite: 'T' });
    t.equal(r.status, 403, `${method} ${src} onto ${dst}: 403`);
    t.equal((await rig.call('GET', '/p/q/file.txt')).text, 'precious', 'the source survives');
  }
});
