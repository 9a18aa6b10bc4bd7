/**
 * A 1 GiB file streams through davgate in both directions without being buffered: PUT, GET back, compare
 * sha256, and the gateway's RSS (sampled every 200 ms) stays below 200 MiB throughout.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { Agent, request } from 'undici';
import { sampleMax } from './helpers/gateway.js';
import { startTarget } from './helpers/target.js';
import { prngStream } from './helpers/tree.js';

const SIZE = Number(process.env['DG_E2E_LARGE_BYTES'] ?? 1024 ** 3);
const CHUNK = 1024 * 1024;
const RSS_LIMIT = 200 * 1024 * 1024;
const MiB = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** Streams SIZE deterministic pseudo-random bytes to `path`, hashing as it goes; never holds more than a chunk. */
async function writeRandomFile(path: string): Promise<string> {
  const rand = prngStream('davgate-e2e-large');
  const hash = createHash('sha256');
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let left = SIZE; left > 0; left -= CHUNK) {
      const b = rand(Math.min(CHUNK, left));
      hash.update(b);
      yield b;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return hash.digest('hex');
}

t.test(`PUT and GET ${MiB(SIZE)} through davgate`, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'davgate-e2e-large-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const file = join(work, 'large.bin');
  let t0 = Date.now();
  const want = await writeRandomFile(file);
  t.comment(`wrote ${MiB(SIZE)} in ${Date.now() - t0} ms, sha256 ${want}`);

  const target = await startTarget(t, { upstreams: 3 });
  const dispatcher = new Agent({ headersTimeout: 600_000, bodyTimeout: 600_000 });
  t.teardown(() => dispatcher.close());
  const url = `${target.url}large-${Date.now()}.bin`;
  const rss = (): number => target.gateway?.rssBytes() ?? 0;
  if (target.gateway) t.comment(`gateway RSS at rest: ${MiB(rss())}`);

  // PUT
  let sampler = sampleMax(rss, 200);
  t0 = Date.now();
  const put = await request(url, {
    method: 'PUT',
    dispatcher,
    headers: { authorization: target.authorization, 'content-length': String(SIZE), 'content-type': 'application/octet-stream' },
    body: createReadStream(file, { highWaterMark: CHUNK }),
  });
  await put.body.dump();
  const putMs = Date.now() - t0;
  const putRss = sampler.stop();
  t.ok(put.statusCode === 201 || put.statusCode === 204, `PUT answers 201/204 (got ${put.statusCode})`);
  t.comment(`PUT ${MiB(SIZE)} in ${putMs} ms (${MiB((SIZE / putMs) * 1000)}/s); max gateway RSS ${MiB(putRss.max)} over ${putRss.samples} samples`);

  // GET
  sampler = sampleMax(rss, 200);
  t0 = Date.now();
  const get = await request(url, { method: 'GET', dispatcher, headers: { authorization: target.authorization } });
  t.equal(get.statusCode, 200, 'GET answers 200');
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of get.body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    received += chunk.length;
  }
  const got = hash.digest('hex');
  const getMs = Date.now() - t0;
  const getRss = sampler.stop();
  t.comment(`GET ${MiB(received)} in ${getMs} ms (${MiB((received / getMs) * 1000)}/s); max gateway RSS ${MiB(getRss.max)} over ${getRss.samples} samples`);
  t.equal(received, SIZE, 'GET returns every byte');
  t.equal(got, want, 'sha256 of GET equals sha256 of what was PUT');

  if (target.gateway) {
    t.ok(putRss.max < RSS_LIMIT, `gateway RSS during PUT ${MiB(putRss.max)} < ${MiB(RSS_LIMIT)}`);
    t.ok(getRss.max < RSS_LIMIT, `gateway RSS during GET ${MiB(getRss.max)} < ${MiB(RSS_LIMIT)}`);
  }

  const del = await request(url, { method: 'DELETE', dispatcher, headers: { authorization: target.authorization } });
  await del.body.dump();
  t.ok(del.statusCode === 204 || del.statusCode === 200, `DELETE answers 204 (got ${del.statusCode})`);
});
