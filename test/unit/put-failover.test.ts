/** When a failed PUT may go to the next HRW candidate (mayTryNextCandidate in src/methods/put.ts). */
import t from 'tap';
import { DavgateError, Errors } from '../../src/errors.js';
import { UpstreamTransportError } from '../../src/upstream/upstream.js';
import { mayTryNextCandidate } from '../../src/methods/put.js';

const fresh = { started: false, replayable: false };
const sentKept = { started: true, replayable: true };
const sentLost = { started: true, replayable: false };

t.test('the candidate stored nothing and the body can go again', async (t) => {
  const cooling = Errors.UPSTREAM_COOLING('j0');
  const down = Errors.UPSTREAM_DOWN('j0');
  const refused = new UpstreamTransportError(Errors.BAD_GATEWAY('j0'), true);
  for (const [name, err] of [['cooling (503 BlockedTemporarily)', cooling], ['down', down], ['connect refused', refused]] as const) {
    t.equal(mayTryNextCandidate(err, fresh), true, `${name}, nothing sent`);
    t.equal(mayTryNextCandidate(err, sentKept), true, `${name}, body kept`);
    t.equal(mayTryNextCandidate(err, sentLost), false, `${name}, body gone`);
  }
});

t.test('anything that may have stored the file, or says nothing of it, stays final', async (t) => {
  const reset = new UpstreamTransportError(Errors.BAD_GATEWAY('j0'), false);
  t.equal(mayTryNextCandidate(reset, sentKept), false, 'a reset after connecting');
  t.equal(mayTryNextCandidate(Errors.BUDGET_EXHAUSTED('j0'), fresh), false, 'our own budget: wait, do not move files');
  t.equal(mayTryNextCandidate(Errors.QUEUE_TIMEOUT('j0'), fresh), false);
  t.equal(mayTryNextCandidate(new DavgateError('DAVGATE_UPSTREAM_STATUS', 503, 'j0 answered 503'), fresh), false, 'a plain 503');
  t.equal(mayTryNextCandidate(Errors.CLIENT_CLOSED(), fresh), false);
});
