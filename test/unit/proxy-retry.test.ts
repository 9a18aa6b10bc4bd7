import t from 'tap';
import {
  combineLookup,
  decideResend,
  decideRetry,
  isSafeMethod,
  isStaleConnection,
  type AttemptOutcome,
  type LookupAnswer,
  type ResendInput,
} from '../../src/proxy/retry.js';

const connect: AttemptOutcome = { kind: 'transport', connect: true, timeout: false };
const reset: AttemptOutcome = { kind: 'transport', connect: false, timeout: false };
const timeout: AttemptOutcome = { kind: 'transport', connect: false, timeout: true };

// [outcome, retriesDone, bodyStarted, safe, expected]
const table: [string, AttemptOutcome, number, boolean, boolean, 'retry' | 'final'][] = [
  ['response 200', { kind: 'response', status: 200 }, 0, false, true, 'final'],
  ['response 503', { kind: 'response', status: 503 }, 0, false, true, 'final'],
  ['response 404', { kind: 'response', status: 404 }, 0, false, true, 'final'],
  ['client aborted', { kind: 'client-aborted' }, 0, false, true, 'final'],
  ['queue full', { kind: 'queue' }, 0, false, true, 'final'],
  ['out of budget', { kind: 'resting', cooling: false }, 0, false, true, 'final'],
  ['cooling', { kind: 'resting', cooling: true }, 0, false, true, 'final'],
  // Regression (issue 8): every GET of a file on a down upstream waited the retry backoff (p50 203 ms).
  ['regression: down is never waited on', { kind: 'down' }, 0, false, true, 'final'],
  ['down, already retried', { kind: 'down' }, 1, false, false, 'final'],
  ['connect error, unsafe PUT, body unsent', connect, 0, false, false, 'retry'],
  ['connect error, body started', connect, 0, true, false, 'final'],
  ['connect error, already retried', connect, 1, false, true, 'final'],
  ['reset, safe GET', reset, 0, false, true, 'retry'],
  ['reset, unsafe PUT', reset, 0, false, false, 'final'],
  ['timeout, safe PROPFIND', timeout, 0, false, true, 'retry'],
  ['timeout, unsafe DELETE', timeout, 0, false, false, 'final'],
];
for (const [name, outcome, retriesDone, bodyStarted, safe, expected] of table) {
  t.equal(decideRetry({ outcome, retriesDone, bodyStarted, safe }), expected, name);
}

t.test('stale connections: reused, died before any answer byte, with a socket error', async (t) => {
  const stale = { code: 'ECONNRESET', reused: true, responseStarted: false };
  t.ok(isStaleConnection(stale), 'ECONNRESET on a reused connection');
  t.ok(isStaleConnection({ ...stale, code: 'UND_ERR_SOCKET' }), 'undici "other side closed"');
  t.ok(isStaleConnection({ ...stale, code: 'EPIPE' }), 'EPIPE');
  t.notOk(isStaleConnection({ ...stale, reused: false }), 'a fresh connection that broke: the upstream is at fault');
  t.notOk(isStaleConnection({ ...stale, responseStarted: true }), 'an answer had begun: the request was processed');
  t.notOk(isStaleConnection({ ...stale, code: 'UND_ERR_HEADERS_TIMEOUT' }), 'a timeout is a slow upstream, not a stale connection');
  t.notOk(isStaleConnection({ ...stale, code: 'ECONNREFUSED' }), 'refused');
  t.notOk(isStaleConnection({ ...stale, code: undefined }), 'no code');
});

const resend: ResendInput = { code: 'ECONNRESET', reused: true, responseStarted: false, replayable: true, resendsDone: 0, maxResends: 5 };
const resends: [string, Partial<ResendInput>, 'resend' | 'fail'][] = [
  ['stale, replayable, first time', {}, 'resend'],
  ['stale, replayable, fourth resend (another stale connection of the pool)', { resendsDone: 4 }, 'resend'],
  ['stale, replayable, resends exhausted', { resendsDone: 5 }, 'fail'],
  ['stale, body not replayable (a live stream already read)', { replayable: false }, 'fail'],
  ['fresh connection reset', { reused: false }, 'fail'],
  ['answer had begun', { responseStarted: true }, 'fail'],
  ['timeout on a reused connection', { code: 'UND_ERR_BODY_TIMEOUT' }, 'fail'],
];
for (const [name, over, expected] of resends) t.equal(decideResend({ ...resend, ...over }), expected, name);

t.test('safe methods', async (t) => {
  for (const m of ['GET', 'HEAD', 'PROPFIND', 'OPTIONS']) t.ok(isSafeMethod(m), m);
  for (const m of ['PUT', 'DELETE', 'MOVE', 'COPY', 'MKCOL', 'PROPPATCH', 'LOCK', 'UNLOCK']) t.notOk(isSafeMethod(m), m);
});

const F: LookupAnswer = { kind: 'found' };
const A: LookupAnswer = { kind: 'absent' };
const X = (status: 502 | 503 | 504): LookupAnswer => ({ kind: 'failed', status });
const lookups: [string, LookupAnswer[], ReturnType<typeof combineLookup>][] = [
  ['owner has it', [F, A, A], { kind: 'found', index: 0 }],
  ['second candidate has it', [A, F, A], { kind: 'found', index: 1 }],
  ['found after a failure', [X(502), F, A], { kind: 'found', index: 1 }],
  ['all absent: a true 404', [A, A, A], { kind: 'not-found' }],
  ['owner down, others absent: never 404', [X(503), A, A], { kind: 'unavailable', status: 503 }],
  ['last candidate failed: never 404', [A, A, X(504)], { kind: 'unavailable', status: 504 }],
  ['first failure status wins', [X(502), X(503), A], { kind: 'unavailable', status: 502 }],
  ['no candidates', [], { kind: 'not-found' }],
];
for (const [name, answers, expected] of lookups) t.same(combineLookup(answers), expected, name);
