/**
 * Listings of the simulated 坚果云 account: 750-entry pages with `Link: rel=next` (jianguoyun.md §5, statement 2),
 * Depth handling (§4, statement 3), the read-only root with sandboxes (§5, statement 5) and the properties served
 * (§4, statement 14).
 */
import t, { type Test } from 'tap';
import { DAV_NS, findChild, findChildren, parseXml, textOf, type XmlElement } from '../../src/dav/xml.js';
import { startJianguoyunSim, type JianguoyunSim, type JianguoyunSimOptions } from '../../src/sim/jianguoyun.js';
import { davRequest, type DavRequestOptions, type DavResponse } from '../helpers/harness.js';

const SB = encodeURIComponent('我的坚果云');

async function sim(t: Test, opts: JianguoyunSimOptions = {}): Promise<JianguoyunSim> {
  const s = await startJianguoyunSim({ username: 'u@example.com', password: 'app-pw', ...opts });
  t.teardown(() => s.stop());
  return s;
}

function req(s: JianguoyunSim, p: string, method: string, opts: DavRequestOptions = {}): Promise<DavResponse> {
  return davRequest(s.url + p, method, { auth: { username: s.username, password: s.password }, ...opts });
}

interface Parsed {
  href: string;
  /** Props in the 200 propstat: local name → text (`<collection/>` etc. give `''`), element kept in `el`. */
  ok: Map<string, { text: string; el: XmlElement }>;
  /** Local names in the 404 propstat. */
  missing: string[];
}

function parse(body: string): Parsed[] {
  const root = parseXml(body);
  return findChildren(root, DAV_NS, 'response').map((r) => {
    const out: Parsed = { href: textOf(findChild(r, DAV_NS, 'href')!), ok: new Map(), missing: [] };
    for (const ps of findChildren(r, DAV_NS, 'propstat')) {
      const status = textOf(findChild(ps, DAV_NS, 'status')!);
      const props = findChild(ps, DAV_NS, 'prop')!.children.filter((c): c is XmlElement => typeof c !== 'string');
      for (const p of props) {
        if (status.includes(' 200 ')) out.ok.set(p.local, { text: textOf(p), el: p });
        else if (status.includes(' 404 ')) out.missing.push(p.local);
      }
    }
    return out;
  });
}

t.test('§5 listing page size: at most pageSize entries, Link rel=next, last page without Link', async (t) => {
  const s = await sim(t, { pageSize: 5 });
  t.equal((await req(s, `${SB}/big`, 'MKCOL')).status, 201);
  const names = Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}.txt`);
  for (const n of names) t.equal((await req(s, `${SB}/big/${n}`, 'PUT', { body: n })).status, 201);

  const seen: string[] = [];
  let url = `${s.url}${SB}/big`;
  let pages = 0;
  for (;;) {
    const r = await davRequest(url, 'PROPFIND', { auth: s, headers: { depth: '1' } });
    t.equal(r.status, 207);
    pages++;
    const entries = parse(r.body);
    t.ok(entries.length <= 5, `page ${pages} has at most 5 entries, the folder's own included`);
    t.equal(entries[0]!.href, `/dav/${SB.toLowerCase()}/big`, 'every page opens with the folder itself');
    seen.push(...entries.slice(1).map((e) => e.href.split('/').pop()!));
    const link = r.headers['link'];
    if (link === undefined) break;
    const m = /^<(http:\/\/127\.0\.0\.1:\d+\/dav\/([^?>]+))\?mk=([A-Za-z0-9_-]+)>; rel="next"$/.exec(String(link));
    t.ok(m, `Link header shape: ${String(link)}`);
    t.equal(m![2], `${SB.toLowerCase()}/big`, 'the Link names the listed folder');
    url = m![0].slice(1, m![0].indexOf('>'));
  }
  t.equal(pages, 3, '12 children at 4 per page');
  t.same(seen, names, 'every child exactly once, in order');
});

