/**
 * Which request transfer codings davgate understands: only `chunked` (RFC 9112 §7.1). Node's HTTP parser
 * removes the chunked framing and nothing else, so under `Transfer-Encoding: gzip, chunked` the handlers would
 * read gzip bytes and store them as the file. RFC 9112 §6.1: "A server that receives a request message with a
 * transfer coding it does not understand SHOULD respond with 501 (Not Implemented)". Pure.
 */

/**
 * The transfer codings of a request other than `chunked`, lower-case, in order (RFC 9112 §6.1:
 * `Transfer-Encoding = #transfer-coding`, a coding name followed by optional `;` parameters; names are
 * case-insensitive, §7).
 *
 * @param value - the `Transfer-Encoding` header as Node gives it (repeated lines joined or as an array), or
 *   undefined when absent
 * @returns an empty list when the request can be read as it is
 */
export function unsupportedTransferCodings(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const line of [value].flat()) {
    for (const item of line.split(',')) {
      const name = item.split(';')[0]!.trim().toLowerCase();
      if (name !== '' && name !== 'chunked') out.push(name);
    }
  }
  return out;
}
