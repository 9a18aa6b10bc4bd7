/**
 * The memoised ranking (`createRanker` in src/placement/policy.ts) answers exactly what the policy answers, for
 * every key, and keeps answering it after its memo has forgotten keys.
 */
import t from 'tap';
import { rank } from '../../src/placement/hrw.js';
import { createRanker, hashPolicy, RANK_CACHE_MAX_ENTRIES } from '../../src/placement/policy.js';
import { RepairJournal } from '../../src/placement/repairs.js';

const UPS = [
  { id: 'a', weight: 1 },
  { id: 'b', weight: 2 },
  { id: 'c', weight: 1 },
];

t.test('the memoised ranking equals the policy ranking, also for keys asked again after eviction', async (t) => {
  const ranked = createRanker(hashPolicy, UPS);
  const keys = Array.from({ length: RANK_CACHE_MAX_ENTRIES + 500 }, (_, i) => `/music/track-${i}.mp3`);
  let mismatches = 0;
  for (const k of keys) if (ranked(k).map((u) => u.id).join() !== rank(k, UPS).map((u) => u.id).join()) mismatches++;
  // The first keys were evicted by now: asking again recomputes the same answer.
  for (const k of keys.slice(0, 500)) if (ranked(k).map((u) => u.id).join() !== rank(k, UPS).map((u) => u.id).join()) mismatches++;
  t.equal(mismatches, 0);
});

t.test('a memoised ranking is shared and frozen, so no caller can reorder it for the next', async (t) => {
  const ranked = createRanker(hashPolicy, UPS);
  const first = ranked('/a');
  t.equal(ranked('/a'), first, 'the same array for the same key');
  t.ok(Object.isFrozen(first));
  t.throws(() => (first as unknown as unknown[]).reverse());
});

t.test('a very long key is ranked like any other', async (t) => {
  const ranked = createRanker(hashPolicy, UPS);
  const long = '/' + 'x'.repeat(100_000);
  t.same(ranked(long).map((u) => u.id), rank(long, UPS).map((u) => u.id));
});

t.test('RepairJournal.has tells whether any upstream owes a repair for a key', async (t) => {
  const j = new RepairJournal();
  t.notOk(j.has('/k'));
  j.set('/k', 'a', { action: 'delete' });
  t.ok(j.has('/k'));
  t.notOk(j.has('/other'));
  j.clear('/k', 'a');
  t.notOk(j.has('/k'), 'cleared with its last repair');
});