t.test('§5 listing page size: the default is 750 entries', async (t) => {
  const s = await sim(t, { budget: 10_000 }); // 754 requests: above the free plan's 600
  await req(s, `${SB}/d`, 'MKCOL');
  for (let i = 0; i < 751; i++) await req(s, `${SB}/d/${i}`, 'MKCOL');
  const p1 = await req(s, `${SB}/d`, 'PROPFIND', { headers: { depth: '1' } });
  t.equal(parse(p1.body).length, 750);
  t.ok(p1.headers['link']);
  const next = /^<([^>]+)>/.exec(String(p1.headers['link']))![1]!;
  const p2 = await davRequest(next, 'PROPFIND', { auth: s, headers: { depth: '1' } });
  t.equal(parse(p2.body).length, 3, 'the folder plus the last two of 751');
  t.equal(p2.headers['link'], undefined);
});

t.test('§4 Depth handling: infinity or none → direct children only; other values → 400', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/a`, 'MKCOL');
  await req(s, `${SB}/a/b`, 'MKCOL');
  await req(s, `${SB}/a/b/deep.txt`, 'PUT', { body: 'x' });
  await req(s, `${SB}/a/top.txt`, 'PUT', { body: 'x' });
  const expected = [`/dav/${SB.toLowerCase()}/a`, `/dav/${SB.toLowerCase()}/a/b`, `/dav/${SB.toLowerCase()}/a/top.txt`];
  for (const depth of ['infinity', undefined]) {
    const r = await req(s, `${SB}/a`, 'PROPFIND', depth === undefined ? {} : { headers: { depth } });
    t.equal(r.status, 207, `Depth ${depth ?? '(none)'} is not refused`);
    t.same(parse(r.body).map((e) => e.href), expected, `Depth ${depth ?? '(none)'}: the folder and its direct children`);
  }
  t.same(parse((await req(s, `${SB}/a`, 'PROPFIND', { headers: { depth: '0' } })).body).map((e) => e.href), [expected[0]]);
  t.equal(parse((await req(s, `${SB}/a`, 'PROPFIND', { headers: { depth: '1' } })).body).length, 3);
  for (const depth of ['2', 'foo', '-1']) {
    const r = await req(s, `${SB}/a`, 'PROPFIND', { headers: { depth } });
    t.equal(r.status, 400, `Depth ${depth} → 400`);
  }
});

t.test('§5 root behaviour: PROPFIND /dav/ lists the sandboxes, read-only', async (t) => {
  const s = await sim(t, { sandboxes: ['我的坚果云', 'app'] });
  const r = await req(s, '', 'PROPFIND', { headers: { depth: '1' } });
  t.equal(r.status, 207);
  const entries = parse(r.body);
  t.same(entries.map((e) => e.href), ['/dav/', '/dav/app', `/dav/${SB.toLowerCase()}`]);
  const privs = (e: Parsed): string[] =>
    findChildren(e.ok.get('current-user-privilege-set')!.el, DAV_NS, 'privilege').map(
      (p) => (p.children.find((c) => typeof c !== 'string') as XmlElement).local,
    );
  t.same(privs(entries[0]!), ['read'], '/dav/ is read-only');
  t.same(privs(entries[1]!), ['read', 'write', 'all'], 'a sandbox is writable');
  t.equal(entries[2]!.ok.get('displayname')!.text, '我的坚果云');
});

t.test('§4 props: folders have getcontentlength 0, an empty getetag, httpd/unix-directory; no trailing slash', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/sub dir`, 'MKCOL');
  await req(s, `${SB}/sub dir/${encodeURIComponent('文件 1.txt')}`, 'PUT', { body: 'hello' });
  const r = await req(s, `${SB}/sub%20dir`, 'PROPFIND', { headers: { depth: '1' } });
  const [dir, file] = parse(r.body);
  t.equal(dir!.href, `/dav/${SB.toLowerCase()}/sub%20dir`, 'folder href without a trailing slash');
  t.ok(findChild(dir!.ok.get('resourcetype')!.el, DAV_NS, 'collection'));
  t.equal(dir!.ok.get('getcontentlength')!.text, '0');
  t.equal(dir!.ok.get('getetag')!.text, '', 'empty <d:getetag/>');
  t.equal(dir!.ok.get('getcontenttype')!.text, 'httpd/unix-directory');
  t.match(r.body, /<d:getetag\/>/);
  t.equal(file!.href, `/dav/${SB.toLowerCase()}/sub%20dir/%e6%96%87%e4%bb%b6%201.txt`, 'lowercase percent-encoding');
  t.equal(file!.ok.get('displayname')!.text, '文件 1.txt');
  t.equal(file!.ok.get('getcontentlength')!.text, '5');
  t.equal(file!.ok.get('getcontenttype')!.text, 'text/plain');
  t.match(file!.ok.get('getlastmodified')!.text, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/, 'RFC 1123');
  t.match(file!.ok.get('getetag')!.text, /^[A-Za-z0-9+/]{22}$/, 'an opaque 22-character token');
  t.equal(file!.ok.get('owner')!.text, 'u@example.com');
  t.equal(file!.ok.get('resourcetype')!.el.children.length, 0);
});

