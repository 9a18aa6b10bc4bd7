/**
 * Regression (break-test of issue 8): on the generic demo, `Range: bytes=3-1` (last below first, invalid by
 * RFC 9110 §14.1.1) was forwarded; the demo's upstream broke the connection, davgate answered 502/503 and counted
 * transport failures, and a handful of such requests marked a healthy upstream down (every listing then 503).
 * `bytes=abc` got "502 upstream unreachable" for the upstream's 400. A Range that is not a valid bytes range is
 * ignored (§14.2: the whole file, 200) and never reaches an upstream.
 */
import t from 'tap';
import { gatewayRequest, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
});

t.test('regression: invalid Range headers are ignored, never forwarded, and never mark an upstream down', async (t) => {
  const content = 'abcdefghijklmnopqrstuvwxyz';
  t.equal((await gatewayRequest(h, '/range-bad.txt', 'PUT', { body: content })).status, 201);
  const statuses: number[] = [];
  let whole = 0;
  for (let i = 0; i < 8; i++) {
    for (const range of ['bytes=3-1', 'bytes=abc', 'bytes=', 'items=0-1', '3-4']) {
      const res = await gatewayRequest(h, '/range-bad.txt', 'GET', { headers: { range: range } });
      statuses.push(res.status);
      if (res.body === content) whole++;
    }
  }
  t.same([...new Set(statuses)], [200], `every answer is 200 (${[...new Set(statuses)].join(', ')})`);
  t.equal(whole, statuses.length, 'every answer is the whole file');
  t.same(
    h.server.gateway.enabled.filter((u) => !u.health.healthy).map((u) => u.id),
    [],
    'no upstream marked down',
  );
  t.equal((await gatewayRequest(h, '/', 'PROPFIND', { headers: { depth: '1' } })).status, 207, 'listings still answer');
  const ok = await gatewayRequest(h, '/range-bad.txt', 'GET', { headers: { range: 'bytes=2-4' } });
  t.equal(ok.status, 206, 'a valid range is still served as a part');
  t.equal(ok.body, 'cde');
});
