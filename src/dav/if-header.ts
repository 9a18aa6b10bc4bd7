/**
 * The `If` request header (RFC 4918 §10.4):
 *
 * ```
 * If = "If" ":" ( 1*No-tag-list | 1*Tagged-list )
 * No-tag-list = List
 * Tagged-list = Resource-Tag 1*List
 * List = "(" 1*Condition ")"
 * Condition = ["Not"] (State-token | "[" entity-tag "]")
 * State-token = Coded-URL            ; "<" absolute-URI ">"
 * Resource-Tag = "<" Simple-ref ">"
 * ```
 *
 * Linear whitespace may appear between any two tokens. `Not` is matched case-insensitively (ABNF literals
 * are case-insensitive, RFC 5234 §2.3); the weak-tag prefix `W/` is case-sensitive (RFC 9110 §8.8.3).
 */
import { Errors, type DavgateError } from '../errors.js';

/** One condition of a list. */
export interface IfCondition {
  /** Preceded by `Not`. */
  not: boolean;
  /** A state token (`<…>`) or an entity tag (`[…]`). */
  kind: 'token' | 'etag';
  /** Token URI without `<>` (e.g. `urn:uuid:…`, `DAV:no-lock`), or the entity-tag with quotes (`"x"`, `W/"x"`). */
  value: string;
}

/** One parenthesised list; the conditions are ANDed, the lists of a header are ORed (per resource). */
export interface IfList {
  /** The Resource-Tag URL (without `<>`) for a tagged list; absent for a No-tag-list. */
  resource?: string;
  /** At least one condition. */
  conditions: IfCondition[];
}

/** A parsed `If` header: at least one list; either all lists are tagged or none is. */
export interface IfHeader {
  lists: IfList[];
}

/** The lock-token URI that never matches; used as `Not <DAV:no-lock>` to make a list always true (§10.4.8). */
export const NO_LOCK = 'DAV:no-lock';

function bad(detail: string): DavgateError {
  return Errors.BAD_HEADER(`If: ${detail}`);
}

const WS = /[ \t\r\n]/;

/**
 * Parses an `If` header value.
 *
 * @param value - the header value, e.g. `<http://h/a> (<urn:uuid:1> ["e"]) (Not <DAV:no-lock>)`
 * @returns the lists in order; each tagged list carries the Resource-Tag that precedes it
 * @throws DavgateError `DAVGATE_BAD_HEADER` (400) for an empty header, an empty list, a mix of tagged and
 *   untagged lists, a tag not followed by a list, an unterminated `<`/`[`/`(`, or a malformed entity-tag
 */
export function parseIfHeader(value: string): IfHeader {
  const s = value;
  let i = 0;
  const skipWs = (): void => {
    while (i < s.length && WS.test(s[i]!)) i++;
  };
  const readAngle = (what: string): string => {
    // s[i] === '<'
    const end = s.indexOf('>', i + 1);
    if (end === -1) throw bad(`unterminated ${what}`);
    const inner = s.slice(i + 1, end);
    if (inner === '' || /[\s<]/.test(inner)) throw bad(`malformed ${what}`);
    i = end + 1;
    return inner;
  };

  const lists: IfList[] = [];
  let resource: string | undefined;
  let tagged: boolean | undefined;
  let tagPending = false;

  skipWs();
  if (i >= s.length) throw bad('empty');
  while (i < s.length) {
    const c = s[i];
    if (c === '<') {
      if (tagged === false) throw bad('tagged and untagged lists mixed');
      if (tagPending) throw bad('Resource-Tag without a list');
      tagged = true;
      resource = readAngle('Resource-Tag');
      tagPending = true;
    } else if (c === '(') {
      if (tagged === undefined) tagged = false;
      i++;
      const conditions: IfCondition[] = [];
      for (;;) {
        skipWs();
        if (i >= s.length) throw bad('unterminated list');
        if (s[i] === ')') {
          i++;
          break;
        }
        let not = false;
        if (s.slice(i, i + 3).toLowerCase() === 'not') {
          not = true;
          i += 3;
          const before = i;
          skipWs();
          if (i === before && s[i] !== '<' && s[i] !== '[') throw bad('malformed Not');
        }
        if (s[i] === '<') {
          conditions.push({ not, kind: 'token', value: readAngle('state token') });
        } else if (s[i] === '[') {
          // "[" entity-tag "]", entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 §8.8.3). The closing quote
          // is searched first, so a `]` inside the quotes is fine. Spaces are allowed inside the quotes as in
          // RFC 2616's quoted-string, because RFC 4918's own examples (§10.4.6) use them.
          i++;
          skipWs();
          const m = /^(W\/)?"[^"\x00-\x08\x0a-\x1f\x7f]*"/.exec(s.slice(i));
          if (!m) throw bad('malformed entity-tag');
          i += m[0].length;
          skipWs();
          if (s[i] !== ']') throw bad('unterminated entity-tag');
          i++;
          conditions.push({ not, kind: 'etag', value: m[0] });
        } else {
          throw bad(`unexpected ${JSON.stringify(s[i])} in list`);
        }
      }
      if (conditions.length === 0) throw bad('empty list');
      lists.push(tagged ? { resource: resource!, conditions } : { conditions });
      tagPending = false;
    } else {
      throw bad(`unexpected ${JSON.stringify(c)}`);
    }
    skipWs();
  }
  if (tagPending) throw bad('Resource-Tag without a list');
  return { lists };
}

function formatCondition(c: IfCondition): string {
  const body = c.kind === 'token' ? `<${c.value}>` : `[${c.value}]`;
  return c.not ? `Not ${body}` : body;
}

/**
 * Writes an `If` header value. Consecutive lists with the same resource share one Resource-Tag; tokens are
 * separated by single spaces. `formatIfHeader(parseIfHeader(v))` is equivalent to `v`.
 *
 * @param h - a header with at least one list
 * @returns e.g. `<http://h/a> (<urn:uuid:1> Not ["e"]) (<DAV:no-lock>)`
 */
export function formatIfHeader(h: IfHeader): string {
  const parts: string[] = [];
  let current: string | undefined;
  for (const list of h.lists) {
    if (list.resource !== undefined && list.resource !== current) parts.push(`<${list.resource}>`);
    current = list.resource;
    parts.push(`(${list.conditions.map(formatCondition).join(' ')})`);
  }
  return parts.join(' ');
}

/**
 * The lock tokens a client submits: every state token not preceded by `Not`, in order of first appearance,
 * without duplicates and without `DAV:no-lock` (which is not a lock token, §10.4.8).
 *
 * @returns token URIs without `<>`
 */
export function lockTokensOf(h: IfHeader): string[] {
  const out: string[] = [];
  for (const l of h.lists) {
    for (const c of l.conditions) {
      if (c.kind === 'token' && !c.not && c.value !== NO_LOCK && !out.includes(c.value)) out.push(c.value);
    }
  }
  return out;
}