t.test('§4 unsupported props: quota props come back in a 404 propstat', async (t) => {
  const s = await sim(t);
  const body =
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><D:prop><D:quota-available-bytes/>' +
    '<D:quota-used-bytes/><D:displayname/><x:custom/></D:prop></D:propfind>';
  const r = await req(s, SB, 'PROPFIND', { headers: { depth: '0' }, body });
  t.equal(r.status, 207);
  const [e] = parse(r.body);
  t.same([...e!.ok.keys()], ['displayname']);
  t.same(e!.missing, ['quota-available-bytes', 'quota-used-bytes', 'custom']);
});

t.test('§4 getetag only comes with resourcetype or getcontenttype', async (t) => {
  const s = await sim(t);
  await req(s, `${SB}/f.txt`, 'PUT', { body: 'x' });
  const ask = (props: string): Promise<DavResponse> =>
    req(s, `${SB}/f.txt`, 'PROPFIND', { headers: { depth: '0' }, body: `<propfind xmlns="DAV:"><prop>${props}</prop></propfind>` });
  t.same(parse((await ask('<getetag/>')).body)[0]!.missing, ['getetag'], 'alone: no value');
  t.ok(parse((await ask('<getetag/><resourcetype/>')).body)[0]!.ok.has('getetag'));
  t.ok(parse((await ask('<getcontenttype/><getetag/>')).body)[0]!.ok.has('getetag'));
  const names = parse((await req(s, `${SB}/f.txt`, 'PROPFIND', { headers: { depth: '0' }, body: '<propfind xmlns="DAV:"><propname/></propfind>' })).body)[0]!;
  t.ok(names.ok.has('getetag') && names.ok.has('displayname'), 'propname lists the supported set');
});

t.test('§4 PROPFIND of a missing resource: 404 ObjectNotFound, 409 AncestorsNotFound under a missing folder', async (t) => {
  const s = await sim(t);
  const r404 = await req(s, `${SB}/nope`, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(r404.status, 404);
  t.match(r404.body, /<s:exception>ObjectNotFound<\/s:exception>/);
  const r409 = await req(s, `${SB}/nope/deeper`, 'PROPFIND', { headers: { depth: '0' } });
  t.equal(r409.status, 409);
  t.match(r409.body, /<s:exception>AncestorsNotFound<\/s:exception>/);
  t.equal((await req(s, SB, 'PROPFIND', { headers: { depth: '0' }, body: '<not-xml' })).status, 400, 'malformed body');
  t.equal((await req(s, SB, 'PROPFIND', { headers: { depth: '0' }, body: 'x'.repeat(33 * 1024) })).status, 400, 'body over 32 KiB');
});
