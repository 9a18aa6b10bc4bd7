import t from 'tap';
import { RepairJournal } from '../../src/placement/repairs.js';

t.test('set, get, isStale, clear', async (t) => {
  const j = new RepairJournal();
  j.set('/a', 'x', { action: 'replace-from', source: 'y' });
  j.set('/a', 'z', { action: 'delete' });
  t.equal(j.size, 2);
  t.ok(j.isStale('/a', 'x'));
  t.notOk(j.isStale('/a', 'y'), 'the source copy is the live one');
  j.clear('/a', 'x');
  t.notOk(j.isStale('/a', 'x'));
  t.equal(j.size, 1);
});

t.test('a later entry for the same key and upstream replaces the earlier one', async (t) => {
  const j = new RepairJournal();
  j.set('/a', 'x', { action: 'replace-from', source: 'y' });
  j.set('/a', 'x', { action: 'delete' });
  t.same(j.get('/a', 'x'), { action: 'delete' });
  t.equal(j.size, 1);
});

t.test('dueFor lists one upstream’s repairs; take and takeBelow drop by key', async (t) => {
  const j = new RepairJournal();
  j.set('/d/1', 'x', { action: 'delete' });
  j.set('/d/2', 'x', { action: 'delete' });
  j.set('/d/2', 'y', { action: 'delete' });
  j.set('/e/1', 'x', { action: 'delete' });
  t.same(j.dueFor('x').map((e) => e.key), ['/d/1', '/d/2', '/e/1']);
  t.same(j.take('/d/2').map((e) => e.upstream), ['x', 'y']);
  t.same(j.takeBelow('/d').map((e) => e.key), ['/d/1']);
  t.same(j.dueFor('x').map((e) => e.key), ['/e/1']);
  t.same(j.takeBelow('/').length, 1);
  t.equal(j.size, 0);
});

t.test('takeBelow does not match a sibling with the same prefix', async (t) => {
  const j = new RepairJournal();
  j.set('/ab/1', 'x', { action: 'delete' });
  t.same(j.takeBelow('/a'), []);
  t.equal(j.size, 1);
});

t.test('pendingFor counts one upstream’s repairs (the prober asks it every round)', async (t) => {
  const j = new RepairJournal();
  t.equal(j.pendingFor('x'), 0);
  j.set('/a', 'x', { action: 'delete' });
  j.set('/b', 'x', { action: 'replace-from', source: 'y' });
  j.set('/b', 'y', { action: 'delete' });
  t.equal(j.pendingFor('x'), 2);
  t.equal(j.pendingFor('y'), 1);
  j.clear('/a', 'x');
  t.equal(j.pendingFor('x'), 1);
  t.equal(j.pendingFor('x'), j.dueFor('x').length);
});
