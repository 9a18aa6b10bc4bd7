/** The profile traits table (src/upstream/profile.ts): the 坚果云 row follows jianguoyun.md, generic is RFC 4918. */
import t from 'tap';
import { traitsOf } from '../../src/upstream/profile.js';

t.test('generic is an RFC 4918 / RFC 9110 server', async (t) => {
  t.same(traitsOf('generic'), {
    overwritesOnCopyMove: true,
    storesDeadProperties: true,
    acceptsChunkedPut: true,
    rfcRanges: true,
    missingParentIs409: false,
    forbidsWindowsNameChars: false,
    throttlesWith503: false,
    rfcConditionals: true,
    folderReadMayBe404: true,
  });
});

t.test('jianguoyun departs where jianguoyun.md says', async (t) => {
  const j = traitsOf('jianguoyun');
  t.equal(j.overwritesOnCopyMove, false, 'statement 9: 409 DuplicateName whatever Overwrite');
  t.equal(j.storesDeadProperties, false, '§4: PROPPATCH is faked');
  t.equal(j.acceptsChunkedPut, false, 'statement 6: Content-Length required');
  t.equal(j.rfcRanges, false, 'statement 8: 416 past EOF, no clamping');
  t.equal(j.missingParentIs409, true, 'statement 7: AncestorsNotFound');
  t.equal(j.forbidsWindowsNameChars, true, '§5: forbidden characters');
  t.equal(j.throttlesWith503, true, '§1: 503 BlockedTemporarily');
  t.equal(j.rfcConditionals, false, 'statement 10: If-Match / If-None-Match compared as exact strings');
  t.equal(j.folderReadMayBe404, false, 'statement 7: GET/HEAD on a folder is 403, so a 404 means absent');
});

t.test('an unknown profile is treated as generic', async (t) => {
  t.same(traitsOf('other'), traitsOf('generic'));
  t.same(traitsOf('__proto__'), traitsOf('generic'), 'no prototype lookups');
});
