/**
 * Conditional requests (RFC 9110 §13) evaluated by davgate itself, for upstreams that do not evaluate them as
 * the RFC says: 坚果云 compares `If-Match` (PUT only) and `If-None-Match` (GET/HEAD only) as exact strings, with
 * no `*`, no lists and no weak comparison (jianguoyun.md §4 PUT and If-None-Match rows, statement 10). Pure: the
 * request's conditional headers and the resource's current state in, a verdict out. The I/O (one PROPFIND
 * Depth 0 for the state) is in `methods/resource-state.ts`; tests in test/unit/conditionals.test.ts.
 *
 * RFC 9110 sections used: §8.8.3 (entity-tag syntax), §8.8.3.2 (strong and weak comparison), §13.1.1 If-Match,
 * §13.1.2 If-None-Match, §13.1.3 If-Modified-Since, §13.1.4 If-Unmodified-Since, §13.2.2 (order of evaluation),
 * §5.6.7 (HTTP-date).
 */

/** The request headers this module evaluates (lower-case names). `If-Range` is not one: see `proxy/range.ts`. */
export const CONDITIONAL_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'] as const;

/** An entity-tag (RFC 9110 §8.8.3): its opaque part without quotes, and whether it was marked weak (`W/`). */
export interface EntityTag {
  readonly weak: boolean;
  /** The opaque-tag without its double quotes. */
  readonly opaque: string;
}

/** The value of `If-Match` / `If-None-Match`: `*` (any current representation) or a list of entity-tags. */
export type EntityTagCondition = { readonly kind: 'any' } | { readonly kind: 'list'; readonly tags: readonly EntityTag[] };

/**
 * Parses one entity-tag, leniently: `"x"`, `W/"x"`, and also an unquoted `x` / `W/x`. The unquoted form is what
 * 坚果云 sends as its ETag (jianguoyun.md §4 "ETag format": a capture shows a bare token) and what davgate relays to
 * clients as it is, so a client may echo it back bare. Quoted or not, `abc` and `"abc"` are the same tag: the
 * quotes are syntax (§8.8.3), the opaque part is what is compared.
 *
 * @param value - one tag, surrounding whitespace allowed
 * @returns the tag, or undefined for an empty value
 */
export function parseEntityTag(value: string): EntityTag | undefined {
  let v = value.trim();
  const weak = v.startsWith('W/');
  if (weak) v = v.slice(2);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return { weak, opaque: v.slice(1, -1) };
  return v === '' ? undefined : { weak, opaque: v };
}

/**
 * Parses an `If-Match` / `If-None-Match` value (RFC 9110 §13.1.1: `"*" / #entity-tag`). A quoted opaque-tag may
 * contain commas (etagc, §8.8.3), so the list is scanned, not split. Bare tags (see {@link parseEntityTag}) end at
 * a comma or whitespace. A `*` anywhere makes the whole condition `any` (a `*` inside a list is not valid
 * syntax; reading it as `*` is the reading that never lets a create-only upload overwrite a file).
 *
 * @param value - the header value (repeated header lines already joined with `, `, as Node does)
 * @returns the condition; an empty list when nothing parses (then no tag matches)
 */
