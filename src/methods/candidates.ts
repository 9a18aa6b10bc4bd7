/**
 * Trying a request on a key's candidates in HRW order: the owner first, then — only when it answers 404 —
 * the others, which may hold the file if it was written while the owner was down (issue #2, "Failover"). A
 * resting (throttled or out-of-budget) owner answers for its files with 503 at once (issue #4).
 * A later issue replaces the probing with a placement index.
 */
import { DavgateError, Errors, isRequestFault } from '../errors.js';
import { outcomeOf } from '../gateway.js';
import { combineLookup, type LookupAnswer } from '../proxy/retry.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';
import type { DavContext } from './context.js';
import { traitsOf } from '../upstream/profile.js';

/**
 * Sends `attempt(u)` to each candidate of `key` in order until one answers something other than 404.
 *
 * @param opts.badRequestMeansAbsent - treat 400 as "not here" (for requests davgate builds itself, which are
 *   well-formed: Apache answers 400 for a path below a regular file)
 * @returns the first non-404 response (its body unconsumed)
 * @throws DavgateError 404 only when every candidate answered 404; otherwise 502/503/504 with Retry-After
 */
export async function firstFound(
  ctx: DavContext,
  key: string,
  attempt: (u: Upstream) => Promise<UpstreamResponse>,
  opts: { badRequestMeansAbsent?: boolean } = {},
): Promise<UpstreamResponse> {
  const ranked = ctx.gw.readCandidates(key);
  const answers: LookupAnswer[] = [];
  let retryAfterS: number | undefined;
  for (const [i, u] of ranked.entries()) {
    if (ctx.gw.repairs.isStale(key, u.id)) {
      answers.push({ kind: 'absent' });
      continue;
    }
    let res: UpstreamResponse;
    try {
      res = await attempt(u);
    } catch (err) {
      if (isRequestFault(err)) throw err;
      // A resting account (throttled, or out of request budget) still holds its files. Asking the other
      // candidates would only spend their budgets on 404s, unless the repair journal says this key was written
      // elsewhere meanwhile (then the owner ranks last, see Gateway.readCandidates).
      if (i === 0 && outcomeOf(err).kind === 'resting' && !ranked.some((c) => ctx.gw.repairs.get(key, c.id))) throw err;
      if (err instanceof DavgateError && err.retryAfterS) retryAfterS = Math.max(retryAfterS ?? 0, err.retryAfterS);
      const s = err instanceof DavgateError ? err.statusCode : 502;
      answers.push({ kind: 'failed', status: s === 503 || s === 504 ? s : 502 });
      continue;
    }
    // 坚果云 answers 409 AncestorsNotFound, not 404, for a file under a missing folder (jianguoyun.md §4).
    const vendorAbsent = traitsOf(u.profile).missingParentIs409 && res.status === 409;
    if (res.status === 404 || res.status === 410 || vendorAbsent || (opts.badRequestMeansAbsent && res.status === 400)) {
      await res.body.dump();
      answers.push({ kind: 'absent' });
      continue;
    }
    if (i > 0) ctx.gw.metrics.failovers.inc({ upstream: ranked[0]!.id, reason: 'found_on_candidate' });
    return res;
  }
  const verdict = combineLookup(answers);
  if (verdict.kind === 'unavailable') {
    throw new DavgateError('DAVGATE_UNAVAILABLE', verdict.status, 'an upstream that may hold this resource is unavailable', {
      retryAfterS: retryAfterS ?? 5,
    });
  }
  throw Errors.NOT_FOUND();
}
