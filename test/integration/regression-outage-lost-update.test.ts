/**
 * Regression (found by a new-user trial): while a file's owner was down, an overwrite went to the next
 * candidate and was acknowledged; when the owner came back, reads asked it first and served the old bytes
 * (a lost update). Likewise a DELETE answered 204 while the down owner still held a copy, and the file
 * reappeared after recovery. The repair journal hides the stale copy meanwhile and replays the change when
 * the owner is back.
 */
import t from 'tap';
import type { DavUpstream } from '../../src/demo/upstreams.js';
import { gatewayRequest, placementOrder, startHarness, whereIs, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { health: { failThreshold: 1 }, failover: { retryBackoffMs: 10 } } });
});
t.teardown(async () => {
  await h?.stop();
});

/** Stops an upstream's server (its port then refuses connections). Works again after {@link restart}. */
async function stop(u: DavUpstream): Promise<void> {
  const server = u.server as unknown as { server: import('node:http').Server | null; stopAsync(): Promise<void> };
  server.server?.closeAllConnections();
  await server.stopAsync();
}

/** Starts a stopped upstream again on the same port with the same data. */
async function restart(u: DavUpstream): Promise<void> {
  const port = Number(new URL(u.url).port);
  await (u.server as unknown as { startAsync(port: number): Promise<unknown> }).startAsync(port);
}

async function bringBack(u: DavUpstream): Promise<void> {
  await restart(u);
  const up = h.server.gateway.upstreams.find((x) => x.id === u.id)!;
  t.ok(await up.probe(5_000), `probe of ${u.id} succeeds after restart`);
  await h.server.gateway.runRepairs(up);
}

const text = async (path: string) => {
  const r = await gatewayRequest(h, path, 'GET');
  return `${r.status} ${r.body.toString()}`;
};

t.test('an overwrite acknowledged during the owner outage survives the owner coming back', async (t) => {
  t.equal((await gatewayRequest(h, '/lu/', 'MKCOL')).status, 201);
  t.equal((await gatewayRequest(h, '/lu/f.txt', 'PUT', { body: 'v1' })).status, 201);
  const ownerId = placementOrder(h, '/lu/f.txt')[0]!;
  t.same(whereIs(h, '/lu/f.txt'), [ownerId]);
  const owner = h.upstreams.find((u) => u.id === ownerId)!;

  await stop(owner);
  t.equal((await gatewayRequest(h, '/lu/f.txt', 'GET')).status, 503, 'owner down: a read is 503, not 404');
  t.equal((await gatewayRequest(h, '/lu/f.txt', 'PUT', { body: 'v2' })).status, 201, 'overwrite fails over');
  t.equal(await text('/lu/f.txt'), '200 v2', 'the new bytes are served during the outage');

  await bringBack(owner);
  t.equal(await text('/lu/f.txt'), '200 v2', 'still the new bytes after the owner is back');
  t.same(whereIs(h, '/lu/f.txt'), [ownerId], 'the file is home on its owner, the displaced copy removed');
  t.equal(h.server.gateway.repairs.size, 0, 'nothing left to repair');
});

t.test('a DELETE during the outage of an upstream holding a copy does not let the file reappear', async (t) => {
  t.equal((await gatewayRequest(h, '/lu/g.txt', 'PUT', { body: 'old' })).status, 201);
  const ownerId = placementOrder(h, '/lu/g.txt')[0]!;
  const owner = h.upstreams.find((u) => u.id === ownerId)!;

  await stop(owner);
  t.equal((await gatewayRequest(h, '/lu/g.txt', 'PUT', { body: 'new' })).status, 201, 'overwrite fails over');
  t.equal((await gatewayRequest(h, '/lu/g.txt', 'DELETE')).status, 204, 'delete of the displaced copy');
  t.equal((await gatewayRequest(h, '/lu/g.txt', 'GET')).status, 404, 'gone (the owner copy is known stale)');

  await bringBack(owner);
  t.equal((await gatewayRequest(h, '/lu/g.txt', 'GET')).status, 404, 'still gone after the owner is back');
  t.same(whereIs(h, '/lu/g.txt'), [], 'no copy anywhere');
});

t.test('a collection DELETE is refused while an upstream is down, before anything is deleted', async (t) => {
  t.equal((await gatewayRequest(h, '/cd/', 'MKCOL')).status, 201);
  for (let i = 0; i < 6; i++) t.equal((await gatewayRequest(h, `/cd/f${i}`, 'PUT', { body: `x${i}` })).status, 201);
  const victim = h.upstreams[0]!;
  await stop(victim);
  const r = await gatewayRequest(h, '/cd/', 'DELETE');
  t.equal(r.status, 503, 'refused');
  t.ok(r.headers['retry-after'], 'with Retry-After');
  await bringBack(victim);
  for (let i = 0; i < 6; i++) t.equal(await text(`/cd/f${i}`), `200 x${i}`, `f${i} intact`);
});
