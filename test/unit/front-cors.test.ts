/** CORS decisions (src/front/cors.ts) and the `cors.origins` key / `DAVGATE_CORS_ORIGINS` (src/config/load.ts). */
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { corsDecision, parseCorsOrigin, varyWithOrigin } from '../../src/front/cors.js';

const UPSTREAMS = [{ id: 'a', url: 'http://127.0.0.1:9/dav/' }];

function problemsOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('parseCorsOrigin: scheme://host[:port] only, serialised as browsers send Origin', async (t) => {
  t.same(parseCorsOrigin('https://App.Example.com'), { ok: true, origin: 'https://app.example.com' });
  t.same(parseCorsOrigin('https://app.example.com:443/'), { ok: true, origin: 'https://app.example.com' }, 'default port and a bare / dropped');
  t.same(parseCorsOrigin(' http://127.0.0.1:3000 '), { ok: true, origin: 'http://127.0.0.1:3000' });
  t.same(parseCorsOrigin('http://[::1]:8080'), { ok: true, origin: 'http://[::1]:8080' });
  for (const bad of ['*', 'app.example.com', 'ftp://app.example.com', 'https://app.example.com/path', 'https://u:p@app.example.com', 'https://app.example.com?x', 'https://app.example.com#f', 'null', '']) {
    const r = parseCorsOrigin(bad);
    t.equal(r.ok, false, `${JSON.stringify(bad)} refused`);
  }
  const star = parseCorsOrigin('*');
  t.match(!star.ok && star.reason, /credentials/, '* is refused with the reason');
});

t.test('corsDecision: nothing unless the origin is listed; a preflight needs Access-Control-Request-Method', async (t) => {
  const list = ['https://app.example.com'];
  t.same(corsDecision([], 'OPTIONS', 'https://app.example.com', 'PUT'), { kind: 'none' }, 'no origins configured');
  t.same(corsDecision(list, 'GET', undefined, undefined), { kind: 'none' }, 'no Origin');
  t.same(corsDecision(list, 'OPTIONS', 'https://other.example.com', 'PUT'), { kind: 'none' }, 'unlisted');
  t.same(corsDecision(list, 'OPTIONS', 'https://APP.example.com', 'PUT'), { kind: 'none' }, 'compared exactly');
  const pre = corsDecision(list, 'OPTIONS', 'https://app.example.com', 'PROPFIND');
  t.equal(pre.kind, 'preflight');
  t.equal(pre.kind !== 'none' && pre.headers['access-control-allow-origin'], 'https://app.example.com');
  const plainOptions = corsDecision(list, 'OPTIONS', 'https://app.example.com', undefined);
  t.equal(plainOptions.kind, 'actual', 'an OPTIONS without Access-Control-Request-Method is an ordinary request');
  const actual = corsDecision(list, 'PUT', 'https://app.example.com', undefined);
  t.equal(actual.kind, 'actual');
  t.equal(actual.kind !== 'none' && actual.headers['access-control-allow-credentials'], 'true');
});

t.test('varyWithOrigin keeps what is there and adds Origin once', async (t) => {
  t.equal(varyWithOrigin(undefined), 'Origin');
  t.equal(varyWithOrigin('Accept-Encoding'), 'Accept-Encoding, Origin');
  t.equal(varyWithOrigin('origin, Accept'), 'origin, Accept');
  t.equal(varyWithOrigin(['Accept', 'Accept-Language']), 'Accept, Accept-Language, Origin');
  t.equal(varyWithOrigin('*'), '*');
});

t.test('cors.origins: empty by default, a YAML list, or DAVGATE_CORS_ORIGINS comma-separated', async (t) => {
  t.same(loadConfig({ env: {}, object: { auth: 'none', upstreams: UPSTREAMS } }).cors.origins, []);
  t.same(
    loadConfig({ env: {}, object: { auth: 'none', upstreams: UPSTREAMS, cors: { origins: ['https://A.example', 'https://a.example:443'] } } }).cors.origins,
    ['https://a.example'],
    'normalised and de-duplicated',
  );
  t.same(
    loadConfig({ env: { DAVGATE_CORS_ORIGINS: 'https://a.example, http://127.0.0.1:3000,' }, object: { auth: 'none', upstreams: UPSTREAMS } }).cors.origins,
    ['https://a.example', 'http://127.0.0.1:3000'],
  );
  t.same(
    loadConfig({ env: { DAVGATE_CORS_ORIGINS: 'https://env.example' }, object: { auth: 'none', upstreams: UPSTREAMS, cors: { origins: ['https://file.example'] } } }).cors.origins,
    ['https://env.example'],
    'the environment overrides the file',
  );
});

t.test('cors.origins: mistakes are refused at load, naming the key', async (t) => {
  const fromFile = problemsOf(() =>
    loadConfig({ env: {}, object: { auth: 'none', upstreams: UPSTREAMS, cors: { origins: ['https://ok.example', '*', 'https://x.example/app'] } } }),
  );
  t.same(fromFile.map((p) => p.key), ['cors.origins[1]', 'cors.origins[2]']);
  const notList = problemsOf(() => loadConfig({ env: {}, object: { auth: 'none', upstreams: UPSTREAMS, cors: { origins: 'https://a.example' } } }));
  t.same(notList.map((p) => p.key), ['cors.origins']);
  const fromEnv = problemsOf(() => loadConfig({ env: { DAVGATE_CORS_ORIGINS: 'https://ok.example,*' }, object: { auth: 'none', upstreams: UPSTREAMS } }));
  t.same(fromEnv.map((p) => p.key), ['DAVGATE_CORS_ORIGINS (entry 2)']);
  const typo = problemsOf(() => loadConfig({ env: {}, object: { auth: 'none', upstreams: UPSTREAMS, cors: { origin: ['https://a.example'] } } }));
  t.match(typo[0], { key: 'cors.origin', message: /did you mean "origins"/ });
});
