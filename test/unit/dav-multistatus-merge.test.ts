import t from 'tap';
import { mergeListing, type ListingEntry } from '../../src/dav/multistatus.js';

/** An entry whose item says where it came from, so the test sees which one was kept. */
function entry(key: string, isCollection: boolean, from: string): ListingEntry<string> {
  return { key, isCollection, item: `${from}:${key}` };
}
const summary = (out: ReturnType<typeof mergeListing>): string[] =>
  out.map((e) => `${e.key} ${e.isCollection ? 'dir' : 'file'} ${e.upstreamId}`);
const fixedOrder = (ids: string[]) => (): string[] => ids;

t.test('collection once and first, members once, sorted, deeper entries dropped', async (t) => {
  const out = mergeListing({
    collectionKey: '/music',
    perUpstream: [
      { upstreamId: 'u1', responses: [entry('/music', true, 'u1'), entry('/music/b.mp3', false, 'u1'), entry('/music/sub', true, 'u1')] },
      {
        upstreamId: 'u2',
        responses: [
          entry('/music/sub', true, 'u2'),
          entry('/music/A.mp3', false, 'u2'),
          entry('/music', true, 'u2'),
          entry('/music/sub/deep.mp3', false, 'u2'),
          entry('/other', true, 'u2'),
          entry('/', true, 'u2'),
          entry('/musicx', false, 'u2'),
        ],
      },
      { upstreamId: 'u3', responses: [entry('/music/中文', false, 'u3'), entry('/music/😀', false, 'u3'), entry('/music/ｚ', false, 'u3')] },
    ],
    preferOrder: fixedOrder(['u2', 'u1', 'u3']),
  });
  t.strictSame(summary(out), [
    '/music dir u2',
    '/music/A.mp3 file u2',
    '/music/b.mp3 file u1',
    '/music/sub dir u2',
    '/music/中文 file u3',
    '/music/😀 file u3', // code unit order: U+1F600 is the surrogate pair D83D DE00, below U+FF5A
    '/music/ｚ file u3',
  ]);
  t.equal(out[0]!.item, 'u2:/music', 'the response of the preferred upstream');
});

t.test('a file beats a collection of the same name, whatever the order', async (t) => {
  const out = mergeListing({
    collectionKey: '/',
    perUpstream: [
      { upstreamId: 'u1', responses: [entry('/', true, 'u1'), entry('/x', true, 'u1')] },
      { upstreamId: 'u2', responses: [entry('/', true, 'u2'), entry('/x', false, 'u2')] },
      { upstreamId: 'u3', responses: [entry('/x', false, 'u3')] },
    ],
    preferOrder: (key) => (key === '/x' ? ['u1', 'u3', 'u2'] : ['u1', 'u2', 'u3']),
  });
  t.strictSame(summary(out), ['/ dir u1', '/x file u3']);
});

t.test('among collections the first in preferOrder wins; unknown ids rank last', async (t) => {
  const out = mergeListing({
    collectionKey: '/',
    perUpstream: [
      { upstreamId: 'stray', responses: [entry('/d', true, 'stray')] },
      { upstreamId: 'u1', responses: [entry('/d', true, 'u1')] },
      { upstreamId: 'u2', responses: [entry('/d', true, 'u2')] },
    ],
    preferOrder: fixedOrder(['u2', 'u1']),
  });
  t.strictSame(summary(out), ['/d dir u2']);
});

t.test('ties among unranked upstreams go to the first in input order', async (t) => {
  const out = mergeListing({
    collectionKey: '/',
    perUpstream: [
      { upstreamId: 'a', responses: [entry('/f', false, 'a')] },
      { upstreamId: 'b', responses: [entry('/f', false, 'b')] },
    ],
    preferOrder: fixedOrder([]),
  });
  t.strictSame(summary(out), ['/f file a']);
});

t.test('no upstream returned the collection itself: members only', async (t) => {
  const out = mergeListing({
    collectionKey: '/c',
    perUpstream: [{ upstreamId: 'u1', responses: [entry('/c/b', false, 'u1'), entry('/c/a', false, 'u1')] }],
    preferOrder: fixedOrder(['u1']),
  });
  t.strictSame(summary(out), ['/c/a file u1', '/c/b file u1']);
  t.strictSame(mergeListing({ collectionKey: '/c', perUpstream: [], preferOrder: fixedOrder([]) }), []);
});

t.test('preferOrder is asked only for keys that several upstreams list', async (t) => {
  const asked: string[] = [];
  const out = mergeListing({
    collectionKey: '/c',
    perUpstream: [
      { upstreamId: 'u1', responses: [entry('/c', true, 'u1'), entry('/c/only-1', false, 'u1'), entry('/c/both', false, 'u1')] },
      { upstreamId: 'u2', responses: [entry('/c', true, 'u2'), entry('/c/only-2', false, 'u2'), entry('/c/both', false, 'u2')] },
      { upstreamId: 'u3', responses: [entry('/c/both', true, 'u3')] },
    ],
    preferOrder: (key) => {
      asked.push(key);
      return ['u2', 'u1', 'u3'];
    },
  });
  t.strictSame(summary(out), ['/c dir u2', '/c/both file u2', '/c/only-1 file u1', '/c/only-2 file u2']);
  t.strictSame(asked.sort(), ['/c', '/c/both'], 'no hashing for a key only one upstream lists');
});
