/**
 * Logs never carry a secret: not the front-side password, not its (or a wrong one's) Basic token, not an
 * upstream password or the Basic token davgate sends upstream, not the admin token. Every line is JSON, request
 * lines carry `reqId`, and a client's own `x-request-id` is both echoed and used as that `reqId`.
 *
 * The harness cannot take a log stream, so the gateway is started here with `startServer(config, { logStream })`
 * over three in-process WebDAV upstreams (each with its own random password) plus a disabled upstream whose
 * password is a fixed, recognisable string. One upstream is stopped mid-test so that failures are logged too.
 */
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startDavUpstreams } from '../../src/demo/upstreams.js';
import { createLogger, startServer } from '../../src/server.js';

const USER = 'redact-user';
const PASSWORD = 'Front-Side-Pw-4711!';
const WRONG_PASSWORD = 'Wrong-Front-Pw-0815?';
const ADMIN_TOKEN = 'Admin-Token-Redact-5150';
const WRONG_ADMIN_TOKEN = 'Wrong-Admin-Token-8086';
const DISABLED_PASSWORD = 'Disabled-Upstream-Pw-6502';

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
}

/** `Basic ` and a token68 long enough to be a credential (the realm challenge, `Basic realm=…`, is not one). */
const BASIC_TOKEN = /Basic +[A-Za-z0-9+/]{8,}=*/i;

/** Log lines as written (raw) and parsed, with a way to wait for a line (no timers). */
class LogCapture {
  readonly raw: string[] = [];
  readonly parsed: Record<string, unknown>[] = [];
  readonly unparsable: string[] = [];
  #buf = '';
  #waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      this.#buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        if (line.trim()) this.#push(line);
      }
      cb();
    },
  });

  #push(line: string): void {
    this.raw.push(line);
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.unparsable.push(line);
      return;
    }
    this.parsed.push(obj);
    for (const w of this.#waiters.filter((x) => x.match(obj))) w.resolve(obj);
    this.#waiters = this.#waiters.filter((x) => !x.match(obj));
  }

  waitFor(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.parsed.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /**
   * The access-log line of a request, found by method and URL (not by reqId, which is under test); it is written
   * when the response closes, possibly after the client has read it.
   */
  finished(method: string, url: string): Promise<Record<string, unknown>> {
    return this.waitFor((l) => l['msg'] === 'request finished' && l['method'] === method && l['url'] === url);
  }
}

