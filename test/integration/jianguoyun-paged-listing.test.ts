/**
 * A folder larger than a 坚果云 listing page lists completely through davgate: every page of every account is
 * followed (`Link: <…?mk=…>; rel="next"`, jianguoyun.md §5) and merged, each member once. Clients that read
 * only the first page lose files (Joplin: "760 of 933").
 * Three simulated accounts with a small page size stand in for the real 750.
 */
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';
import { parseMultistatus } from '../../src/dav/multistatus.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const PAGE = 25;
const FILES = 300;
const sims: JianguoyunSim[] = [];
let server: RunningServer;

t.before(async () => {
  for (let i = 0; i < 3; i++) sims.push(await startJianguoyunSim({ budget: 100_000, pageSize: PAGE }));
  server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: sims.map((s, i) => ({ id: `j${i}`, url: `${s.url}${SANDBOX}/`, username: s.username, password: s.password })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        log: { level: 'silent' },
      },
    }),
  );
});
t.teardown(async () => {
  await server?.close();
  for (const s of sims) await s.stop();
});

const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
  const r = await request(new URL(path.slice(1), server.url), { method: method as 'GET', headers, body });
  return { status: r.statusCode, text: await r.body.text() };
};

t.test(`a folder of ${FILES} files lists completely across ${PAGE}-entry pages`, async (t) => {
  t.equal((await call('MKCOL', '/big/')).status, 201);
  for (let i = 0; i < FILES; i++) {
    const r = await call('PUT', `/big/f${String(i).padStart(4, '0')}.txt`, { 'content-length': '1' }, 'x');
    if (r.status !== 201) t.fail(`PUT f${i}: ${r.status} ${r.text}`);
  }
  const perAccount = await Promise.all(sims.map((s) => s.snapshot()));
  const before = perAccount.map((c) => c.byMethod['PROPFIND'] ?? 0);
  const list = await call('PROPFIND', '/big/', { depth: '1' });
  t.equal(list.status, 207);
  // Namespace-aware: the responses keep the prefix the account wrote (`d:`).
  const hrefs = parseMultistatus(list.text).map((r) => r.href);
  const files = hrefs.filter((h) => h !== '/big/');
  t.equal(files.length, FILES, "every file listed");
  t.equal(new Set(files).size, FILES, 'each file once');
  t.equal(hrefs.filter((h) => h === '/big/').length, 1, 'the collection once');
  const pages = (await Promise.all(sims.map((s) => s.snapshot()))).map((c, i) => (c.byMethod['PROPFIND'] ?? 0) - before[i]!);
  t.ok(pages.every((n) => n > 1), `every account was read over several pages (${pages.join(', ')} PROPFINDs)`);
  t.ok(sims.every((s) => s.counters.throttled === 0), 'no account was throttled');
});
