/**
 * What an app sees through davgate over three simulated 坚果云 accounts, with the `webdav` npm client it uses
 * (issue 4, "Overwrite, chunked PUT, Range past EOF and forbidden names behave as RFC clients expect"). Each of
 * these fails when the same client talks to one account directly; the last test shows that, so the checks here
 * cannot pass by accident.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { createClient, type WebDAVClient } from 'webdav';
import { failedWith } from '../helpers/harness.js';
import { jianguoyunRig, SANDBOX, type Rig } from '../helpers/jianguoyun-rig.js';

let rig: Rig;
let client: WebDAVClient;
const data = randomBytes(10_000);

t.before(async () => {
  rig = await jianguoyunRig(t);
  client = createClient(rig.server.url);
  await client.createDirectory('/app');
  await client.putFileContents('/app/blob.bin', data);
});

/** A client straight to account `i`'s sandbox, bypassing davgate. */
const direct = (i: number) =>
  createClient(`${rig.sims[i]!.url}${SANDBOX}/`, { username: rig.sims[i]!.username, password: rig.sims[i]!.password });

t.test('moveFile and copyFile onto an existing file replace it (the vendor answers 409)', async (t) => {
  for (let i = 0; i < 6; i++) await client.putFileContents(`/app/m${i}.txt`, `old ${i}`);
  // Pairs cover same-account and cross-account replacements, whatever the hashing does with these names.
  for (let i = 0; i < 5; i++) {
    await client.putFileContents(`/app/src${i}.txt`, `new ${i}`);
    await client.moveFile(`/app/src${i}.txt`, `/app/m${i}.txt`);
    t.equal(await client.getFileContents(`/app/m${i}.txt`, { format: 'text' }), `new ${i}`, `m${i} replaced by MOVE`);
    t.equal(await client.exists(`/app/src${i}.txt`), false);
  }
  await client.copyFile('/app/m0.txt', '/app/m5.txt');
  t.equal(await client.getFileContents('/app/m5.txt', { format: 'text' }), 'new 0', 'replaced by COPY');
  t.equal(await failedWith(client.moveFile('/app/m1.txt', '/app/m2.txt', { overwrite: false })), 412, 'overwrite: false is 412');
  t.equal(await client.getFileContents('/app/m2.txt', { format: 'text' }), 'new 2', 'and changes nothing');
});

t.test('a streamed upload without a length arrives whole (the vendor needs Content-Length)', async (t) => {
  const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(33_333)];
  t.equal(await client.putFileContents('/app/stream.bin', Readable.from(chunks)), true);
  const back = (await client.getFileContents('/app/stream.bin')) as Buffer;
  t.equal(Buffer.compare(back, Buffer.concat(chunks)), 0, 'same bytes');
});

t.test('ranges past the end are clamped, suffix ranges are the last bytes (the vendor answers 416 or the first bytes)', async (t) => {
  const readRange = async (start: number, end?: number) => {
    const chunks: Buffer[] = [];
    const stream = client.createReadStream('/app/blob.bin', { range: end === undefined ? { start } : { start, end } }) as Readable;
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  t.same(await readRange(9_990, 20_000), data.subarray(9_990), 'end past EOF: the bytes up to the end');
  t.same(await readRange(100, 199), data.subarray(100, 200), 'an inside range is unchanged');
  const suffix = await rig.call('GET', '/app/blob.bin', { range: 'bytes=-10' });
  t.equal(suffix.status, 206);
  t.equal(suffix.headers['content-range'], 'bytes 9990-9999/10000');
  const past = await rig.call('GET', '/app/blob.bin', { range: 'bytes=10000-' });
  t.equal(past.status, 416, 'a range starting at the end is unsatisfiable');
  t.equal(past.headers['content-range'], 'bytes */10000');
});

t.test('names the vendor forbids are refused with 400 before any upstream call', async (t) => {
  const before = rig.sims.map((s) => s.counters.requests);
  for (const name of ['a:b.txt', 'what?.txt', 'star*.txt', 'q"uote.txt', 'lt<gt>.txt', 'pi|pe.txt']) {
    t.equal(await failedWith(client.putFileContents(`/app/${name}`, 'x')), 400, name);
  }
  t.same(rig.sims.map((s) => s.counters.requests), before, 'no account saw those requests');
});

t.test('the same client straight to one account fails each of these (the checks above can fail)', async (t) => {
  const c = direct(0);
  await c.putFileContents('/d1.txt', 'one');
  await c.putFileContents('/d2.txt', 'two');
  t.equal(await failedWith(c.moveFile('/d1.txt', '/d2.txt')), 409, 'MOVE onto an existing file: 409 DuplicateName');
  await t.rejects(c.putFileContents('/d3.bin', Readable.from([Buffer.from('abc')])), 'a streamed upload is refused');
  await c.putFileContents('/d4.bin', data);
  const stream = c.createReadStream('/d4.bin', { range: { start: 9_990, end: 20_000 } }) as Readable;
  await t.rejects(
    (async () => {
      for await (const _ of stream) void _;
    })(),
    'a range past the end fails (416)',
  );
});
