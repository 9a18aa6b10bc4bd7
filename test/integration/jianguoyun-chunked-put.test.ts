/**
 * A PUT without Content-Length (chunked, as macOS Finder sends) to 坚果云 accounts, which refuse chunked uploads
 * (jianguoyun.md statement 6; the simulator answers 411). davgate spools the body to `limits.spoolDir` and sends
 * it with a length, through three simulated accounts on real sockets:
 * - the file arrives intact and the account saw a normal upload (one PUT, 201 + `X-File-Version`);
 * - a Content-Length PUT is still streamed, not spooled; `Expect: 100-continue` still gets its 100 first;
 * - past `limits.spoolMaxBytes`: 413 naming the key, the connection closed, no PUT reaches any account;
 * - a client aborting mid-body leaves nothing behind and davgate keeps serving;
 * - the spooled body is resent: to the next candidate when the owner is down, and after a 409 for a folder
 *   deleted behind davgate's back (a body over the 1 MiB in-memory replay limit, so only the file can do it);
 * - the spool directory is empty after every one of these.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { rank } from '../../src/placement/hrw.js';
import { jianguoyunRig, SANDBOX } from '../helpers/jianguoyun-rig.js';

const IDS = ['j0', 'j1', 'j2'].map((id) => ({ id, weight: 1 }));
const owner = (key: string): number => Number(rank(key, IDS)[0]!.id.slice(1));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` (the spool is removed after the answer is sent); returns whether it became true. */
async function eventually(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(10);
  return cond();
}

/** Chunks of `data`, as an async iterable: undici then sends no Content-Length, only chunked encoding. */
function chunked(data: Buffer, size = 64 * 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    })(),
  );
}

