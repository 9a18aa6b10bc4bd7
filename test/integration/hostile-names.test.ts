/**
 * Hostile names (`#`, `?`, `%`, `%20` literally, `&`, NFC vs NFD, emoji, 200 characters, …) survive every
 * method through davgate: PUT, PROPFIND listing, GET, COPY, MOVE, DELETE, both with the `webdav` client and
 * with raw undici requests whose hrefs are checked byte by byte.
 *
 * The upstreams (webdav-server) answer hrefs with `#`, `?`, `&` left raw (`encodeURI`), so this also checks
 * that the gateway re-encodes hrefs instead of passing them through.
 */
import t from 'tap';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import {
  HOSTILE_FILE_NAMES,
  HOSTILE_TREE,
  clientPath,
  encodedPath,
  type HostileEntry,
} from '../fixtures/hostile-names.js';
import { gatewayRequest, startHarness, whereIs, whereIsDir, type Harness } from '../helpers/harness.js';

let h: Harness;
let client: WebDAVClient;

t.before(async () => {
  h = await startHarness();
  client = createClient(h.url, { username: h.auth.username, password: h.auth.password });
});
t.teardown(async () => {
  await h?.stop();
});

type FileEntry = Extract<HostileEntry, { kind: 'file' }>;
const DIRS = HOSTILE_TREE.filter((e) => e.kind === 'dir');
const FILES = HOSTILE_TREE.filter((e): e is FileEntry => e.kind === 'file');

function under(root: string, segments: readonly string[]): string[] {
  return [root, ...segments];
}

/** Expected child names of each collection of the tree (relative to `root`), keyed by joined segments. */
function expectedChildren(): Map<string, { files: string[]; dirs: string[] }> {
  const m = new Map<string, { files: string[]; dirs: string[] }>();
  const get = (k: string) => {
    let v = m.get(k);
    if (!v) m.set(k, (v = { files: [], dirs: [] }));
    return v;
  };
  get('');
  for (const e of HOSTILE_TREE) {
    const parent = e.segments.slice(0, -1).join('/');
    const name = e.segments[e.segments.length - 1]!;
    if (e.kind === 'dir') {
      get(parent).dirs.push(name);
      get(e.segments.join('/'));
    } else get(parent).files.push(name);
  }
  for (const v of m.values()) {
    v.files.sort();
    v.dirs.sort();
  }
  return m;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, ent: string) => {
    if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    return XML_ENTITIES[ent] ?? all;
  });
}

/** Every `href` of a multistatus body, XML-unescaped but not percent-decoded. */
function hrefs(body: string): string[] {
  return [...body.matchAll(/<(?:[A-Za-z_][\w.-]*:)?href(?:\s[^>]*)?>([^<]*)<\/(?:[A-Za-z_][\w.-]*:)?href>/g)].map((m) =>
    xmlUnescape(m[1]!.trim()),
  );
}

