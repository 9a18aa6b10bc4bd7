/**
 * Bodies davgate writes itself: the DAV:error precondition body (RFC 4918 §16) and a 207 Multi-Status made
 * of plain statuses (RFC 4918 §13, §14.16; used for partial DELETE failures, §9.6.1).
 */
import { STATUS_CODES } from 'node:http';
import { escapeText } from './xml.js';

const XML_DECL = '<?xml version="1.0" encoding="utf-8"?>';
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/**
 * A DAV:error body naming one precondition or postcondition code (RFC 4918 §16), e.g.
 * `<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`.
 *
 * @param precondition - the element's local name in the DAV: namespace, e.g. `lock-token-submitted`
 * @param extraHrefs - hrefs to list inside the condition element (e.g. the locked resources for
 *   `lock-token-submitted`, §16); written XML-escaped, not re-encoded
 * @throws TypeError when `precondition` is not an XML NCName (a programming error)
 */
export function davErrorBody(precondition: string, extraHrefs: string[] = []): string {
  if (!NCNAME.test(precondition)) throw new TypeError(`not an XML name: ${precondition}`);
  const inner = extraHrefs.map((h) => `<D:href>${escapeText(h)}</D:href>`).join('');
  const cond = inner === '' ? `<D:${precondition}/>` : `<D:${precondition}>${inner}</D:${precondition}>`;
  return `${XML_DECL}<D:error xmlns:D="DAV:">${cond}</D:error>`;
}

/** The RFC 4918 §14.28 status line for a code, e.g. `HTTP/1.1 424 Failed Dependency`. */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

/** One resource and its status, for {@link multistatusOfStatuses}. */
export interface HrefStatus {
  /** Gateway href, already percent-encoded. */
  href: string;
  /** HTTP status code, e.g. 424. */
  status: number;
  /** Optional human-readable DAV:responsedescription. */
  description?: string;
}

/**
 * A 207 body with one `<D:response><D:href>…</D:href><D:status>HTTP/1.1 …</D:status></D:response>` per
 * item, in order, plus a DAV:responsedescription when given (RFC 4918 §14.24, §14.25).
 *
 * @param items - resources and statuses
 * @returns the body as a string, starting with the XML declaration
 */
export function multistatusOfStatuses(items: HrefStatus[]): string {
  const responses = items
    .map((it) => {
      const desc =
        it.description === undefined ? '' : `<D:responsedescription>${escapeText(it.description)}</D:responsedescription>`;
      return `<D:response><D:href>${escapeText(it.href)}</D:href><D:status>${statusLine(it.status)}</D:status>${desc}</D:response>`;
    })
    .join('');
  return `${XML_DECL}<D:multistatus xmlns:D="DAV:">${responses}</D:multistatus>`;
}