async function rig(t: Test, limits: Record<string, unknown> = {}) {
  const spoolDir = mkdtempSync(join(tmpdir(), 'davgate-chunked-put-'));
  t.teardown(() => rmSync(spoolDir, { recursive: true, force: true }));
  const { sims, server } = await jianguoyunRig(t, {
    config: { failover: { retryBackoffMs: 0 }, limits: { spoolDir, ...limits } },
  });
  const url = (path: string) => new URL(path.slice(1), server.url);
  const call = async (method: string, path: string, body?: Buffer | Readable, headers: Record<string, string> = {}) => {
    const r = await request(url(path), { method: method as 'PUT', headers, body: body ?? null });
    return { status: r.statusCode, headers: r.headers, bytes: Buffer.from(await r.body.arrayBuffer()) };
  };
  const puts = () => sims.map((s) => s.counters.byMethod['PUT'] ?? 0);
  const spooledTotal = async () => {
    const text = (await call('GET', '/metrics')).bytes.toString('utf8');
    return [...text.matchAll(/^davgate_put_spooled_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const spoolEmpty = () => eventually(() => readdirSync(spoolDir).length === 0);
  return { sims, server, spoolDir, url, call, puts, spooledTotal, spoolEmpty };
}

t.test('a chunked PUT is spooled and arrives as a normal upload; overwrite too; a Content-Length PUT streams', async (t) => {
  const r = await rig(t);
  t.equal((await r.call('MKCOL', '/up/')).status, 201);

  const data = randomBytes(3 * 1024 * 1024 + 17);
  const before = r.puts();
  const put = await r.call('PUT', '/up/movie.bin', chunked(data));
  t.equal(put.status, 201, 'created');
  t.equal(put.headers['x-file-version'], '1', 'the account stored a new file (X-File-Version: 1)');
  const after = r.puts();
  const delta = after.map((n, i) => n - before[i]!);
  t.same(delta.toSorted(), [0, 0, 1], 'exactly one PUT reached the accounts (no refused chunked attempt)');
  t.equal(delta[owner('/up/movie.bin')], 1, 'on the owner');
  t.equal(await r.spooledTotal(), 1, 'davgate_put_spooled_total counted it');

  const get = await r.call('GET', '/up/movie.bin');
  t.equal(get.status, 200);
  t.equal(get.bytes.length, data.length, 'length intact');
  t.equal(Buffer.compare(get.bytes, data), 0, 'bytes intact');
  t.ok(await r.spoolEmpty(), 'spool directory empty');
  t.same(readdirSync(r.spoolDir), []);

  const v2 = randomBytes(200_000);
  const over = await r.call('PUT', '/up/movie.bin', chunked(v2, 10_000));
  t.equal(over.status, 204, 'overwrite as the account answers it');
  t.equal(over.headers['x-file-version'], '2');
  t.equal(Buffer.compare((await r.call('GET', '/up/movie.bin')).bytes, v2), 0, 'new bytes served');

  const empty = await r.call('PUT', '/up/empty.txt', chunked(Buffer.alloc(0)));
  t.equal(empty.status, 201, 'an empty chunked body is sent as Content-Length: 0');
  t.equal((await r.call('GET', '/up/empty.txt')).bytes.length, 0);

  const spooled = await r.spooledTotal();
  const small = Buffer.from('with a length');
  const withLength = await r.call('PUT', '/up/small.txt', small, { 'content-length': String(small.length) });
  t.equal(withLength.status, 201);
  t.equal(await r.spooledTotal(), spooled, 'a Content-Length PUT is not spooled');
  t.equal((await r.call('GET', '/up/small.txt')).bytes.toString(), 'with a length');
  t.ok(await r.spoolEmpty());
  t.same(readdirSync(r.spoolDir), [], 'spool directory empty after every upload');
});

t.test('past limits.spoolMaxBytes: 413 with the reason, nothing sent upstream; exactly the limit is fine', async (t) => {
  const limit = 64 * 1024;
  const r = await rig(t, { spoolMaxBytes: limit });
  t.equal((await r.call('MKCOL', '/big/')).status, 201);
  const before = r.puts();

  const tooBig = await r.call('PUT', '/big/one-too-many.bin', chunked(randomBytes(limit + 1), 16 * 1024));
  t.equal(tooBig.status, 413);
  const reason = tooBig.bytes.toString('utf8');
  t.match(reason, /limits\.spoolMaxBytes/, 'the reason names the config key');
  t.match(reason, String(limit), 'and the limit');
  t.equal(tooBig.headers['connection'], 'close', 'the connection is closed (the body was not read to its end)');
  t.same(r.puts(), before, 'no PUT reached any account');
  t.equal(await r.spooledTotal(), 0);
  t.ok(await r.spoolEmpty(), 'the partial spool file is gone');
  t.same(readdirSync(r.spoolDir), []);
  t.equal((await r.call('GET', '/big/one-too-many.bin')).status, 404, 'nothing was stored');

  const exact = randomBytes(limit);
  t.equal((await r.call('PUT', '/big/exact.bin', chunked(exact, 16 * 1024))).status, 201, 'exactly the limit is accepted');
  t.equal(Buffer.compare((await r.call('GET', '/big/exact.bin')).bytes, exact), 0);
  t.ok(await r.spoolEmpty());
});

t.test('past the limit the client still sending gets the 413 and a closed connection', async (t) => {
  const limit = 32 * 1024;
  const r = await rig(t, { spoolMaxBytes: limit });
  t.equal((await r.call('MKCOL', '/raw/')).status, 201);
  const before = r.puts();
  // A raw client: one chunk past the limit, then it waits without ever finishing the body.
  const sock = net.connect(Number(new URL(r.server.url).port), '127.0.0.1');
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  let received = '';
  sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = once(sock, 'close');
  const chunk = randomBytes(limit + 1);
  sock.write(`PUT /raw/x.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n`);
  sock.write(chunk);
  await closed;
  t.match(received, /^HTTP\/1\.1 413 /, '413 answered before the body ended');
  t.match(received, /\r\nconnection: close\r\n/i);
  t.match(received, /limits\.spoolMaxBytes/);
  t.same(r.puts(), before, 'no PUT reached any account');
  t.ok(await r.spoolEmpty());
  t.same(readdirSync(r.spoolDir), []);
});

t.test('a client aborting mid-body leaves nothing behind; davgate keeps serving', async (t) => {
  const r = await rig(t);
  t.equal((await r.call('MKCOL', '/ab/')).status, 201);
  const before = r.puts();
  const sock = net.connect(Number(new URL(r.server.url).port), '127.0.0.1');
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const part = randomBytes(200_000);
  sock.write(`PUT /ab/half.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${part.length.toString(16)}\r\n`);
  sock.write(part);
  sock.write('\r\n');
  // Wait until davgate is spooling (its file holds some bytes), then vanish.
  const spoolFile = () => {
    for (const d of readdirSync(r.spoolDir)) {
      try {
        return statSync(join(r.spoolDir, d, 'body')).size;
      } catch {
        /* not created yet */
      }
    }
    return 0;
  };
  t.ok(await eventually(() => spoolFile() > 0), 'the body was being spooled');
  sock.destroy();
  t.ok(await r.spoolEmpty(), 'the spool file is removed after the abort');
  t.same(readdirSync(r.spoolDir), []);
  t.same(r.puts(), before, 'no PUT reached any account');
  t.equal((await r.call('GET', '/ab/half.bin')).status, 404, 'nothing stored');

  const data = randomBytes(100_000);
  t.equal((await r.call('PUT', '/ab/whole.bin', chunked(data))).status, 201, 'the next upload works');
  t.equal(Buffer.compare((await r.call('GET', '/ab/whole.bin')).bytes, data), 0);
  t.ok(await r.spoolEmpty());
});

t.test('the spooled body is resent to the next candidate when the owner is down', async (t) => {
  const r = await rig(t);
  t.equal((await r.call('MKCOL', '/fo/')).status, 201, 'the folder is known on every account, so no check precedes the PUT');
  const key = '/fo/displaced.bin';
  const down = owner(key);
  await r.sims[down]!.stop();
  const data = randomBytes(1_500_000);
  const put = await r.call('PUT', key, chunked(data));
  t.equal(put.status, 201, 'stored on the next candidate');
  const landed = r.sims.findIndex((s, i) => i !== down && (s.counters.byMethod['PUT'] ?? 0) === 1);
  t.not(landed, -1, 'one PUT on another account');
  const get = await r.call('GET', key);
  t.equal(get.status, 200);
  t.equal(Buffer.compare(get.bytes, data), 0, 'bytes intact');
  t.ok(await r.spoolEmpty());
  t.same(readdirSync(r.spoolDir), []);
});

t.test('after a 409 (folder deleted behind davgate) the spooled body is sent again in full', async (t) => {
  const r = await rig(t);
  t.equal((await r.call('MKCOL', '/gone/')).status, 201);
  const key = '/gone/again.bin';
  const o = r.sims[owner(key)]!;
  // Delete the folder on the owner account only, directly: davgate still believes it is there.
  const auth = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
  const del = await request(`${o.url}${SANDBOX}/gone/`, { method: 'DELETE', headers: { authorization: auth } });
  await del.body.dump();
  t.equal(del.statusCode, 204);
  // Over LazyBody's 1 MiB in-memory replay limit: a streamed body could not be sent twice.
  const data = randomBytes(1024 * 1024 + 4096);
  const put = await r.call('PUT', key, chunked(data));
  t.equal(put.status, 201, 'recreated the folder and resent the body');
  t.equal(o.counters.byMethod['PUT'], 2, 'the owner saw the refused PUT and the resend');
  t.equal(Buffer.compare((await r.call('GET', key)).bytes, data), 0, 'bytes intact');
  t.ok(await r.spoolEmpty());
  t.same(readdirSync(r.spoolDir), []);
});

t.test('Expect: 100-continue with a chunked body: 100 first, then the spooled upload', async (t) => {
  const r = await rig(t);
  t.equal((await r.call('MKCOL', '/ec/')).status, 201);
  const data = randomBytes(500_000);
  const gw = new URL(r.server.url);
  const res = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request({
      host: gw.hostname,
      port: Number(gw.port),
      path: '/ec/continued.bin',
      method: 'PUT',
      agent: false,
      headers: { expect: '100-continue', 'transfer-encoding': 'chunked' },
    });
    req.on('continue', () => {
      continued = true;
      for (let i = 0; i < data.length; i += 50_000) req.write(data.subarray(i, i + 50_000));
      req.end();
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.ok(res.continued, '100 Continue before the body');
  t.equal(res.status, 201);
  t.equal(Buffer.compare((await r.call('GET', '/ec/continued.bin')).bytes, data), 0, 'bytes intact');
  t.ok(await r.spoolEmpty());
  t.same(readdirSync(r.spoolDir), []);
});
