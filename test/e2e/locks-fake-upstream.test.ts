/**
 * litmus `basic` and `locks` through davgate over three upstreams whose own locking is fake, like 坚果云
 * (LOCK answers a fixed 200 and enforces nothing, UNLOCK ignores the token): davgate holds the locks itself
 * (issue 3), so litmus must pass exactly as against Apache directly, and the upstreams must never see LOCK,
 * UNLOCK, an `If` header or a lock token.
 */
import t from 'tap';
import { startApache, type ApacheCluster } from './helpers/apache.js';
import { FAKE_LOCK_TOKEN, startFakeLockProxy, type FakeLockProxy } from './helpers/fake-locks.js';
import { startGateway, type RunningGateway } from './helpers/gateway.js';
import { formatLitmus, runLitmus, type LitmusGroupSummary } from './helpers/litmus.js';
import { DIRECT } from './helpers/target.js';

const GROUPS = ['basic', 'locks'] as const;

t.test('litmus locks through davgate over fake-lock upstreams', { skip: DIRECT ? 'DG_E2E_DIRECT=1' : false }, async (t) => {
  // Baseline: the same litmus groups against one Apache directly.
  const baseline = await startApache({ count: 1 });
  t.teardown(() => baseline.stop());
  const b = baseline.instances[0]!;
  const direct = await runLitmus({ url: b.url, username: b.username, password: b.password, groups: GROUPS });
  t.comment(formatLitmus(`direct ${b.url}`, direct.groups));
  for (const g of GROUPS) t.equal(direct.groups[g]?.failed, 0, `Apache passes ${g} directly`, { failures: direct.groups[g]?.failures });

  let cluster: ApacheCluster | undefined;
  let gateway: RunningGateway | undefined;
  const proxies: FakeLockProxy[] = [];
  // Gateway first (it drains), then the proxies, then Apache.
  t.teardown(async () => {
    await gateway?.stop();
    await Promise.all(proxies.map((p) => p.stop()));
    await cluster?.stop();
  });
  cluster = await startApache({ count: 3 });
  for (const a of cluster.instances) proxies.push(await startFakeLockProxy(a));

  // The fixture really is fake: a LOCK on a missing file "succeeds" with the fixed token and creates nothing,
  // a second exclusive LOCK succeeds too, UNLOCK takes any token.
  const p0 = proxies[0]!;
  const auth = `Basic ${Buffer.from(`${p0.username}:${p0.password}`).toString('base64')}`;
  const lockinfo =
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>' +
    '<D:locktype><D:write/></D:locktype></D:lockinfo>';
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${p0.url}missing.txt`, { method: 'LOCK', headers: { authorization: auth }, body: lockinfo });
    const body = await r.text();
    t.equal(r.status, 200, `fake LOCK ${i + 1} → 200`);
    t.equal(r.headers.get('lock-token'), FAKE_LOCK_TOKEN, 'fixed token without <>');
    t.match(body, FAKE_LOCK_TOKEN, 'fixed lockdiscovery');
  }
  const gone = await fetch(`${p0.url}missing.txt`, { method: 'HEAD', headers: { authorization: auth } });
  t.equal(gone.status, 404, 'fake LOCK created nothing');
  const ul = await fetch(`${p0.url}missing.txt`, { method: 'UNLOCK', headers: { authorization: auth, 'lock-token': '<urn:uuid:whatever>' } });
  t.equal(ul.status, 204, 'fake UNLOCK → 204 for any token');
  t.equal(p0.counts.lock, 2, 'proxy counts LOCK');
  t.equal(p0.counts.unlock, 1, 'proxy counts UNLOCK');
  const withIf = await fetch(`${p0.url}`, { method: 'PROPFIND', headers: { authorization: auth, depth: '0', if: `(<${FAKE_LOCK_TOKEN}>)` } });
  await withIf.arrayBuffer();
  t.equal(withIf.status, 207, 'forwarded to Apache without its If header');
  t.equal(p0.counts.ifHeader, 1, 'proxy counts If headers');
  t.ok(p0.counts.lockToken >= 2, 'proxy counts lock tokens');
  for (const p of proxies) p.reset();

  gateway = await startGateway({ upstreams: proxies });
  const res = await runLitmus({ url: gateway.url, username: gateway.username, password: gateway.password, groups: GROUPS });
  t.comment(formatLitmus(`through davgate over fake-lock upstreams ${gateway.url}`, res.groups));
  for (const g of GROUPS) {
    const got: LitmusGroupSummary | undefined = res.groups[g];
    const want = direct.groups[g];
    t.ok(got, `group ${g} ran`, { output: got ? undefined : res.output.slice(-8_000) });
    t.same(
      got && { run: got.run, passed: got.passed, failed: got.failed },
      want && { run: want.run, passed: want.passed, failed: want.failed },
      `${g}: davgate over fake locks matches direct Apache (${want?.passed}/${want?.run})`,
      { failures: got?.failures },
    );
    t.equal(got?.failed, 0, `${g}: all pass`);
  }
  t.equal(res.groups['locks']?.run, 41, 'locks: 41 tests run');

  for (const p of proxies) {
    const c = p.counts;
    t.ok(c.requests > 0, `upstream ${p.id} served requests (${c.requests})`);
    t.same(
      { lock: c.lock, unlock: c.unlock, ifHeader: c.ifHeader, lockToken: c.lockToken },
      { lock: 0, unlock: 0, ifHeader: 0, lockToken: 0 },
      `upstream ${p.id} never saw LOCK, UNLOCK, If or a lock token`,
      { samples: c.samples },
    );
  }
});
