/**
 * `LazyBody` (`src/proxy/body.ts`): a request body is replayable only while no byte of it has been handed to
 * a transport. An attempt destroyed before reading leaves the source untouched; once an attempt has read,
 * `started` is true and a new attempt throws; the bytes that do go through arrive intact.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { LazyBody } from '../../src/proxy/body.js';

/** Reads a stream to the end. */
async function drain(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** A source that has its bytes buffered and ended, like a small request body already received. */
function sourceOf(data: Buffer, chunkSize = 16 * 1024): PassThrough {
  const src = new PassThrough();
  for (let i = 0; i < data.length; i += chunkSize) src.write(data.subarray(i, i + chunkSize));
  src.end();
  return src;
}

/** Lets pending stream work run (event-loop turns, no timers). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

t.test('a new LazyBody has not started and pauses its source', async (t) => {
  const src = sourceOf(Buffer.from('abc'));
  const lazy = new LazyBody(src);
  t.equal(lazy.started, false);
  t.ok(src.isPaused(), 'source held paused');
  await turns();
  t.equal(src.readableEnded, false, 'nothing consumed the source');
});

t.test('an attempt destroyed before reading leaves the source replayable', async (t) => {
  const data = randomBytes(100_000);
  const src = sourceOf(data);
  const lazy = new LazyBody(src);

  const first = lazy.attempt();
  first.destroy(new Error('connect ECONNREFUSED'));
  first.on('error', () => undefined);
  await turns();
  t.equal(lazy.started, false, 'not started');
  t.equal(src.destroyed, false, 'the source is not destroyed with the attempt');
  t.equal(src.readableEnded, false, 'no byte was pulled');

  const second = lazy.attempt();
  const got = await drain(second);
  t.equal(lazy.started, true);
  t.equal(Buffer.compare(got, data), 0, 'the replay carries every byte');
});

t.test('several unread attempts in a row are all allowed', async (t) => {
  const data = Buffer.from('replay me');
  const lazy = new LazyBody(sourceOf(data));
  for (let i = 0; i < 3; i++) {
    const a = lazy.attempt();
    a.destroy();
    await turns();
  }
  t.equal(lazy.started, false);
  t.equal((await drain(lazy.attempt())).toString(), 'replay me');
});

t.test('once an attempt has read, started is true and a new attempt throws', async (t) => {
  const data = randomBytes(64 * 1024);
  const lazy = new LazyBody(sourceOf(data));
  const a = lazy.attempt();
  const first = await new Promise<Buffer>((resolve) => a.once('data', (c: Buffer) => resolve(c)));
  t.ok(first.length > 0, 'got a chunk');
  t.equal(lazy.started, true);
  a.destroy();
  t.throws(() => lazy.attempt(), /already sent/, 'no replay after bytes left');
});

t.test('a fully read attempt also forbids a replay', async (t) => {
  const lazy = new LazyBody(sourceOf(Buffer.from('x')));
  t.equal((await drain(lazy.attempt())).toString(), 'x');
  t.equal(lazy.started, true);
  t.throws(() => lazy.attempt());
});

t.test('bytes arrive intact through a slow consumer (backpressure)', async (t) => {
  const data = randomBytes(1_000_000);
  // A live source, written while the consumer reads, like a client uploading.
  const src = new PassThrough({ highWaterMark: 1024 });
  const lazy = new LazyBody(src);
  const writer = (async () => {
    for (let i = 0; i < data.length; i += 10_000) {
      if (!src.write(data.subarray(i, i + 10_000))) await new Promise((r) => src.once('drain', r));
    }
    src.end();
  })();
  const got: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk);
      setImmediate(cb);
    },
  });
  await Promise.all([pipeline(lazy.attempt(), sink), writer]);
  t.equal(Buffer.compare(Buffer.concat(got), data), 0, 'every byte, in order');
});

t.test('an empty body ends cleanly', async (t) => {
  const src = new PassThrough();
  src.end();
  const lazy = new LazyBody(src);
  t.equal((await drain(lazy.attempt())).length, 0);
});

t.test('a source error reaches the attempt', async (t) => {
  const src = new PassThrough();
  const lazy = new LazyBody(src);
  const a = lazy.attempt();
  src.write('partial');
  const failed = drain(a);
  await turns();
  src.destroy(new Error('client reset'));
  await t.rejects(failed, /client reset/);
});
