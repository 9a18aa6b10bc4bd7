/**
 * The `webdav` npm client (what apps use) through davgate, against three real upstreams on port 0.
 * Checks the bytes, the merged listing, and where files land on disk.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { failedWith, startHarness, whereIs, whereIsDir, type Harness } from '../helpers/harness.js';

let h: Harness;
let client: WebDAVClient;

t.before(async () => {
  h = await startHarness();
  client = createClient(h.url, { username: h.auth.username, password: h.auth.password });
});
t.teardown(async () => {
  await h?.stop();
});

const ALL = ['a', 'b', 'c'];

t.test('createDirectory makes the collection on every upstream', async (t) => {
  await client.createDirectory('/docs');
  t.same(whereIsDir(h, '/docs'), ALL);
  const st = (await client.stat('/docs')) as FileStat;
  t.equal(st.type, 'directory');
  t.equal(st.basename, 'docs');
});

t.test('createDirectory recursive makes every level on every upstream', async (t) => {
  await client.createDirectory('/deep/er/est', { recursive: true });
  for (const key of ['/deep', '/deep/er', '/deep/er/est']) {
    t.same(whereIsDir(h, key), ALL, key);
    t.equal(((await client.stat(key)) as FileStat).type, 'directory', key);
  }
  // Recursive on a partly existing tree is not an error.
  await client.createDirectory('/deep/er/est/more', { recursive: true });
  t.equal(await client.exists('/deep/er/est/more'), true);
});

t.test('putFileContents (buffer) and getFileContents (binary) are byte-identical', async (t) => {
  const data = randomBytes(256 * 1024 + 7);
  t.equal(await client.putFileContents('/docs/blob.bin', data), true);
  t.equal(whereIs(h, '/docs/blob.bin').length, 1, 'exactly one upstream holds the file');
  const back = (await client.getFileContents('/docs/blob.bin')) as Buffer;
  t.ok(Buffer.isBuffer(back));
  t.equal(Buffer.compare(back, data), 0, 'same bytes');
});

t.test('putFileContents (string) and getFileContents (text)', async (t) => {
  const text = 'Grüße, 世界 🌍\nline two\r\n';
  await client.putFileContents('/docs/hello.txt', text);
  t.equal(await client.getFileContents('/docs/hello.txt', { format: 'text' }), text);
  const raw = (await client.getFileContents('/docs/hello.txt')) as Buffer;
  t.equal(Buffer.compare(raw, Buffer.from(text, 'utf8')), 0);
});

t.test('putFileContents with a stream (chunked, no Content-Length)', async (t) => {
  const chunks = Array.from({ length: 20 }, () => randomBytes(32 * 1024));
  const data = Buffer.concat(chunks);
  await client.putFileContents('/docs/stream.bin', Readable.from(chunks));
  const back = (await client.getFileContents('/docs/stream.bin')) as Buffer;
  t.equal(back.length, data.length);
  t.equal(Buffer.compare(back, data), 0);
});

t.test('putFileContents with a stream and an explicit Content-Length', async (t) => {
  const data = randomBytes(100_000);
  await client.putFileContents('/docs/stream-len.bin', Readable.from([data]), { contentLength: data.length });
  t.equal(Buffer.compare((await client.getFileContents('/docs/stream-len.bin')) as Buffer, data), 0);
});

t.test('overwriting a file replaces it, still on one upstream', async (t) => {
  await client.putFileContents('/docs/over.txt', 'first version, longer');
  await client.putFileContents('/docs/over.txt', 'second');
  t.equal(await client.getFileContents('/docs/over.txt', { format: 'text' }), 'second');
  t.equal(whereIs(h, '/docs/over.txt').length, 1);
  t.equal(((await client.stat('/docs/over.txt')) as FileStat).size, 6);
});

t.test('an empty file', async (t) => {
  await client.putFileContents('/docs/empty', Buffer.alloc(0));
  const st = (await client.stat('/docs/empty')) as FileStat;
  t.equal(st.type, 'file');
  t.equal(st.size, 0);
  t.equal(((await client.getFileContents('/docs/empty')) as Buffer).length, 0);
});

t.test('stat of a file and of a directory', async (t) => {
  const data = randomBytes(12_345);
  await client.putFileContents('/docs/stat-me.dat', data);
  const f = (await client.stat('/docs/stat-me.dat')) as FileStat;
  t.equal(f.type, 'file');
  t.equal(f.size, 12_345);
  t.equal(f.basename, 'stat-me.dat');
  t.equal(f.filename, '/docs/stat-me.dat');
  t.ok(f.lastmod, 'has a last-modified date');
  const d = (await client.stat('/deep/er')) as FileStat;
  t.equal(d.type, 'directory');
  t.equal(d.filename, '/deep/er');
  const root = (await client.stat('/')) as FileStat;
  t.equal(root.type, 'directory');
  t.equal(await failedWith(client.stat('/docs/nope.txt')), 404);
});

t.test('exists', async (t) => {
  t.equal(await client.exists('/docs/hello.txt'), true);
  t.equal(await client.exists('/docs'), true);
  t.equal(await client.exists('/docs/missing.txt'), false);
  t.equal(await client.exists('/missing-dir/x'), false);
});

t.test('getDirectoryContents merges every upstream: each entry once, files spread', async (t) => {
  await client.createDirectory('/spread');
  await client.createDirectory('/spread/sub1');
  await client.createDirectory('/spread/sub2');
  const names = Array.from({ length: 30 }, (_, i) => `file-${String(i).padStart(2, '0')}.txt`);
  for (const name of names) await client.putFileContents(`/spread/${name}`, `content of ${name}`);

  const holders = new Set<string>();
  for (const name of names) {
    const where = whereIs(h, `/spread/${name}`);
    t.equal(where.length, 1, `${name} is on exactly one upstream`);
    for (const id of where) holders.add(id);
  }
  t.ok(holders.size >= 2, `files spread over at least 2 upstreams (got ${[...holders].join(',')})`);

  const list = (await client.getDirectoryContents('/spread')) as FileStat[];
  const files = list.filter((e) => e.type === 'file').map((e) => e.basename).sort();
  const dirs = list.filter((e) => e.type === 'directory').map((e) => e.basename).sort();
  t.same(files, names, 'every file exactly once');
  t.same(dirs, ['sub1', 'sub2'], 'every folder exactly once');
  for (const e of list) {
    t.equal(e.filename, `/spread/${e.basename}`);
    if (e.type === 'file') t.equal(e.size, Buffer.byteLength(`content of ${e.basename}`), e.basename);
  }
  // The root listing shows each top-level folder once.
  const root = (await client.getDirectoryContents('/')) as FileStat[];
  const top = root.map((e) => e.basename);
  t.equal(top.filter((n) => n === 'spread').length, 1);
  t.equal(top.filter((n) => n === 'docs').length, 1);
  t.equal(new Set(top).size, top.length, 'no duplicates at the root');
});

t.test('moveFile: bytes at the destination, source gone', async (t) => {
  const data = randomBytes(50_000);
  await client.putFileContents('/docs/move-src.bin', data);
  await client.moveFile('/docs/move-src.bin', '/deep/moved.bin');
  t.equal(await client.exists('/docs/move-src.bin'), false);
  t.same(whereIs(h, '/docs/move-src.bin'), [], 'no copy left on any upstream');
  t.equal(Buffer.compare((await client.getFileContents('/deep/moved.bin')) as Buffer, data), 0);
  t.equal(whereIs(h, '/deep/moved.bin').length, 1);
});

t.test('moveFile onto an existing file overwrites it', async (t) => {
  await client.putFileContents('/docs/mv-a.txt', 'AAA');
  await client.putFileContents('/docs/mv-b.txt', 'BBBBBB');
  await client.moveFile('/docs/mv-a.txt', '/docs/mv-b.txt');
  t.equal(await client.getFileContents('/docs/mv-b.txt', { format: 'text' }), 'AAA');
  t.equal(await client.exists('/docs/mv-a.txt'), false);
  t.equal(whereIs(h, '/docs/mv-b.txt').length, 1);
});

t.test('copyFile: bytes at the destination, source remains', async (t) => {
  const data = randomBytes(70_000);
  await client.putFileContents('/docs/copy-src.bin', data);
  await client.copyFile('/docs/copy-src.bin', '/deep/er/copied.bin');
  t.equal(Buffer.compare((await client.getFileContents('/docs/copy-src.bin')) as Buffer, data), 0);
  t.equal(Buffer.compare((await client.getFileContents('/deep/er/copied.bin')) as Buffer, data), 0);
  t.equal(whereIs(h, '/docs/copy-src.bin').length, 1);
  t.equal(whereIs(h, '/deep/er/copied.bin').length, 1);
});

t.test('copyFile with overwrite false onto an existing file fails with 412', async (t) => {
  await client.putFileContents('/docs/cp-a.txt', 'A');
  await client.putFileContents('/docs/cp-b.txt', 'B');
  t.equal(await failedWith(client.copyFile('/docs/cp-a.txt', '/docs/cp-b.txt', { overwrite: false })), 412);
  t.equal(await client.getFileContents('/docs/cp-b.txt', { format: 'text' }), 'B');
});

t.test('deleteFile', async (t) => {
  await client.putFileContents('/docs/del.txt', 'bye');
  await client.deleteFile('/docs/del.txt');
  t.equal(await client.exists('/docs/del.txt'), false);
  t.same(whereIs(h, '/docs/del.txt'), []);
  t.equal(await failedWith(client.deleteFile('/docs/del.txt')), 404);
});

t.test('deleting a directory removes it and its files from every upstream', async (t) => {
  await client.createDirectory('/gone/inner', { recursive: true });
  for (let i = 0; i < 10; i++) await client.putFileContents(`/gone/f${i}.txt`, `f${i}`);
  await client.putFileContents('/gone/inner/x.txt', 'x');
  await client.deleteFile('/gone');
  t.equal(await client.exists('/gone'), false);
  t.same(whereIsDir(h, '/gone'), [], 'the folder is gone from every upstream');
  for (let i = 0; i < 10; i++) t.same(whereIs(h, `/gone/f${i}.txt`), []);
  const root = (await client.getDirectoryContents('/')) as FileStat[];
  t.notOk(root.some((e) => e.basename === 'gone'));
});
