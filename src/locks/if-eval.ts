/**
 * Evaluating a parsed `If` header (RFC 4918 §10.4) against davgate's lock table and the resources' ETags, and
 * checking that the lock tokens a write needs were submitted (§6.1, §7, §10.4.1).
 *
 * The header has two independent purposes (§10.4.1):
 * 1. a precondition: {@link evaluateIf}; false means 412 Precondition Failed (§10.4.3);
 * 2. submitting lock tokens: every state token in it counts as submitted whether or not its list was evaluated
 *    or true ({@link lockTokensOf} in `src/dav/if-header.ts`); {@link missingLockTokens} then says which needed
 *    locks are not satisfied, which means 423 Locked with `DAV:lock-token-submitted` (§6.1, §16).
 *
 * Pure: the caller gathers the state of the keys {@link ifHeaderKeys} names (lock tokens from
 * `LockManager.covering`, ETags from an upstream PROPFIND/HEAD only when {@link ifHeaderNeedsEtags}).
 */
import { NO_LOCK, type IfCondition, type IfHeader, type IfList } from '../dav/if-header.js';
import type { ActiveLock } from './manager.js';

/** What an `If` condition is matched against for one resource (RFC 4918 §10.4.4). */
export interface ResourceState {
  /** Whether a resource is mapped at the key. An unmapped URL has no ETag (§10.4.4 "Handling unmapped URLs"). */
  readonly exists: boolean;
  /** The resource's entity tag as the upstream spells it (`"x"`, `W/"x"`, or unquoted `x`), or `null`. */
  readonly etag: string | null;
  /**
   * The tokens of every live lock whose scope includes the resource (`LockManager.covering(key)`): a lock
   * token matches "if the resource is anywhere in the scope of the lock" (§10.4.4). Unmapped URLs may have
   * some (§7.3: a depth-infinity lock covers URLs not yet mapped).
   */
  readonly lockTokens: readonly string[];
}

/**
 * Maps a Resource-Tag (RFC 4918 §10.4.2: an absolute URI or absolute path) to a canonical key.
 * Returns `null` when the URL is not in davgate's namespace (another host, outside the gateway, invalid).
 */
export type ResolveResourceTag = (url: string) => string | null;

function keyOf(list: IfList, requestKey: string, resolve: ResolveResourceTag): string | null {
  // §10.4.2: "Untagged lists apply to the resource identified by the Request-URI, while tagged lists apply to
  // the resource identified by the preceding Resource-Tag."
  return list.resource === undefined ? requestKey : resolve(list.resource);
}

/**
 * The keys whose {@link ResourceState} {@link evaluateIf} will ask for: the request key when the header has
 * untagged lists, else each Resource-Tag that `resolve` maps into the gateway (tags it cannot map are skipped:
 * their lists are false without state).
 *
 * @param h - parsed header
 * @param requestKey - canonical key of the Request-URI
 * @param resolve - Resource-Tag URL to key, `null` when not ours
 * @returns unique keys in order of first appearance
 */
export function ifHeaderKeys(h: IfHeader, requestKey: string, resolve: ResolveResourceTag): string[] {
  const out: string[] = [];
  for (const l of h.lists) {
    const k = keyOf(l, requestKey, resolve);
    if (k !== null && !out.includes(k)) out.push(k);
  }
  return out;
}

/**
 * Whether any condition is an entity tag, i.e. whether the caller must fetch ETags (an upstream round trip)
 * before calling {@link evaluateIf}. Lock tokens alone are answered from the lock table.
 */
export function ifHeaderNeedsEtags(h: IfHeader): boolean {
  return h.lists.some((l) => l.conditions.some((c) => c.kind === 'etag'));
}

/**
 * Puts quotes around an opaque tag that a lax upstream sent without them, keeping a `W/` prefix:
 * `x` → `"x"`, `W/x` → `W/"x"`, `"x"` and `W/"x"` unchanged.
 */
function normaliseEtag(tag: string): string {
  const t = tag.trim();
  const weak = t.startsWith('W/');
  const opaque = weak ? t.slice(2) : t;
  const quoted = opaque.length >= 2 && opaque.startsWith('"') && opaque.endsWith('"') ? opaque : `"${opaque}"`;
  return (weak ? 'W/' : '') + quoted;
}

