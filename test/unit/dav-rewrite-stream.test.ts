import t from 'tap';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHrefRewriter } from '../../src/dav/rewrite-stream.js';
import { keyToGatewayHref, upstreamHrefToKey } from '../../src/dav/href.js';

const base = new URL('http://up1:8080/dav/');
const toGateway = (href: string): string => {
  const key = upstreamHrefToKey(href, base);
  return key === null ? href : keyToGatewayHref(key, href.trim().endsWith('/'));
};

async function run(chunks: Buffer[], map: (h: string) => string = toGateway, maxBytes?: number): Promise<string> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from(chunks), createHrefRewriter(map, maxBytes === undefined ? {} : { maxBytes }), async (src) => {
    for await (const c of src) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  });
  return Buffer.concat(parts).toString('utf8');
}

const bytesOf = (s: string): Buffer[] => [...Buffer.from(s, 'utf8')].map((b) => Buffer.from([b]));

// A LOCK answer as Apache writes it, plus an Apache-style multistatus with a multi-byte name.
const LOCK_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock>\n' +
  '<D:locktype><D:write/></D:locktype>\n<D:lockscope><D:exclusive/></D:lockscope>\n<D:depth>0</D:depth>\n' +
  '<ns0:owner xmlns:ns0="DAV:"><ns0:href>mailto:me@example.com</ns0:href></ns0:owner>\n<D:timeout>Second-600</D:timeout>\n' +
  '<D:locktoken>\n<D:href>opaquelocktoken:4e4ba2a0-8b8a-4a5a-8d6e-8f4a2c8f1e00</D:href>\n</D:locktoken>\n' +
  '<D:lockroot><D:href>http://up1:8080/dav/%E4%B8%AD%20&amp;.txt</D:href></D:lockroot>\n' +
  '</D:activelock>\n</D:lockdiscovery>\n</D:prop>\n';

const MS_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">\n' +
  '<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">\n<D:href>/dav/caf%c3%a9/</D:href>\n' +
  '<D:propstat>\n<D:prop>\n<lp1:resourcetype><D:collection/></lp1:resourcetype>\n' +
  '<D:displayname xml:lang="fr">café 😀 中</D:displayname>\n<lp2:executable a="x&quot;y">F</lp2:executable>\n' +
  '</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n</D:response>\n' +
  '<D:response><ns0:href>/dav/caf%c3%a9/%F0%9F%98%80.txt</ns0:href><D:status>HTTP/1.1 200 OK</D:status></D:response>\n' +
  '</D:multistatus>\n';

t.test('rewrites every DAV:href, byte by byte, keeping everything else (mailto: owner href is not under the base)', async (t) => {
  const out = await run(bytesOf(LOCK_BODY));
  t.equal(
    out,
    LOCK_BODY.replace('http://up1:8080/dav/%E4%B8%AD%20&amp;.txt', '/%E4%B8%AD%20%26.txt')
      .replace('?>\n', '?>') // whitespace outside the root is dropped
      .replace(/\n$/, ''),
  );
});

t.test('multi-byte characters split across chunks; any prefix binding DAV: counts', async (t) => {
  const chunks = bytesOf(MS_BODY);
  t.ok(chunks.length > Buffer.byteLength('😀'), 'split into single bytes');
  const out = await run(chunks);
  t.equal(
    out,
    MS_BODY.replace('<D:href>/dav/caf%c3%a9/</D:href>', '<D:href>/caf%C3%A9/</D:href>')
      .replace('<ns0:href>/dav/caf%c3%a9/%F0%9F%98%80.txt</ns0:href>', '<ns0:href>/caf%C3%A9/%F0%9F%98%80.txt</ns0:href>')
      .replace('?>\n', '?>')
      .replace(/\n$/, ''),
  );
  t.equal(await run([Buffer.from(MS_BODY)]), out, 'one chunk gives the same output');
});

t.test('output is emitted before the input ends', async (t) => {
  const rw = createHrefRewriter(toGateway);
  const got: string[] = [];
  rw.on('data', (c: Buffer) => got.push(c.toString('utf8')));
  const half = Buffer.from(MS_BODY).subarray(0, 200);
  await new Promise<void>((resolve) => rw.write(half, () => resolve()));
  await new Promise((r) => setImmediate(r));
  t.ok(got.join('').startsWith('<?xml version="1.0" encoding="utf-8"?><D:multistatus'), 'first part already out');
  rw.destroy();
});

t.test('href text held across chunks and entities is mapped once, whole', async (t) => {
  const seen: string[] = [];
  const out = await run(bytesOf('<D:href xmlns:D="DAV:">/dav/a&amp;b<![CDATA[<c>]]>&#x20;d</D:href>'), (h) => {
    seen.push(h);
    return 'X';
  });
  t.strictSame(seen, ['/dav/a&b<c> d']);
  t.equal(out, '<D:href xmlns:D="DAV:">X</D:href>');
});

t.test('other namespaces named href, self-closing hrefs, comments and PIs', async (t) => {
  const out = await run(
    [Buffer.from('<!-- c --><a xmlns="urn:z" xmlns:D="DAV:"><href>/dav/x</href><D:href/><?pi y?><b c=\'1\'/>t&lt;</a>')],
    (h) => `[${h}]`,
  );
  t.equal(out, '<a xmlns="urn:z" xmlns:D="DAV:"><href>/dav/x</href><D:href>[]</D:href><b c="1"/>t&lt;</a>');
});

t.test('a DOCTYPE fails the stream with BAD_XML (billion laughs)', async (t) => {
  const body =
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>' +
    '<D:multistatus xmlns:D="DAV:"><D:response><D:href>&lol2;</D:href></D:response></D:multistatus>';
  await t.rejects(run(bytesOf(body)), { code: 'DAVGATE_BAD_XML', message: /DOCTYPE not allowed/ });
});

t.test('malformed and truncated bodies fail with BAD_XML', async (t) => {
  await t.rejects(run([Buffer.from('<D:multistatus xmlns:D="DAV:"><D:response>')]), { code: 'DAVGATE_BAD_XML' });
  await t.rejects(run([Buffer.from('<a></b>')]), { code: 'DAVGATE_BAD_XML' });
  await t.rejects(run([Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a/>')]), {
    code: 'DAVGATE_BAD_XML',
    message: /unsupported encoding/,
  });
});

t.test('maxBytes', async (t) => {
  await t.rejects(run(bytesOf(MS_BODY), toGateway, 100), { code: 'DAVGATE_PAYLOAD_TOO_LARGE' });
  t.ok((await run([Buffer.from(MS_BODY)], toGateway, Buffer.byteLength(MS_BODY))).length > 0);
});

t.test('an exception from map fails the stream', async (t) => {
  await t.rejects(
    run([Buffer.from('<D:href xmlns:D="DAV:">x</D:href>')], () => {
      throw new Error('boom');
    }),
    { code: 'DAVGATE_BAD_XML', message: /boom/ },
  );
});
