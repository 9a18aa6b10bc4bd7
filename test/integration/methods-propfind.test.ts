/**
 * PROPFIND through davgate: Depth 0 on files, collections and the root; Depth 1 merged from every upstream
 * with each member listed once; hrefs always in the gateway's namespace; Depth infinity refused on
 * collections (RFC 4918 §9.1, `DAV:propfind-finite-depth`); bodies validated before any upstream call.
 */
import t, { type Test } from 'tap';
import { davRequest, gatewayRequest, startHarness, whereIs, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(async () => {
  await h?.stop();
});

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}
async function upstreamRequests(): Promise<number> {
  const res = await davRequest(new URL('metrics', h.url).toString(), 'GET', { auth: null });
  return metricSum(res.body, 'davgate_upstream_requests_total');
}

/** Every `<…href>` text of a multistatus body, XML-unescaped, in order. */
function hrefs(body: string): string[] {
  return [...body.matchAll(/<(?:[A-Za-z_][\w.-]*:)?href(?:\s[^>]*)?>([^<]*)<\/(?:[A-Za-z_][\w.-]*:)?href>/g)].map((m) =>
    m[1]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'),
  );
}

/** Asserts no upstream origin and no upstream base path appear anywhere in a body. */
function assertNoUpstreamLeak(t: Test, body: string, what: string): void {
  for (const u of h.upstreams) {
    const origin = new URL(u.url);
    t.notOk(body.includes(`127.0.0.1:${origin.port}`), `${what}: no upstream ${u.id} origin`);
  }
  t.notOk(body.includes('/dav/'), `${what}: no /dav/`);
}

const DIR = 'pf';
const NAMES = ['one.txt', 'two.txt', 'three.txt', 'four.txt', 'five.txt', 'six.txt', 'seven.txt', 'eight.txt'];

t.test('setup: a collection with files spread over at least two upstreams, and a subcollection', async (t) => {
  t.equal((await gatewayRequest(h, `/${DIR}/`, 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, `/${DIR}/sub/`, 'MKCOL')).status, 201);
  for (const n of NAMES) t.equal((await gatewayRequest(h, `/${DIR}/${n}`, 'PUT', { body: `content of ${n}` })).status, 201, n);
  const owners = new Set(NAMES.map((n) => whereIs(h, `/${DIR}/${n}`)[0]));
  t.ok(owners.size >= 2, `files on ${owners.size} upstreams`);
});

t.test('Depth 0 on a file', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/one.txt`, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 207);
  t.match(String(res.headers['content-type']), /xml/);
  t.same(hrefs(res.body), [`/${DIR}/one.txt`]);
  t.match(res.body, new RegExp(`getcontentlength>${'content of one.txt'.length}<`), 'length of "content of one.txt"');
  assertNoUpstreamLeak(t, res.body, 'file Depth 0');
});

t.test('Depth 0 on a collection', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/`, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 207);
  t.same(hrefs(res.body), [`/${DIR}/`]);
  t.match(res.body, /collection/);
  assertNoUpstreamLeak(t, res.body, 'collection Depth 0');
});

t.test('Depth 0 on the root', async (t) => {
  const res = await gatewayRequest(h, '/', 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 207);
  t.same(hrefs(res.body), ['/']);
  assertNoUpstreamLeak(t, res.body, 'root Depth 0');
});

t.test('Depth 0 on a missing resource: 404', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/missing.txt`, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(res.status, 404);
});

t.test('Depth 1 lists the collection once and each member once', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/`, 'PROPFIND', { headers: { depth: '1' } });
  t.equal(res.status, 207);
  const got = hrefs(res.body);
  const expected = [`/${DIR}/`, `/${DIR}/sub/`, ...NAMES.map((n) => `/${DIR}/${n}`)];
  t.same([...got].sort(), [...expected].sort(), 'exactly the collection and its members, no duplicates');
  t.equal(got[0], `/${DIR}/`, 'the collection itself first');
  assertNoUpstreamLeak(t, res.body, 'Depth 1');
});

t.test('Depth 1 on the root lists the root once', async (t) => {
  const res = await gatewayRequest(h, '/', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(res.status, 207);
  const got = hrefs(res.body);
  t.equal(got.filter((x) => x === '/').length, 1, 'root once');
  t.equal(got.filter((x) => x === `/${DIR}/`).length, 1, `/${DIR}/ once`);
  assertNoUpstreamLeak(t, res.body, 'root Depth 1');
});

t.test('Depth infinity and missing Depth on a collection: 403 propfind-finite-depth', async (t) => {
  for (const [what, headers] of [
    ['Depth infinity', { depth: 'infinity' }],
    ['no Depth', {}],
  ] as const) {
    for (const p of [`/${DIR}/`, `/${DIR}`, '/']) {
      const res = await gatewayRequest(h, p, 'PROPFIND', { headers });
      t.equal(res.status, 403, `${what} on ${p}`);
      t.match(res.body, /propfind-finite-depth/, `${what} on ${p}: precondition element`);
      t.notMatch(res.body, /multistatus/);
    }
  }
});

t.test('Depth infinity on a file: 207 with that file only', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/two.txt`, 'PROPFIND', { headers: { depth: 'infinity' } });
  t.equal(res.status, 207);
  t.same(hrefs(res.body), [`/${DIR}/two.txt`]);
  assertNoUpstreamLeak(t, res.body, 'file Depth infinity');
});

t.test('an empty body means allprop: getcontentlength is there', async (t) => {
  const res = await gatewayRequest(h, `/${DIR}/three.txt`, 'PROPFIND', { headers: { depth: '0' }, body: '' });
  t.equal(res.status, 207);
  t.match(res.body, new RegExp(`getcontentlength>${'content of three.txt'.length}<`), 'length of "content of three.txt"');
  t.match(res.body, /getlastmodified/);
  const list = await gatewayRequest(h, `/${DIR}/`, 'PROPFIND', { headers: { depth: '1' } });
  t.equal(list.status, 207);
  t.equal([...list.body.matchAll(/getcontentlength/g)].length >= NAMES.length, true, 'every file has a length');
});

t.test('malformed XML body: 400, no upstream request', async (t) => {
  const before = await upstreamRequests();
  for (const body of ['<D:propfind xmlns:D="DAV:"><D:prop>', 'not xml at all', '<a><b></a></b>']) {
    const res = await gatewayRequest(h, `/${DIR}/one.txt`, 'PROPFIND', {
      headers: { depth: '0', 'content-type': 'application/xml' },
      body,
    });
    t.equal(res.status, 400, JSON.stringify(body));
  }
  const wrongRoot = await gatewayRequest(h, `/${DIR}/one.txt`, 'PROPFIND', {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"/>',
  });
  t.equal(wrongRoot.status, 400, 'root element other than DAV:propfind');
  t.equal(await upstreamRequests(), before, 'davgate_upstream_requests_total unchanged');
});

t.test('a body with a DOCTYPE: 400, no upstream request', async (t) => {
  const before = await upstreamRequests();
  const body =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' +
    '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol2;</D:displayname></D:prop></D:propfind>';
  const res = await gatewayRequest(h, `/${DIR}/one.txt`, 'PROPFIND', {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body,
  });
  t.equal(res.status, 400);
  const plain = await gatewayRequest(h, `/${DIR}/one.txt`, 'PROPFIND', {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><!DOCTYPE propfind><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
  });
  t.equal(plain.status, 400, 'even a DOCTYPE without entities');
  t.equal(await upstreamRequests(), before, 'davgate_upstream_requests_total unchanged');
});