t.test('no secret reaches the logs; every line is JSON; x-request-id is echoed and logged as reqId', async (t) => {
  const group = await startDavUpstreams({ count: 3 });
  t.teardown(() => group.stop());
  const logs = new LogCapture();

  // Validated like a config file (`loadConfig({ object })`): the passwords travel the way an operator's do.
  const config: Config = loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: [
        ...group.upstreams.map((u) => ({ id: u.id, url: u.url, username: u.username, password: u.password })),
        // Never contacted; its password must not show up either (e.g. in a start-up line listing upstreams).
        { id: 'off', url: 'http://127.0.0.1:9/dav/', username: 'off-user', password: DISABLED_PASSWORD, enabled: false },
      ],
      auth: { mode: 'basic', users: [{ username: USER, passwordHash: await bcrypt.hash(PASSWORD, 4) }] },
      admin: { token: ADMIN_TOKEN },
      // failThreshold 1: the first transport failure also logs `upstream_down`.
      health: { intervalMs: 3_600_000, failThreshold: 1 },
      failover: { retryBackoffMs: 1 },
      shutdownGraceMs: 2_000,
      // debug, not info: whatever davgate or Fastify writes at debug level must be clean too.
      log: { level: 'debug' },
    },
  });
  t.ok(config.upstreams.every((u) => typeof u.password === 'string' && u.password !== ''), 'every upstream in the config has a password');
  const server = await startServer(config, { logStream: logs.stream });
  t.teardown(() => server.close());

  const send = async (path: string, method: string, headers: Record<string, string>, body?: string) => {
    const res = await request(new URL(path.replace(/^\//, ''), server.url), { method: method as 'GET', headers, ...(body === undefined ? {} : { body }) });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text };
  };
  const good = basic(USER, PASSWORD);
  const wrong = basic(USER, WRONG_PASSWORD);

  // Correct credentials.
  const put = await send('/redaction-probe.txt', 'PUT', { authorization: good, 'x-request-id': 'test-put' }, 'probe body\n');
  t.equal(put.status, 201, 'PUT with the right password');
  const got = await send('/redaction-probe.txt', 'GET', { authorization: good, 'x-request-id': 'test-123' });
  t.equal(got.status, 200, 'GET with the right password');
  t.equal(got.body, 'probe body\n');
  t.equal(got.headers['x-request-id'], 'test-123', 'x-request-id echoed');
  const gotLine = await logs.finished('GET', '/redaction-probe.txt');
  t.equal(gotLine['status'], 200);
  t.equal(gotLine['reqId'], 'test-123', 'the access-log line has the client\'s x-request-id as reqId');
  t.equal(gotLine['reqId'], got.headers['x-request-id'], 'the echoed x-request-id equals that reqId');

  // Wrong password, and a token without a colon (decodes to no user:password pair).
  const denied = await send('/denied.txt', 'GET', { authorization: wrong, 'x-request-id': 'test-wrong' });
  t.equal(denied.status, 401, 'wrong password refused');
  t.equal(denied.headers['x-request-id'], 'test-wrong');
  const deniedLine = await logs.finished('GET', '/denied.txt');
  t.equal(deniedLine['status'], 401);
  t.equal(deniedLine['reqId'], 'test-wrong', 'the refusal is logged with its reqId');
  const malformed = await send('/denied-no-colon.txt', 'GET', { authorization: 'Basic ' + Buffer.from(WRONG_PASSWORD).toString('base64') });
  t.equal(malformed.status, 401, 'colon-less token refused');

  // Admin API: wrong and right bearer tokens.
  t.equal((await send('/api/admin/webdav/status', 'GET', { authorization: `Bearer ${WRONG_ADMIN_TOKEN}` })).status, 401);
  t.equal((await send('/api/admin/webdav/status', 'GET', { authorization: `Bearer ${ADMIN_TOKEN}` })).status, 200);

  // An upstream failure: with one upstream gone, a lookup it might answer fails and is logged as a warning.
  await group.upstreams[1]!.stop();
  const failed = await send('/not-there.txt', 'GET', { authorization: good, 'x-request-id': 'test-fail' });
  t.ok([502, 503].includes(failed.status), `GET with an upstream down fails with 502/503 (got ${failed.status})`);
  const failedLine = await logs.finished('GET', '/not-there.txt');
  t.equal(failedLine['level'], 40, 'its access-log line is a warning');
  t.equal(failedLine['reqId'], 'test-fail');
  const down = await logs.waitFor((l) => l['event'] === 'upstream_down');
  t.equal(down['upstream'], group.upstreams[1]!.id, 'the stopped upstream is logged as down');
  const listing = await send('/', 'PROPFIND', { authorization: good, depth: '1', 'x-request-id': 'test-list' });
  t.equal(listing.status, 503, 'a listing with an upstream down is refused');
  t.equal((await logs.finished('PROPFIND', '/'))['level'], 40, 'logged as a warning');
  await logs.finished('GET', '/denied-no-colon.txt');

  await server.close();

  // The assertions that matter: over every line written, start-up to shutdown.
  t.ok(logs.raw.length > 0, 'something was logged');
  t.same(logs.unparsable, [], 'every log line parses as JSON');
  const requestLines = logs.parsed.filter((l) => l['msg'] === 'request finished');
  t.ok(requestLines.length >= 8, `one access-log line per request (${requestLines.length})`);
  t.same(
    requestLines.filter((l) => typeof l['reqId'] !== 'string' || l['reqId'] === ''),
    [],
    'every request line carries a reqId',
  );
  t.ok(logs.parsed.some((l) => l['event'] === 'listening'), 'the start-up line (which lists upstreams) was written');

  const secrets: Record<string, string> = {
    'front-side password': PASSWORD,
    'front-side Basic token': good.slice('Basic '.length),
    'wrong password': WRONG_PASSWORD,
    'wrong Basic token': wrong.slice('Basic '.length),
    'admin token': ADMIN_TOKEN,
    'wrong admin token': WRONG_ADMIN_TOKEN,
    'disabled upstream password': DISABLED_PASSWORD,
  };
  for (const u of group.upstreams) {
    secrets[`upstream ${u.id} password`] = u.password;
    secrets[`upstream ${u.id} Basic token`] = basic(u.username, u.password).slice('Basic '.length);
  }
  for (const [what, secret] of Object.entries(secrets)) {
    t.same(logs.raw.filter((l) => l.includes(secret)), [], `no log line contains the ${what}`);
  }
  t.same(logs.raw.filter((l) => BASIC_TOKEN.test(l)), [], 'no log line contains "Basic " followed by a token');
});

t.test('createLogger censors the documented shapes (what code that logs headers or config relies on)', async (t) => {
  const logs = new LogCapture();
  const log = createLogger({ log: { level: 'info' } } as Config, logs.stream);
  log.info({ req: { headers: { authorization: 'Basic c2VjcmV0LTE6eA==' } } }, 'a');
  log.info({ headers: { authorization: 'Basic c2VjcmV0LTI6eA==' } }, 'b');
  log.info({ authorization: 'Basic c2VjcmV0LTM6eA==' }, 'c');
  log.info({ password: 'secret-4' }, 'd');
  log.info({ upstream: { password: 'secret-5' } }, 'e');
  log.info({ upstreams: [{ id: 'a', password: 'secret-6' }] }, 'f');
  log.info({ token: 'secret-7', admin: { token: 'secret-8' } }, 'g');
  log.flush();
  await logs.waitFor((l) => l['msg'] === 'g');
  t.equal(logs.parsed.length, 7);
  t.same(logs.raw.filter((l) => /secret-|c2VjcmV0/.test(l)), [], 'every documented path is censored');
  t.equal((logs.parsed[0]?.['req'] as { headers: { authorization: string } }).headers.authorization, '[redacted]', 'censor text');
});

/**
 * Latent gap, kept as a TODO assertion until src/server.ts is changed: pino redact paths are exact, so
 * `createLogger` ("redacted wherever they appear") misses nested and capitalised keys. No current log call has
 * these shapes; the first one that logs a config, an undici error's options or raw headers would leak.
 */
t.test(
  'createLogger: "redacted wherever they appear" holds for nested and capitalised keys too',
  async (t) => {
    const logs = new LogCapture();
    const log = createLogger({ log: { level: 'info' } } as Config, logs.stream);
    log.info({ config: { upstreams: [{ id: 'a', password: 'secret-9' }] } }, 'a');
    log.info({ headers: { Authorization: 'Basic c2VjcmV0LTEwOng=' } }, 'b');
    log.info({ upstream: { headers: { authorization: 'Basic c2VjcmV0LTExOng=' } } }, 'c');
    log.flush();
    await logs.waitFor((l) => l['msg'] === 'c');
    t.same(logs.raw.filter((l) => /secret-|c2VjcmV0/.test(l)), [], 'regression: nested and capitalised secrets are censored');
  },
);
