/**
 * Per-upstream admission limits (issue #2, "Queue"): with `maxConcurrent: 1` and `queueLength: 1`, one request
 * is in flight, one waits, and the next is refused at once with 503 + Retry-After; a wait past
 * `queueTimeoutMs` is refused with 503 too; a client that goes away cancels its upstream request (499).
 *
 * The upstream is a tiny local HTTP server that holds every request until the test releases it (a promise,
 * never a timer), so "in flight" and "waiting" are states the test controls. The harness cannot swap one of
 * its webdav-server upstreams for such a server, so the gateway is started here with `startServer`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import t from 'tap';
import type { Config } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';

const ADMIN_TOKEN = 'limits-admin-token';

/** An upstream that answers only when released. */
class HeldUpstream {
  readonly server = http.createServer((req, res) => this.#onRequest(req, res));
  /** Every request received, in order. */
  readonly received: { method: string; url: string; headers: http.IncomingHttpHeaders; closedEarly: Promise<void> }[] = [];
  #gate!: Promise<void>;
  #open!: () => void;
  #arrivalWaiters: { n: number; resolve: () => void }[] = [];

  constructor() {
    this.hold();
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dav/`;
  }

  /** Requests from now on wait until {@link release}. */
  hold(): void {
    this.#gate = new Promise<void>((resolve) => (this.#open = resolve));
  }

  /** Answers every held request and every later one at once. */
  release(): void {
    this.#open();
  }

  /** Resolves once `n` requests in total have arrived. */
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
    // davgate's start-up check of the base folder (src/upstream/sandbox.ts) is answered at once and not
    // recorded: these tests are about the requests that follow.
    if (req.method === 'PROPFIND' && req.url === '/dav/' && req.headers['depth'] === '0') {
      req.resume();
      const body =
        '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/dav/</D:href>' +
        '<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>';
      res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }).end(body);
      return;
    }
    // The response closing before we wrote it means the gateway dropped the connection (a cancel).
    const closedEarly = new Promise<void>((resolve) => res.once('close', () => !res.writableFinished && resolve()));
    this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, closedEarly });
    for (const w of this.#arrivalWaiters.filter((x) => this.received.length >= x.n)) w.resolve();
    this.#arrivalWaiters = this.#arrivalWaiters.filter((x) => this.received.length < x.n);
    req.resume();
    void this.#gate.then(() => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('hello');
    });
  }
}

interface Rig {
  upstream: HeldUpstream;
  server: RunningServer;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function startRig(limits: Partial<Config['limits']>): Promise<Rig> {
  const upstream = new HeldUpstream();
  const url = await upstream.start();
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const config: Config = loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: [{ id: 'slow', url, username: 'u', password: 'upstream-secret', maxConcurrent: 1 }],
      auth: 'none',
      admin: { token: ADMIN_TOKEN },
      health: { intervalMs: 3_600_000 },
      limits: { queueLength: 1, queueTimeoutMs: 60_000, ...limits },
      shutdownGraceMs: 500,
      log: { level: 'info' },
    },
  });
  const server = await startServer(config, { logStream });
  return {
    upstream,
    server,
    logs,
    async stop() {
      upstream.release();
      await server.close();
      await upstream.stop();
    },
  };
}

async function get(rig: Rig, p: string, init: { headers?: Record<string, string> } = {}) {
  const res = await fetch(new URL(p.replace(/^\//, ''), rig.server.url), { headers: init.headers ?? {} });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function metric(rig: Rig, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await get(rig, '/metrics')).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

async function status(rig: Rig): Promise<{ inFlight: number; queue: number }> {
  const res = await get(rig, '/api/admin/webdav/status', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (JSON.parse(res.body) as { upstreams: { inFlight: number; queue: number }[] }).upstreams[0]!;
}

/** Polls `check` until it holds (no time limit of its own: the tap timeout bounds it). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
}

t.test('queue full: 1 in flight, 1 waiting, the 3rd gets 503 with Retry-After at once', async (t) => {
  const rig = await startRig({ queueLength: 1 });
  t.teardown(() => rig.stop());

  const first = get(rig, '/f.txt');
  await rig.upstream.arrivals(1);
  const second = get(rig, '/g.txt');
  await until(async () => (await status(rig)).queue === 1);
  const s = await status(rig);
  t.equal(s.inFlight, 1, 'admin status: one in flight');
  t.equal(s.queue, 1, 'admin status: one queued');
  t.equal(await metric(rig, 'davgate_upstream_in_flight_requests', { upstream: 'slow' }), 1, 'in-flight gauge while held');
  t.equal(await metric(rig, 'davgate_upstream_queue_length', { upstream: 'slow' }), 1, 'regression (gauges read p-queue counters late): queue gauge while one waits');
  t.equal(rig.upstream.received.length, 1, 'the queued request has not reached the upstream');

  const rejectionsBefore = await metric(rig, 'davgate_upstream_queue_rejections_total', { upstream: 'slow', reason: 'full' });
  t.equal(rejectionsBefore, 0);
  const third = await get(rig, '/h.txt');
  t.equal(third.status, 503, 'third request refused');
  t.match(third.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After in seconds');
  t.equal(rig.upstream.received.length, 1, 'the refused request never reached the upstream');
  t.equal(await metric(rig, 'davgate_upstream_queue_rejections_total', { upstream: 'slow', reason: 'full' }), 1, 'rejection counted');

  rig.upstream.release();
  const [a, b] = await Promise.all([first, second]);
  t.equal(a.status, 200);
  t.equal(a.body, 'hello');
  t.equal(b.status, 200, 'the queued request is served once the slot frees');
  t.equal(b.body, 'hello');
  t.same(rig.upstream.received.map((r) => r.url), ['/dav/f.txt', '/dav/g.txt'], 'served in arrival order');
  await until(async () => (await status(rig)).inFlight === 0);
  t.equal((await status(rig)).queue, 0);
  t.equal(await metric(rig, 'davgate_upstream_in_flight_requests', { upstream: 'slow' }), 0, 'regression (gauges read p-queue counters late): in-flight gauge back to 0');
  t.equal(await metric(rig, 'davgate_upstream_queue_length', { upstream: 'slow' }), 0, 'queue gauge back to 0');
});

t.test('queue timeout: a request that waits past queueTimeoutMs gets 503', async (t) => {
  const rig = await startRig({ queueLength: 5, queueTimeoutMs: 200 });
  t.teardown(() => rig.stop());

  const first = get(rig, '/f.txt');
  await rig.upstream.arrivals(1);
  const second = await get(rig, '/g.txt');
  t.equal(second.status, 503, 'waited too long');
  t.match(second.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After');
  t.equal(rig.upstream.received.length, 1, 'the timed-out request never reached the upstream');
  t.equal(await metric(rig, 'davgate_upstream_queue_rejections_total', { upstream: 'slow', reason: 'timeout' }), 1);
  t.equal(await metric(rig, 'davgate_upstream_queue_rejections_total', { upstream: 'slow', reason: 'full' }), 0);
  t.equal((await status(rig)).queue, 0, 'its place in the queue is free again');

  rig.upstream.release();
  t.equal((await first).status, 200);
});

t.test('a client that disconnects mid-request cancels the upstream request and is counted as 499', async (t) => {
  const rig = await startRig({});
  t.teardown(() => rig.stop());
  t.equal(await metric(rig, 'davgate_client_aborts_total'), 0);

  const gw = new URL(rig.server.url);
  const clientReq = http.request({ host: gw.hostname, port: Number(gw.port), path: '/big.bin', method: 'GET', agent: false });
  const clientGone = new Promise<void>((resolve) => clientReq.once('close', () => resolve()));
  clientReq.on('error', () => undefined);
  clientReq.end();
  await rig.upstream.arrivals(1);
  t.equal((await status(rig)).inFlight, 1, 'in flight upstream');

  clientReq.destroy();
  await clientGone;
  await rig.upstream.received[0]!.closedEarly;
  t.pass('the upstream saw its request connection close before answering');

  await until(async () => (await metric(rig, 'davgate_client_aborts_total')) === 1);
  t.equal(await metric(rig, 'davgate_client_aborts_total'), 1, 'davgate_client_aborts_total');
  t.equal(await metric(rig, 'davgate_http_requests_total', { method: 'GET', status_class: '499' }), 1, '499 status class');
  await until(async () => (await status(rig)).inFlight === 0);
  t.pass('the slot was released');
  t.equal(
    await metric(rig, 'davgate_upstream_requests_total', { upstream: 'slow', status_class: 'error' }),
    0,
    'a client cancel is not counted as an upstream failure',
  );
  const line = rig.logs.find((l) => l['msg'] === 'request finished' && l['url'] === '/big.bin');
  t.ok(line, 'access log line written');
  t.equal(line?.['status'], 499, 'logged as 499');

  // The upstream is not blamed: the next request is served normally.
  rig.upstream.release();
  const after = await get(rig, '/f.txt');
  t.equal(after.status, 200);
});
