/**
 * The PUT spool (`src/proxy/spool.ts`): a body without Content-Length is stored in its own temporary directory
 * (file mode 0600), exactly `limits.spoolMaxBytes` is accepted and one byte more is 413 naming the limit and its
 * key, a client going away is 499, an unusable spool directory is 507, and nothing is left on disk in any
 * outcome. The stored body replays through `LazyBody` (`src/proxy/body.ts`) once per upstream attempt.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { DavgateError } from '../../src/errors.js';
import { LazyBody } from '../../src/proxy/body.js';
import { SPOOL_DIR_PREFIX, mustSpool, spoolBody } from '../../src/proxy/spool.js';

/** A fresh parent directory for spools, removed at teardown. */
function spoolParent(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'davgate-spool-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A source holding `data` in chunks of `chunkSize`, already ended (like a fully received chunked body). */
function sourceOf(data: Buffer, chunkSize = 16 * 1024): PassThrough {
  const src = new PassThrough();
  for (let i = 0; i < data.length; i += chunkSize) src.write(data.subarray(i, i + chunkSize));
  src.end();
  return src;
}

async function drain(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Lets pending stream and file work run (event-loop turns, no timers). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Waits (event-loop turns, no timers) until the spool reads from `src`, i.e. its file is open. */
async function reading(src: Readable): Promise<void> {
  while (src.listenerCount('data') === 0) await turns(1);
}

/** Awaits `p` and returns the DavgateError it rejects with. */
async function rejection(t: Test, p: Promise<unknown>): Promise<DavgateError> {
  try {
    await p;
  } catch (err) {
    t.type(err, DavgateError);
    return err as DavgateError;
  }
  t.fail('expected a rejection');
  throw new Error('resolved');
}

t.test('mustSpool: only a length-less body bound for a 坚果云 upstream', async (t) => {
  t.equal(mustSpool(undefined, 'jianguoyun'), true);
  t.equal(mustSpool('12', 'jianguoyun'), false, 'a Content-Length PUT streams unchanged');
  t.equal(mustSpool('0', 'jianguoyun'), false);
  t.equal(mustSpool(undefined, 'generic'), false, 'generic upstreams take chunked bodies');
});

t.test('a body of exactly maxBytes is stored intact in its own 0600 file; dispose removes it', async (t) => {
  const parent = spoolParent(t);
  const data = randomBytes(100_000);
  const s = await spoolBody(sourceOf(data, 7_000), { maxBytes: data.length, dir: parent });
  t.equal(s.size, data.length, 'size = bytes received');
  t.equal(Buffer.compare(readFileSync(s.path), data), 0, 'file holds the body');
  t.equal(statSync(s.path).mode & 0o777, 0o600, 'file mode 0600');
  t.equal(dirname(dirname(s.path)), parent, 'inside the configured spool directory');
  t.ok(basename(dirname(s.path)).startsWith(SPOOL_DIR_PREFIX), 'in its own mkdtemp directory');
  t.equal(statSync(dirname(s.path)).mode & 0o077, 0, 'the directory is private to its owner');
  await s.dispose();
  t.same(readdirSync(parent), [], 'nothing left after dispose');
  await s.dispose();
  t.pass('dispose is idempotent');
});

t.test('one byte past maxBytes: 413 naming the limit and its key, nothing left', async (t) => {
  const parent = spoolParent(t);
  const err = await rejection(t, spoolBody(sourceOf(randomBytes(100_001), 7_000), { maxBytes: 100_000, dir: parent }));
  t.equal(err.statusCode, 413);
  t.equal(err.code, 'DAVGATE_PAYLOAD_TOO_LARGE');
  t.match(err.message, /100000 bytes/, 'names the limit');
  t.match(err.message, /limits\.spoolMaxBytes/, 'names the config key');
  t.same(readdirSync(parent), [], 'the partial file and its directory are gone');
});

t.test('past the limit reading stops and the request stream is not destroyed', async (t) => {
  const parent = spoolParent(t);
  // Still sending (not ended), like a client whose upload goes on past the limit.
  const src = new PassThrough();
  for (let i = 0; i < 30; i++) src.write(randomBytes(7_000));
  const err = await rejection(t, spoolBody(src, { maxBytes: 100_000, dir: parent }));
  t.equal(err.statusCode, 413);
  t.equal(src.destroyed, false, 'left for the answer (destroying a request would cut the socket before the 413)');
  t.ok(src.isPaused(), 'paused');
  t.ok(src.readableLength > 0, 'the rest was not read');
  t.same(readdirSync(parent), []);
});

t.test('the limit applies to the total, also when it is crossed inside one chunk', async (t) => {
  const parent = spoolParent(t);
  const err = await rejection(t, spoolBody(sourceOf(randomBytes(10), 10), { maxBytes: 9, dir: parent }));
  t.equal(err.statusCode, 413);
  t.same(readdirSync(parent), []);
});

t.test('an empty body spools to an empty file (maxBytes 0 allows exactly that)', async (t) => {
  const parent = spoolParent(t);
  const s = await spoolBody(sourceOf(Buffer.alloc(0)), { maxBytes: 0, dir: parent });
  t.equal(s.size, 0);
  t.equal(readFileSync(s.path).length, 0);
  await s.dispose();
  t.same(readdirSync(parent), []);
});

t.test('a source paused by LazyBody is still read (the spool resumes it)', async (t) => {
  const parent = spoolParent(t);
  const data = randomBytes(50_000);
  const src = sourceOf(data);
  new LazyBody(src); // pauses src, as put.ts does before the target is known
  const s = await spoolBody(src, { maxBytes: 1 << 20, dir: parent });
  t.equal(Buffer.compare(readFileSync(s.path), data), 0);
  await s.dispose();
});

t.test('the client going away mid-body: 499, nothing left', async (t) => {
  const parent = spoolParent(t);
  const src = new PassThrough();
  const p = spoolBody(src, { maxBytes: 1 << 20, dir: parent });
  src.write(randomBytes(10_000));
  await reading(src);
  await turns();
  src.destroy(new Error('aborted'));
  const err = await rejection(t, p);
  t.equal(err.statusCode, 499);
  t.same(readdirSync(parent), []);
});

t.test('the client failing before the spool file is even open: 499, no unhandled error, nothing left', async (t) => {
  const parent = spoolParent(t);
  const src = new PassThrough();
  const p = spoolBody(src, { maxBytes: 1 << 20, dir: parent });
  src.destroy(new Error('aborted'));
  t.equal((await rejection(t, p)).statusCode, 499);
  t.same(readdirSync(parent), []);
});

t.test('a stream closed without end (premature close, no error) is 499 too', async (t) => {
  const parent = spoolParent(t);
  const src = new PassThrough();
  const p = spoolBody(src, { maxBytes: 1 << 20, dir: parent });
  src.write(randomBytes(1_000));
  await reading(src);
  await turns();
  src.destroy();
  t.equal((await rejection(t, p)).statusCode, 499);
  t.same(readdirSync(parent), []);
});

t.test('the request signal aborting mid-body: 499, nothing left', async (t) => {
  const parent = spoolParent(t);
  const src = new PassThrough();
  const ctl = new AbortController();
  const p = spoolBody(src, { maxBytes: 1 << 20, dir: parent, signal: ctl.signal });
  src.write(randomBytes(10_000));
  await reading(src);
  await turns();
  ctl.abort();
  t.equal((await rejection(t, p)).statusCode, 499);
  t.same(readdirSync(parent), []);
});

t.test('an unusable spool directory: 507 naming the error code, never the path', async (t) => {
  const parent = spoolParent(t);
  const missing = join(parent, 'does-not-exist');
  const err = await rejection(t, spoolBody(sourceOf(Buffer.from('x')), { maxBytes: 10, dir: missing }));
  t.equal(err.statusCode, 507);
  t.equal(err.code, 'DAVGATE_INSUFFICIENT_STORAGE');
  t.match(err.message, /ENOENT/);
  t.notMatch(err.message, parent, 'the local path is not in the answer');
});

t.test('the OS temp directory is used when no directory is configured', async (t) => {
  const s = await spoolBody(sourceOf(Buffer.from('hello')), { maxBytes: 10 });
  t.teardown(() => s.dispose());
  t.equal(dirname(dirname(s.path)), tmpdir());
  await s.dispose();
  t.throws(() => statSync(dirname(s.path)), { code: 'ENOENT' }, 'its directory is removed');
});

t.test('a spooled body replays through LazyBody: intact on every attempt, started only once read', async (t) => {
  const parent = spoolParent(t);
  const data = randomBytes(300_000);
  const s = await spoolBody(sourceOf(data), { maxBytes: data.length, dir: parent });
  t.teardown(() => s.dispose());
  const body = new LazyBody(s.open);
  t.equal(body.replayable, true, 'replayable before any attempt');
  const unread = body.attempt();
  unread.destroy(new Error('connect ECONNREFUSED'));
  unread.on('error', () => undefined);
  await turns();
  t.equal(body.started, false, 'an attempt destroyed unread did not start the body');
  t.equal(Buffer.compare(await drain(body.attempt()), data), 0, 'first full attempt intact');
  t.equal(body.started, true);
  t.equal(body.replayable, true, 'still replayable after being sent');
  t.equal(Buffer.compare(await drain(body.attempt()), data), 0, 'a resend is intact');
});
