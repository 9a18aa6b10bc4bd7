/**
 * Regression (review finding 16): `Transfer-Encoding: gzip, chunked` on a PUT. Node's parser removes only the
 * chunked framing and hands davgate the still-gzipped bytes; davgate dropped Transfer-Encoding as hop-by-hop,
 * spooled the coded bytes and stored them as the file. RFC 9112 §6.1: a server that receives a transfer coding it
 * does not understand responds 501 (Not Implemented). davgate now refuses it at the edge, before any upstream call,
 * for every method.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { jianguoyunRig, type Rig } from '../helpers/jianguoyun-rig.js';

/** Sends a raw HTTP/1.1 request with a chunked body under `te`; resolves with the whole answer (latin1). */
function raw(r: Rig, method: string, path: string, te: string, body: Buffer): Promise<string> {
  const port = Number(new URL(r.server.url).port);
  return new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: ${te}\r\n\r\n${body.length.toString(16)}\r\n`);
    s.write(body);
    s.write('\r\n0\r\n\r\n');
  });
}

const statusOf = (head: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);

t.test('PUT with Transfer-Encoding: gzip, chunked', async (t) => {
  const r = await jianguoyunRig(t);
  const plain = Buffer.from('hello, transfer coding');
  const before = r.sims.reduce((n, s) => n + s.counters.requests, 0);
  const head = await raw(r, 'PUT', '/tc.txt', 'gzip, chunked', gzipSync(plain));
  t.equal(statusOf(head), 501, 'the coding is refused with 501');
  t.match(head, /transfer coding not implemented: gzip/, 'with a short reason naming it');
  t.equal(r.sims.reduce((n, s) => n + s.counters.requests, 0), before, 'no upstream request was made');
  t.equal((await r.call('GET', '/tc.txt')).status, 404, 'nothing was stored');
});

t.test('other methods and spellings', async (t) => {
  const r = await jianguoyunRig(t);
  t.equal(statusOf(await raw(r, 'PROPFIND', '/', 'GZIP, Chunked', Buffer.from('x'))), 501, 'PROPFIND, case-insensitive');
  t.equal(statusOf(await raw(r, 'PUT', '/d.txt', 'deflate;q=1, chunked', Buffer.from('x'))), 501, 'a coding with a parameter');
  t.equal(statusOf(await raw(r, 'PUT', '/ok.txt', 'chunked', Buffer.from('fine'))), 201, 'plain chunked is still accepted');
  t.equal((await r.call('GET', '/ok.txt')).text, 'fine');
});