export function parseEntityTagCondition(value: string): EntityTagCondition {
  const tags: EntityTag[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value[i]!;
    if (c === ',' || c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '*') return { kind: 'any' };
    let weak = false;
    if (value.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (value[i] === '"') {
      const end = value.indexOf('"', i + 1);
      const stop = end < 0 ? n : end;
      tags.push({ weak, opaque: value.slice(i + 1, stop) });
      i = stop + 1;
      continue;
    }
    let j = i;
    while (j < n && value[j] !== ',' && value[j] !== ' ' && value[j] !== '\t') j++;
    if (j > i) tags.push({ weak, opaque: value.slice(i, j) });
    i = j;
  }
  return { kind: 'list', tags };
}

/** Strong comparison (RFC 9110 §8.8.3.2): neither tag weak, opaque parts identical (quotes aside, see above). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison (RFC 9110 §8.8.3.2): opaque parts identical, either or both may be weak. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = /^([A-Z][a-z]{2}), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^([A-Z][a-z]+), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^([A-Z][a-z]{2}) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year: number, month: string, day: number, h: string, m: string, s: string): number | undefined {
  const mon = MONTHS.indexOf(month);
  const [hh, mm, ss] = [Number(h), Number(m), Number(s)];
  if (mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return undefined;
  const ms = Date.UTC(year, mon, day, hh, mm, Math.min(ss, 59));
  // Reject dates that roll over (31 Feb).
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime formats a recipient
 * must also accept. A two-digit RFC 850 year more than 50 years in the future is read as the past century.
 *
 * @param value - the field value
 * @param nowMs - the current time (ms epoch), only for the two-digit year rule
 * @returns the time (ms epoch), or undefined when the value is not a valid HTTP-date (the condition is then
 *   ignored, §13.1.3 / §13.1.4)
 */
export function parseHttpDate(value: string, nowMs = Date.now()): number | undefined {
  const v = value.trim();
  let m = IMF_FIXDATE.exec(v);
  if (m) return DAYS.includes(m[1]!) ? utc(Number(m[4]), m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!) : undefined;
  m = RFC850_DATE.exec(v);
  if (m) {
    if (!LONG_DAYS.includes(m[1]!)) return undefined;
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[4]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME_DATE.exec(v);
  if (m) return DAYS.includes(m[1]!) ? utc(Number(m[7]), m[2]!, Number(m[3]!.trim()), m[4]!, m[5]!, m[6]!) : undefined;
  return undefined;
}

/** The conditional headers of a request (first value of each; Node joins repeated If-Match lines). */
export interface ConditionalHeaders {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly ifModifiedSince?: string;
  readonly ifUnmodifiedSince?: string;
}

/**
 * The conditional headers of a request, or undefined when it carries none (then nothing needs evaluating and
 * no upstream request is spent on it).
 *
 * @param headers - request headers with lower-case names
 */
export function conditionalHeadersOf(headers: Readonly<Record<string, string | string[] | undefined>>): ConditionalHeaders | undefined {
  const get = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const out = {
    ifMatch: get('if-match'),
    ifNoneMatch: get('if-none-match'),
    ifModifiedSince: get('if-modified-since'),
    ifUnmodifiedSince: get('if-unmodified-since'),
  };
  if (Object.values(out).every((v) => v === undefined)) return undefined;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as ConditionalHeaders;
}

/** `headers` without the conditional headers (the upstream must not evaluate them again, wrongly). */
export function withoutConditionals(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!(CONDITIONAL_HEADERS as readonly string[]).includes(k)) out[k] = v;
  return out;
}

/** The target's current state, as far as the conditionals need it. */
export interface CurrentState {
  /** Whether a current representation exists (a file, or a collection). */
  readonly exists: boolean;
  /** Its entity-tag as the upstream wrote it (`DAV:getetag`, possibly unquoted), if it has one. */
  readonly etag?: string | undefined;
  /** Its last modification date (ms epoch, `DAV:getlastmodified`), if known. */
  readonly lastModifiedMs?: number | undefined;
}

/** What to do with the request. */
export type ConditionalVerdict =
  /** Perform the request (RFC 9110 §13.2.2 step 5/6), without forwarding the conditional headers. */
  | { readonly kind: 'proceed' }
  /** 304 Not Modified (GET/HEAD only). */
  | { readonly kind: 'not-modified' }
  /** 412 Precondition Failed; `header` names the condition that failed. */
  | { readonly kind: 'precondition-failed'; readonly header: 'If-Match' | 'If-Unmodified-Since' | 'If-None-Match' };

/** §13.1.1: `*` is true when a current representation exists; a list when one tag matches strongly. */
function ifMatchHolds(cond: EntityTagCondition, state: CurrentState): boolean {
  if (!state.exists) return false;
  if (cond.kind === 'any') return true;
  const current = state.etag === undefined ? undefined : parseEntityTag(state.etag);
  return current !== undefined && cond.tags.some((t) => strongMatch(t, current));
}

/** §13.1.2: `*` is false when a current representation exists; a list is false when one tag matches weakly. */
function ifNoneMatchHolds(cond: EntityTagCondition, state: CurrentState): boolean {
  if (!state.exists) return true;
  if (cond.kind === 'any') return false;
  const current = state.etag === undefined ? undefined : parseEntityTag(state.etag);
  return current === undefined || !cond.tags.some((t) => weakMatch(t, current));
}

/**
 * Evaluates the conditional headers in the order of RFC 9110 §13.2.2 (steps 1–4; step 5, If-Range, stays with
 * the Range handling in `proxy/range.ts`). Seconds are the resolution of HTTP-dates, so dates are compared in
 * whole seconds.
 *
 * 1. If-Match: false → 412.
 * 2. If-Unmodified-Since, only without If-Match (§13.1.4), only with a valid date and a known modification
 *    date (§13.1.4 lets a recipient ignore it otherwise): modified after the date → 412.
 * 3. If-None-Match: false → 304 for GET/HEAD, 412 for any other method.
 * 4. If-Modified-Since, only for GET/HEAD without If-None-Match, with a valid date and a known modification
 *    date (§13.1.3): not modified after the date → 304.
 *
 * The caller has already answered what the request would get without conditions (404, 409…): §13.2.1 wants
 * preconditions evaluated only when the answer would otherwise be 2xx or 412.
 *
 * @param method - the request method, upper case
 * @param headers - the request's conditional headers ({@link conditionalHeadersOf})
 * @param state - the target's current state
 */
export function evaluateConditionals(method: string, headers: ConditionalHeaders, state: CurrentState): ConditionalVerdict {
  const read = method === 'GET' || method === 'HEAD';
  const seconds = (ms: number) => Math.floor(ms / 1000);
  if (headers.ifMatch !== undefined) {
    if (!ifMatchHolds(parseEntityTagCondition(headers.ifMatch), state)) return { kind: 'precondition-failed', header: 'If-Match' };
  } else if (headers.ifUnmodifiedSince !== undefined && state.lastModifiedMs !== undefined) {
    const since = parseHttpDate(headers.ifUnmodifiedSince);
    if (since !== undefined && seconds(state.lastModifiedMs) > seconds(since)) {
      return { kind: 'precondition-failed', header: 'If-Unmodified-Since' };
    }
  }
  if (headers.ifNoneMatch !== undefined) {
    if (!ifNoneMatchHolds(parseEntityTagCondition(headers.ifNoneMatch), state)) {
      return read ? { kind: 'not-modified' } : { kind: 'precondition-failed', header: 'If-None-Match' };
    }
  } else if (read && headers.ifModifiedSince !== undefined && state.lastModifiedMs !== undefined) {
    const since = parseHttpDate(headers.ifModifiedSince);
    if (since !== undefined && seconds(state.lastModifiedMs) <= seconds(since)) return { kind: 'not-modified' };
  }
  return { kind: 'proceed' };
}