/** RFC 3986 §3.3: a path is `/`-separated segments of pchar (unreserved, pct-encoded, sub-delims, `:`, `@`). */
const PATH_RE = /^(\/([A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+\/?$|^\/$/;

/** The URL path of an href (absolute URL or absolute path). */
function hrefPath(href: string): string {
  return href.replace(/^https?:\/\/[^/]+/, '');
}

function decodedSegments(p: string): string[] {
  return p
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
}

t.test('webdav client', async (t) => {
  const root = 'client';
  await client.createDirectory('/' + root);

  await t.test('PUT the tree', async (t) => {
    for (const e of HOSTILE_TREE) {
      const p = clientPath(under(root, e.segments));
      if (e.kind === 'dir') await client.createDirectory(p);
      else t.equal(await client.putFileContents(p, e.content), true, p);
    }
    for (const e of DIRS) t.same(whereIsDir(h, clientPath(under(root, e.segments))), ['a', 'b', 'c']);
    for (const e of FILES) t.equal(whereIs(h, clientPath(under(root, e.segments))).length, 1, e.segments.join('/'));
  });

  await t.test('listings give every name back exactly', async (t) => {
    for (const [dir, want] of expectedChildren()) {
      const segs = dir === '' ? [root] : under(root, dir.split('/'));
      const list = (await client.getDirectoryContents(clientPath(segs))) as FileStat[];
      t.same(list.filter((e) => e.type === 'file').map((e) => e.basename).sort(), want.files, `files of ${dir}`);
      t.same(list.filter((e) => e.type === 'directory').map((e) => e.basename).sort(), want.dirs, `dirs of ${dir}`);
      for (const e of list) t.equal(e.filename, clientPath([...segs, e.basename]));
    }
  });

  await t.test('GET and stat every file', async (t) => {
    for (const e of FILES) {
      const p = clientPath(under(root, e.segments));
      const back = (await client.getFileContents(p)) as Buffer;
      t.equal(Buffer.compare(back, e.content), 0, p);
      const st = (await client.stat(p)) as FileStat;
      t.equal(st.size, e.content.length);
      t.equal(st.basename, e.segments[e.segments.length - 1]);
    }
  });

  await t.test('NFC and NFD spellings are two different files', async (t) => {
    const nfd = clientPath([root, DIRS[0]!.segments[0]!, 'cafe\u0301.txt']);
    const nfc = clientPath([root, DIRS[0]!.segments[0]!, 'caf\u00e9.txt']);
    const a = (await client.getFileContents(nfd)) as Buffer;
    const b = (await client.getFileContents(nfc)) as Buffer;
    t.not(Buffer.compare(a, b), 0);
  });

  await t.test('COPY then MOVE then DELETE every top-level file', async (t) => {
    const d0 = DIRS[0]!.segments[0]!;
    const d1 = DIRS[1]!.segments[1]!;
    for (const f of HOSTILE_FILE_NAMES) {
      const src = clientPath([root, d0, f.name]);
      const copy = clientPath([root, d0, `copy ${f.name}`]);
      const moved = clientPath([root, d0, d1, `moved ${f.name}`]);
      const content = FILES.find((e) => e.segments.length === 2 && e.segments[1] === f.name)!.content;

      await client.copyFile(src, copy);
      t.equal(Buffer.compare((await client.getFileContents(copy)) as Buffer, content), 0, `copy of ${f.name}`);
      t.equal(await client.exists(src), true, 'source remains');

      await client.moveFile(copy, moved);
      t.equal(await client.exists(copy), false, 'moved away');
      t.same(whereIs(h, copy), []);
      t.equal(Buffer.compare((await client.getFileContents(moved)) as Buffer, content), 0, `moved ${f.name}`);
      t.equal(whereIs(h, moved).length, 1);

      await client.deleteFile(moved);
      t.equal(await client.exists(moved), false, 'deleted');
      t.same(whereIs(h, moved), []);
    }
    const list = (await client.getDirectoryContents(clientPath([root, d0]))) as FileStat[];
    t.same(
      list.filter((e) => e.type === 'file').map((e) => e.basename).sort(),
      expectedChildren().get(d0)!.files,
      'the folder is back as it was',
    );
  });

  await t.test('COPY and MOVE a hostile collection', async (t) => {
    const d3 = DIRS[3]!.segments[0]!;
    const src = clientPath([root, d3]);
    const copy = clientPath([root, `${d3} copy#?`]);
    const moved = clientPath([root, `目录 moved %20`]);
    const inside = FILES.filter((e) => e.segments[0] === d3);
    t.ok(inside.length >= 2);

    await client.copyFile(src, copy);
    for (const e of inside) {
      const rel = e.segments.slice(1);
      t.equal(Buffer.compare((await client.getFileContents(clientPath([root, `${d3} copy#?`, ...rel]))) as Buffer, e.content), 0);
      t.equal(await client.exists(clientPath(under(root, e.segments))), true, 'source remains');
    }

    await client.moveFile(copy, moved);
    t.equal(await client.exists(copy), false);
    t.same(whereIsDir(h, copy), [], 'the copy folder is gone from every upstream');
    for (const e of inside) {
      const rel = e.segments.slice(1);
      const p = clientPath([root, `目录 moved %20`, ...rel]);
      t.equal(Buffer.compare((await client.getFileContents(p)) as Buffer, e.content), 0, p);
      t.equal(whereIs(h, p).length, 1);
    }
    await client.deleteFile(moved);
    t.equal(await client.exists(moved), false);
  });

  await t.test('DELETE the whole tree', async (t) => {
    await client.deleteFile('/' + root);
    t.equal(await client.exists('/' + root), false);
    t.same(whereIsDir(h, '/' + root), []);
  });
});

t.test('raw undici requests', async (t) => {
  const root = 'raw';
  const enc = (segments: readonly string[], collection = false) => encodedPath([root, ...segments], collection);
  t.equal((await gatewayRequest(h, `/${root}/`, 'MKCOL')).status, 201);

  await t.test('MKCOL and PUT the tree', async (t) => {
    for (const e of HOSTILE_TREE) {
      if (e.kind === 'dir') {
        t.equal((await gatewayRequest(h, enc(e.segments, true), 'MKCOL')).status, 201, e.segments.join('/'));
      } else {
        const res = await gatewayRequest(h, enc(e.segments), 'PUT', { body: e.content });
        t.equal(res.status, 201, e.segments.join('/'));
      }
    }
  });

  await t.test('PROPFIND Depth 1: hrefs fully encoded, names exact, each once', async (t) => {
    for (const [dir, want] of expectedChildren()) {
      const segs = dir === '' ? [] : dir.split('/');
      const res = await gatewayRequest(h, enc(segs, true), 'PROPFIND', {
        headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' },
        body: '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>',
      });
      t.equal(res.status, 207, `PROPFIND ${dir}`);
      const paths = hrefs(res.body).map(hrefPath);
      for (const p of paths) t.match(p, PATH_RE, `href is a valid, fully encoded URL path: ${p}`);
      const names = paths.map(decodedSegments);
      const self = names.filter((n) => n.join('/') === [root, ...segs].join('/'));
      t.equal(self.length, 1, 'the collection itself once');
      const children = names
        .filter((n) => n.length === segs.length + 2)
        .map((n) => n[n.length - 1]!)
        .sort();
      t.same(children, [...want.files, ...want.dirs].sort(), `children of ${dir || '(root)'}`);
      t.equal(names.length, children.length + 1, 'nothing else in the listing');
    }
  });

  await t.test('PROPFIND Depth 0 on each file answers its own, encoded href', async (t) => {
    for (const e of FILES) {
      const res = await gatewayRequest(h, enc(e.segments), 'PROPFIND', { headers: { depth: '0' } });
      t.equal(res.status, 207);
      const hs = hrefs(res.body);
      t.equal(hs.length, 1);
      const p = hrefPath(hs[0]!);
      t.match(p, PATH_RE, `href is a valid, fully encoded URL path: ${p}`);
      t.same(decodedSegments(p), [root, ...e.segments]);
    }
  });

  await t.test('GET every file, also with lower-case percent-escapes', async (t) => {
    for (const e of FILES) {
      const res = await gatewayRequest(h, enc(e.segments), 'GET');
      t.equal(res.status, 200, e.segments.join('/'));
      t.equal(Buffer.compare(res.bytes, e.content), 0);
      const lower = enc(e.segments).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
      const res2 = await gatewayRequest(h, lower, 'GET');
      t.equal(res2.status, 200, `lower-case escapes: ${lower}`);
      t.equal(Buffer.compare(res2.bytes, e.content), 0);
    }
  });

  await t.test('COPY, MOVE, DELETE with encoded Destination headers', async (t) => {
    const d0 = DIRS[0]!.segments[0]!;
    for (const f of HOSTILE_FILE_NAMES) {
      const content = FILES.find((e) => e.segments.length === 2 && e.segments[1] === f.name)!.content;
      const src = enc([d0, f.name]);
      const copy = enc([d0, `c ${f.name}`]);
      const moved = enc([`m ${f.name}`]);

      const c = await gatewayRequest(h, src, 'COPY', { headers: { destination: new URL(copy.slice(1), h.url).href } });
      t.equal(c.status, 201, `COPY ${f.name}`);
      const gc = await gatewayRequest(h, copy, 'GET');
      t.equal(gc.status, 200);
      t.equal(Buffer.compare(gc.bytes, content), 0);
      t.equal((await gatewayRequest(h, src, 'GET')).status, 200, 'source remains');

      const m = await gatewayRequest(h, copy, 'MOVE', { headers: { destination: new URL(moved.slice(1), h.url).href } });
      t.equal(m.status, 201, `MOVE ${f.name}`);
      t.equal((await gatewayRequest(h, copy, 'GET')).status, 404, 'moved away');
      const gm = await gatewayRequest(h, moved, 'GET');
      t.equal(gm.status, 200);
      t.equal(Buffer.compare(gm.bytes, content), 0);

      const d = await gatewayRequest(h, moved, 'DELETE');
      t.ok(d.status === 204 || d.status === 200, `DELETE ${f.name} answers ${d.status}`);
      t.equal((await gatewayRequest(h, moved, 'GET')).status, 404, 'deleted');
    }
  });

  await t.test('DELETE the tree', async (t) => {
    const d = await gatewayRequest(h, `/${root}/`, 'DELETE');
    t.ok(d.status === 204 || d.status === 200);
    t.equal((await gatewayRequest(h, `/${root}/`, 'PROPFIND', { headers: { depth: '0' } })).status, 404);
    t.same(whereIsDir(h, '/' + root), []);
  });
});
