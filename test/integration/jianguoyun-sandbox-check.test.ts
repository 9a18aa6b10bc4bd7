/**
 * The base folder (a 坚果云 sandbox) is checked at start and created only when asked (issue 4; jianguoyun.md §5:
 * `MKCOL /dav/<name>` silently creates a sandbox, even for a typo, so davgate never creates one unasked).
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { sandboxVerdict } from '../../src/upstream/sandbox.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const TYPO = encodeURIComponent('我的坚果去');

const sims: JianguoyunSim[] = [];
t.before(async () => {
  for (let i = 0; i < 2; i++) sims.push(await startJianguoyunSim({ budget: 100_000 }));
});
t.teardown(async () => {
  for (const s of sims) await s.stop();
});

function config(upstreams: Record<string, unknown>[]) {
  return loadConfig({
    env: {},
    object: {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: upstreams.map((u, i) => ({ id: `j${i}`, profile: 'jianguoyun', ...u })),
      auth: 'none',
      health: { intervalMs: 3_600_000, probeTimeoutMs: 2_000 },
      log: { level: 'silent' },
    },
  });
}
const account = (s: JianguoyunSim, folder = SANDBOX) => ({ url: `${s.url}${folder}/`, username: s.username, password: s.password });

/** Status of PROPFIND Depth 0 sent straight to the simulated account. */
async function statusOnAccount(s: JianguoyunSim, path: string): Promise<number> {
  const auth = 'Basic ' + Buffer.from(`${s.username}:${s.password}`).toString('base64');
  const r = await request(`${s.url}${path}`, { method: 'PROPFIND', headers: { depth: '0', authorization: auth } });
  await r.body.dump();
  return r.statusCode;
}

async function refusal(t: Test, cfg: ReturnType<typeof config>): Promise<ConfigError> {
  try {
    const s = await startServer(cfg);
    await s.close();
  } catch (err) {
    t.type(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected startServer to refuse');
}

t.test('sandboxVerdict is a pure table', async (t) => {
  t.equal(sandboxVerdict(207, true), 'ok');
  t.equal(sandboxVerdict(207, false), 'not-collection');
  t.equal(sandboxVerdict(404, false), 'missing');
  t.equal(sandboxVerdict(409, false), 'missing', 'the vendor’s AncestorsNotFound');
  t.equal(sandboxVerdict(401, false), 'refused');
  t.equal(sandboxVerdict(503, false), 'unknown', 'throttling is not a verdict');
  t.equal(sandboxVerdict(undefined, false), 'unknown');
});

t.test('an existing sandbox: davgate starts', async (t) => {
  const s = await startServer(config([account(sims[0]!), account(sims[1]!)]));
  t.teardown(() => s.close());
  const r = await request(new URL('x.txt', s.url), { method: 'PUT', body: 'x', headers: { 'content-length': '1' } });
  await r.body.dump();
  t.equal(r.statusCode, 201);
});

t.test('a misspelt sandbox: davgate refuses to start, names the key, creates nothing', async (t) => {
  const err = await refusal(t, config([account(sims[0]!), account(sims[1]!, TYPO)]));
  t.same(err.problems.map((p) => p.key), ['upstreams[1].url']);
  t.match(err.problems[0]!.message, /does not exist.*createSandbox: true/);
  t.equal(await statusOnAccount(sims[1]!, `${TYPO}/`), 404, 'no sandbox was created on the account');
});

t.test('createSandbox: true creates the missing sandbox and starts', async (t) => {
  const folder = encodeURIComponent('davgate-new');
  t.equal(await statusOnAccount(sims[0]!, `${folder}/`), 404);
  const s = await startServer(config([{ ...account(sims[0]!, folder), createSandbox: true }, account(sims[1]!)]));
  t.teardown(() => s.close());
  t.equal(await statusOnAccount(sims[0]!, `${folder}/`), 207, 'the sandbox exists on the account now');
});

t.test('a base folder under a missing sandbox cannot be created: refused with the reason', async (t) => {
  const err = await refusal(t, config([{ ...account(sims[0]!, `${encodeURIComponent('nope')}/sub`), createSandbox: true }]));
  t.same(err.problems.map((p) => p.key), ['upstreams[0].createSandbox']);
  t.match(err.problems[0]!.message, /could not be created/);
});

t.test('wrong credentials: refused, naming the password key without echoing it', async (t) => {
  const wrong = 'Not-The-Password-123';
  const err = await refusal(t, config([{ ...account(sims[0]!), password: wrong }]));
  t.same(err.problems.map((p) => p.key), ['upstreams[0].password']);
  t.match(err.message, /refused/);
  t.notMatch(err.message, wrong);
});

t.test('an unreachable account only warns: davgate starts and serves from the others', async (t) => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const s = await startServer(config([account(sims[0]!), { url: `http://127.0.0.1:${port}/dav/${SANDBOX}/` }]));
  t.teardown(() => s.close());
  const r = await request(new URL('readyz', s.url));
  await r.body.dump();
  t.ok(r.statusCode === 200 || r.statusCode === 503, 'the server answers');
});
