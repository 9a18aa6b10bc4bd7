/**
 * Regressions found by a new-user trial:
 * - an untagged `If` header (`If: (["abc"])`) made webdav-server throw from a callback and took the whole
 *   demo process down (the demo's upstreams run in-process);
 * - malformed percent-encoding (`/a%zz`) was answered by Fastify with a JSON body instead of davgate's
 *   plain-text 400.
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

t.test('untagged If conditions reach a demo upstream without killing it', async (t) => {
  t.equal((await gatewayRequest(h, '/if.txt', 'PUT', { body: 'x' })).status, 201);
  for (const cond of ['(["abc"])', '(<urn:x>)', '([W/"etag"])']) {
    const r = await gatewayRequest(h, '/if.txt', 'PUT', { body: 'y', headers: { if: cond } });
    // webdav-server evaluates If loosely (200); what matters here is an answer at all. davgate evaluates If
    // itself once it holds locks (issue 3).
    t.ok([200, 412].includes(r.status), `If: ${cond} answered (${r.status})`);
  }
  t.equal((await gatewayRequest(h, '/if.txt', 'GET')).status, 200, 'upstreams still serving');
});

t.test('malformed percent-encoding is a plain-text 400', async (t) => {
  for (const path of ['/a%zz', '/%', '/a%e9']) {
    const r = await gatewayRequest(h, path, 'GET');
    t.equal(r.status, 400, path);
    t.match(String(r.headers['content-type']), /^text\/plain/, `${path}: plain text`);
  }
});
