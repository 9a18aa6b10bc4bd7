/**
 * Graceful shutdown (`server.ts` `close()`, and SIGTERM through `davgate serve`): once closing starts, new
 * connections are refused (or answered 503 by Fastify's `return503OnClosing`), a request already in flight is
 * allowed to finish with its full body, and `close()` resolves. When an in-flight request outlives
 * `shutdownGraceMs`, its connection is cut and `close()` still resolves.
 *
 * The upstream is a tiny local HTTP server that holds every GET until the test releases it (a promise, never a
 * timer), so "in flight" is a state the test controls (the same pattern as `limits-queue.test.ts`). Nothing here
 * asserts on elapsed time; the tap timeout bounds every wait.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BODY = 'held upstream body: the whole of it\n';

/** An upstream that answers GETs only when released (anything else at once, so it never blocks a probe). */
class HeldUpstream {
  readonly server = http.createServer((req, res) => this.#onRequest(req, res));
  /** GETs received, in order. */
  readonly received: string[] = [];
  #open!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#open = resolve));
  #arrivalWaiters: { n: number; resolve: () => void }[] = [];

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dav/`;
  }

  /** Answers every held GET and every later one. */
  release(): void {
    this.#open();
  }

  /** Resolves once `n` GETs in total have arrived. */
  arrivals(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#arrivalWaiters.push({ n, resolve }));
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (req.method !== 'GET') {
      res.writeHead(207, { 'content-type': 'application/xml' }).end();
      return;
    }
    this.received.push(req.url ?? '');
    for (const w of this.#arrivalWaiters.filter((x) => this.received.length >= x.n)) w.resolve();
    this.#arrivalWaiters = this.#arrivalWaiters.filter((x) => this.received.length < x.n);
    void this.#gate.then(() => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(BODY)) });
      res.end(BODY);
    });
  }
}

/** Answer of {@link freshGet}: a status and body, or the socket error that ended it. */
type Outcome = { kind: 'answered'; status: number; body: string } | { kind: 'error'; code: string };

/**
 * One GET. Without an agent it goes on a connection of its own (never a reused keep-alive socket) that closes
 * after the response. Never rejects.
 */
function freshGet(base: string, p: string, agent: http.Agent | false = false): Promise<Outcome> {
  const u = new URL(p.replace(/^\//, ''), base);
  return new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), path: u.pathname, method: 'GET', agent });
    req.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'error', code: err.code ?? err.message }));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ kind: 'answered', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'error', code: err.code ?? err.message }));
    });
    req.end();
  });
}

/** A new connection while closing may be refused outright, reset from the backlog, or answered 503. */
function refusedOr503(o: Outcome): boolean {
  return o.kind === 'error' ? ['ECONNREFUSED', 'ECONNRESET'].includes(o.code) : o.status === 503;
}

/** Tracks whether a promise has settled, without a timer. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const promise = p.finally(() => (done = true));
  return { promise, settled: () => done };
}

function captureLogs(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines };
}

/** Validated like a config file (`loadConfig({ object })`), so the test runs with the defaults users get. */
function configFor(upstreamUrl: string, shutdownGraceMs: number): Config {
  return loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: [{ id: 'held', url: upstreamUrl }],
      auth: 'none',
      health: { intervalMs: 3_600_000 },
      shutdownGraceMs,
      log: { level: 'info' },
    },
  });
}

async function startRig(t: Test, shutdownGraceMs: number) {
  const upstream = new HeldUpstream();
  const upstreamUrl = await upstream.start();
  const logs = captureLogs();
  let server: RunningServer;
  try {
    server = await startServer(configFor(upstreamUrl, shutdownGraceMs), { logStream: logs.stream });
  } catch (err) {
    await upstream.stop();
    throw err;
  }
  t.teardown(async () => {
    upstream.release();
    await server.close();
    await upstream.stop();
  });
  return { upstream, server, logs: logs.lines };
}

t.test('close(): new connections are refused or 503 while an in-flight GET finishes with its full body', async (t) => {
  const { upstream, server, logs } = await startRig(t, 60_000);

  const inFlight = track(freshGet(server.url, '/f.txt'));
  await upstream.arrivals(1);

  const closing = track(server.close());

  // Closing is asynchronous inside Fastify (an onClose hook), so ask on fresh connections until the answer
  // changes; a 200 here only means closing has not begun yet. It must change, or the tap timeout fails this.
  let probe = await freshGet(server.url, '/healthz');
  while (probe.kind === 'answered' && probe.status === 200) {
    await new Promise((r) => setImmediate(r));
    probe = await freshGet(server.url, '/healthz');
  }
  t.ok(refusedOr503(probe), `a new connection while closing is refused or answered 503 (got ${JSON.stringify(probe)})`);
  t.notOk(inFlight.settled(), 'the in-flight GET is still waiting on its upstream');
  t.notOk(closing.settled(), 'close() waits for the in-flight GET');
  t.equal(upstream.received.length, 1, 'no request that arrived while closing reached the upstream');

  upstream.release();
  const got = await inFlight.promise;
  t.same(got, { kind: 'answered', status: 200, body: BODY }, 'the in-flight GET completes: 200 and the full body');
  await closing.promise;
  t.pass('close() resolved');

  const events = logs.map((l) => l['event']);
  t.ok(events.includes('shutdown'), 'shutdown logged');
  t.ok(events.includes('stopped'), 'stopped logged');
  t.notOk(events.includes('shutdown_forced'), 'the drain finished without being forced');
  const line = logs.find((l) => l['msg'] === 'request finished' && l['url'] === '/f.txt');
  t.equal(line?.['status'], 200, 'the drained request is logged as 200, not 499');
});

t.test('close() resolves when an in-flight request outlives shutdownGraceMs (the request is cut)', async (t) => {
  const { upstream, server, logs } = await startRig(t, 200);

  const inFlight = freshGet(server.url, '/never.txt');
  await upstream.arrivals(1);

  // Never released: only the grace period can end this.
  await server.close();
  t.pass('close() resolved with the upstream still holding the request');

  const got = await inFlight;
  t.equal(got.kind, 'error', `the in-flight request was cut, not answered (got ${JSON.stringify(got)})`);
  t.ok(logs.some((l) => l['event'] === 'shutdown_forced'), 'shutdown_forced logged');
  t.ok(logs.some((l) => l['event'] === 'stopped'), 'stopped logged');
});

/**
 * Regression: Node's `server.close()` reaps idle keep-alive sockets only once, when it is called. A request that
 * finished during the drain left its socket idle for `keepAliveTimeout` (Fastify: 72 s), so with any keep-alive
 * client (every WebDAV client) the drain waited out `shutdownGraceMs` and ended as shutdown_forced.
 */
t.test(
  'regression (keep-alive socket held the drain open): close() with a keep-alive client: the drained connection is closed once its response ends, so the drain is not forced',
  async (t) => {
    // Longer than any real drain here, far shorter than Fastify's 72 s keepAliveTimeout.
    const { upstream, server, logs } = await startRig(t, 5_000);
    const agent = new http.Agent({ keepAlive: true });
    t.teardown(() => agent.destroy());

    const inFlight = freshGet(server.url, '/ka.txt', agent);
    await upstream.arrivals(1);

    const closing = server.close();
    let probe = await freshGet(server.url, '/healthz');
    while (probe.kind === 'answered' && probe.status === 200) {
      await new Promise((r) => setImmediate(r));
      probe = await freshGet(server.url, '/healthz');
    }
    t.ok(refusedOr503(probe), 'closing has begun');

    upstream.release();
    t.same(await inFlight, { kind: 'answered', status: 200, body: BODY }, 'the in-flight GET completes');
    await closing;
    t.notOk(
      logs.some((l) => l['event'] === 'shutdown_forced'),
      'no shutdown_forced: the idle keep-alive socket of the finished request did not hold the drain open',
    );
  },
);

/** Child stdout as parsed JSON lines, with a way to wait for the first line matching a predicate. */
class LineWatcher {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  #buf = '';
  #waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];

  constructor(stream: NodeJS.ReadableStream) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.#buf += chunk;
      let nl: number;
      while ((nl = this.#buf.indexOf('\n')) >= 0) {
        const text = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        if (text.trim()) this.#push(text);
      }
    });
  }

  #push(text: string): void {
    this.raw.push(text);
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { unparsed: text };
    }
    this.lines.push(line);
    for (const w of this.#waiters.filter((x) => x.match(line))) w.resolve(line);
    this.#waiters = this.#waiters.filter((x) => !x.match(line));
  }

  waitFor(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

/** The environment without variables that would override the test's config file. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DAVGATE_|WEBDAV_)/.test(k) && k !== 'PORT'),
  );
}

t.test('davgate serve: SIGTERM drains the in-flight request, logs shutdown and exits 0', async (t) => {
  t.ok(existsSync(path.join(ROOT, 'dist/cli.js')), 'dist/cli.js exists (npm test builds it; otherwise run npm run build)');
  if (!existsSync(path.join(ROOT, 'dist/cli.js'))) return;

  const upstream = new HeldUpstream();
  const upstreamUrl = await upstream.start();
  const dir = await mkdtemp(path.join(tmpdir(), 'davgate-shutdown-'));
  let child: ChildProcess | undefined;
  t.teardown(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    await upstream.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const configFile = path.join(dir, 'davgate.yaml');
  await writeFile(
    configFile,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      auth: 'none',
      upstreams: [{ id: 'held', url: upstreamUrl }],
      health: { intervalMs: 3_600_000 },
      shutdownGraceMs: 60_000,
      log: { level: 'info' },
    }),
  );

  child = spawn(process.execPath, ['bin/davgate.js', 'serve', '--config', configFile], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = child;
  const stdout = new LineWatcher(proc.stdout!);
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );

  // Either it listens, or it exits early (bad config, missing build): report which, instead of hanging.
  const first = await Promise.race([
    stdout.waitFor((l) => l['event'] === 'listening').then((l) => ({ listening: l })),
    exited.then((e) => ({ exited: e })),
  ]);
  if (!('listening' in first)) {
    t.fail(`davgate serve exited before listening: ${JSON.stringify(first.exited)}; stderr: ${stderr}`);
    return;
  }
  const url = String(first.listening['url']);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'listening URL logged');

  let health = await freshGet(url, '/healthz');
  while (!(health.kind === 'answered' && health.status === 200)) {
    await new Promise((r) => setTimeout(r, 10));
    health = await freshGet(url, '/healthz');
  }
  t.same(health, { kind: 'answered', status: 200, body: health.kind === 'answered' ? health.body : '' }, '/healthz answers 200');

  const inFlight = track(freshGet(url, '/g.txt'));
  await upstream.arrivals(1);

  t.ok(proc.pid, 'child has a pid');
  process.kill(proc.pid!, 'SIGTERM');
  // Release only once the child has begun shutting down, so the request really is drained, not just served.
  const shutdown = await stdout.waitFor((l) => l['event'] === 'shutdown');
  t.equal(shutdown['graceMs'], 60_000, 'shutdown line carries the configured grace');
  t.notOk(inFlight.settled(), 'the in-flight request is still open when shutdown begins');

  upstream.release();
  const got = await inFlight.promise;
  t.same(got, { kind: 'answered', status: 200, body: BODY }, 'the in-flight request completes with 200 and its full body');

  const exit = await exited;
  t.same(exit, { code: 0, signal: null }, `exited with code 0 (stderr: ${stderr})`);
  const events = stdout.lines.map((l) => l['event']);
  t.ok(events.includes('signal'), 'signal logged');
  t.equal(stdout.lines.find((l) => l['event'] === 'signal')?.['signal'], 'SIGTERM', 'the signal is SIGTERM');
  t.ok(events.includes('shutdown'), 'shutdown logged');
  t.ok(events.includes('stopped'), 'stopped logged (the log was flushed before exit)');
  t.notOk(events.includes('shutdown_forced'), 'the drain was not forced');
  t.same(stdout.lines.filter((l) => 'unparsed' in l), [], 'every stdout line is JSON');
});
