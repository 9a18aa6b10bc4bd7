/**
 * Health probes are skipped while real traffic shows an account alive (issue 4, "Waste avoided"): on a 坚果云
 * account every probe spends a request of a 600-per-30-min budget. Counted on the simulated account itself.
 */
import t from 'tap';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';
import { startJianguoyunSim } from '../../src/sim/jianguoyun.js';
import { startProber } from '../../src/upstream/prober.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const INTERVAL = 60_000;

t.test('a probe round skips an account that just answered real traffic, and probes it once traffic is old', async (t) => {
  const sim = await startJianguoyunSim({ budget: 100_000 });
  const server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: [{ id: 'j0', url: `${sim.url}${SANDBOX}/`, username: sim.username, password: sim.password, profile: 'jianguoyun' }],
        auth: 'none',
        // The server's own probe loop never fires during the test; the test drives a prober with a fake clock.
        health: { intervalMs: INTERVAL },
        log: { level: 'silent' },
      },
    }),
  );
  t.teardown(async () => {
    await server.close();
    await sim.stop();
  });
  const r = await request(new URL('a.txt', server.url), { method: 'PUT', body: 'a', headers: { 'content-length': '1' } });
  await r.body.dump();
  t.equal(r.statusCode, 201);
  const u = server.gateway.enabled[0]!;
  t.ok(u.lastTrafficOkAt > 0, 'the PUT counted as traffic that showed the account alive');

  let now = u.lastTrafficOkAt + INTERVAL - 1;
  const prober = startProber(server.gateway, () => now);
  t.teardown(() => prober.stop());
  const before = sim.snapshot().requests;
  await prober.runOnce();
  t.equal(sim.snapshot().requests, before, 'no probe reached the account');
  const metrics = await server.gateway.metrics.registry.metrics();
  t.match(metrics, /davgate_health_probes_total\{upstream="j0",result="skipped"\} 1/);

  now = u.lastTrafficOkAt + INTERVAL;
  await prober.runOnce();
  t.equal(sim.snapshot().requests, before + 1, 'once the traffic is an interval old, one probe is sent');
  t.equal(u.lastTrafficOkAt + INTERVAL, now, 'and a probe does not count as traffic');
});