function conditionHolds(c: IfCondition, st: ResourceState): boolean {
  let match: boolean;
  if (c.kind === 'token') {
    // §10.4.4 "Matching state token": an exact match with a token of a lock whose scope includes the resource.
    // DAV:no-lock is never a token of any resource (§10.4.8).
    match = c.value !== NO_LOCK && st.lockTokens.includes(c.value);
  } else {
    // §10.4.4 "Matching entity tag" allows the strong or weak function of RFC 2616 §13.3.3. Tags are compared
    // as whole strings after quote normalisation, so `W/"x"` matches only `W/"x"` and `"x"` only `"x"`.
    // An unmapped URL has no entity tag (§10.4.4 "Handling unmapped URLs", example §10.4.11).
    match = st.exists && st.etag !== null && normaliseEtag(st.etag) === normaliseEtag(c.value);
  }
  // §10.4.3: "Prefixing it with "Not" reverses the result of the evaluation".
  return c.not ? !match : match;
}

/**
 * Evaluates an `If` header (RFC 4918 §10.4.3, §10.4.4).
 *
 * - A condition is true when the resource matches it: a state token when it is the token of a lock whose
 *   scope includes the resource (`DAV:no-lock` never matches); an entity tag when it equals the resource's
 *   (after quote normalisation; `W/` must match exactly; never for an unmapped resource). `Not` negates.
 * - A list is true when all its conditions are (conjunction); lists are ORed.
 * - "the whole If header evaluates to true if and only if at least one of the No-tag-list or Tagged-list
 *   productions evaluates to true" (§10.4.3). RFC 2518 §9.4.2 said a header whose tags match none of the
 *   resources the method operates on "MUST be ignored"; RFC 4918 has no such rule, so every tagged list is
 *   evaluated against its own resource, whether or not the request touches it, and the header is true when
 *   any list is (so a tag naming some other resource of ours can make the header true, or, alone, false).
 * - Each list is evaluated against its resource (§10.4.4 "Identifying a resource"): untagged lists against
 *   `requestKey`, tagged lists against `resolve(tag)`. A URL in the gateway's namespace with nothing mapped is
 *   a resource without the stated state (§10.4.4 "Handling unmapped URLs"; `state` reports it). A tag that
 *   `resolve` cannot map (another server) names a resource whose state davgate cannot know, so its list is
 *   false whatever its conditions, `Not` included.
 *
 * @param h - parsed header (at least one list)
 * @param requestKey - canonical key of the Request-URI
 * @param resolve - Resource-Tag URL to key, `null` when not ours
 * @param state - the state of a key; called lazily (lists are tried in order, stopping at the first true one),
 *   at most once per key, only for keys of {@link ifHeaderKeys}
 * @returns false means the request fails with 412 (§10.4.3); tokens still count as submitted (§10.4.1)
 */
export function evaluateIf(
  h: IfHeader,
  requestKey: string,
  resolve: ResolveResourceTag,
  state: (key: string) => ResourceState,
): boolean {
  const cache = new Map<string, ResourceState>();
  const stateOf = (k: string): ResourceState => {
    let st = cache.get(k);
    if (st === undefined) {
      st = state(k);
      cache.set(k, st);
    }
    return st;
  };
  return h.lists.some((l) => {
    const k = keyOf(l, requestKey, resolve);
    if (k === null) return false;
    const st = stateOf(k);
    return l.conditions.every((c) => conditionHolds(c, st));
  });
}

/**
 * The needed locks whose token was not submitted (RFC 4918 §6.1, §7.1, §10.4.1): a write to a locked resource
 * must submit the lock's token. Exclusive locks need their own token. Shared locks: any one submitted shared
 * token among `needed` satisfies all of them — a shared lock lets each holder write, so a holder of one shared
 * lock must not be blocked by other holders' shared locks on that resource, whatever their roots (a depth
 * infinity lock on the folder and a depth 0 lock on the file both cover the file; Apache agrees).
 *
 * The lock creator check of §6.4 (the submitting principal must be the lock's) is the caller's, with
 * `ActiveLock.principal`.
 *
 * @param needed - the live locks covering ONE written resource (`covering(key)`); call once per resource
 *   (for DELETE/MOVE of a collection, once more for each resource below it that a lock covers)
 * @param submitted - tokens from {@link lockTokensOf}, without `<>`
 * @returns the unsatisfied locks, in the order of `needed`, without duplicates; empty when all are satisfied.
 *   Their roots go into the `DAV:lock-token-submitted` body (§16)
 */
export function missingLockTokens(needed: readonly ActiveLock[], submitted: ReadonlySet<string>): ActiveLock[] {
  const sharedSatisfied = needed.some((l) => l.scope === 'shared' && submitted.has(l.token));
  const out: ActiveLock[] = [];
  const seen = new Set<string>();
  for (const l of needed) {
    if (seen.has(l.token)) continue;
    seen.add(l.token);
    if (submitted.has(l.token)) continue;
    if (l.scope === 'shared' && sharedSatisfied) continue;
    out.push(l);
  }
  return out;
}
