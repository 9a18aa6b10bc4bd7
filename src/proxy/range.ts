/**
 * Byte-range decisions for upstreams whose own Range handling is not RFC 9110's: 坚果云 answers a range that
 * reaches EOF with 416 instead of clamping it, and misreads a suffix range `bytes=-N` as "from the start"
 * (jianguoyun.md §4 "Range" row, statement 8). Pure: a Range header in, and — once the representation's size
 * is known — the range to ask the upstream for, or the answer davgate gives itself. The I/O is in
 * `methods/get.ts`; tests in test/unit/range.test.ts.
 *
 * RFC 9110 sections used: §14.1.1 (range-set grammar, validity, satisfiability), §14.1.2 (byte ranges),
 * §14.2 (Range: when a server may ignore it), §13.1.5 (If-Range), §13.2.2 (precedence of preconditions),
 * §14.4 (Content-Range), §15.3.7 (206), §15.5.17 (416).
 */

/** One byte range-spec (RFC 9110 §14.1.2). Positions are byte offsets, clamped to `Number.MAX_SAFE_INTEGER`. */
export type ByteRangeSpec =
  /** `first-last` or `first-` (last null): an int-range. */
  | { readonly kind: 'int'; readonly first: number; readonly last: number | null }
  /** `-length`: the last `length` bytes (a suffix-range). */
  | { readonly kind: 'suffix'; readonly length: number };

/** What a request's Range header asks for. */
export type RangeHeader =
  /** No Range header. */
  | { readonly kind: 'absent' }
  /**
   * A Range header davgate ignores, answering 200 with the whole representation (RFC 9110 §14.2 lets a server
   * ignore any Range header): `unit` — not `bytes`; `invalid` — not a valid ranges-specifier (§14.1.1, e.g.
   * last-pos < first-pos); `multiple` — more than one range-spec (see {@link parseRangeHeader} for why).
   */
  | { readonly kind: 'ignored'; readonly why: 'unit' | 'invalid' | 'multiple' }
  /** Exactly one valid byte range-spec. */
  | { readonly kind: 'single'; readonly spec: ByteRangeSpec };

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * A digit string as a number, clamped to `Number.MAX_SAFE_INTEGER`: no file is that large, so a first-pos
 * beyond it stays unsatisfiable and a last-pos or suffix-length beyond it still means "to the end".
 */
function position(digits: string): number {
  const n = Number(digits);
  return n > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : n;
}

/**
 * Parses a Range header (RFC 9110 §14.1.1, §14.1.2): `bytes=` then a comma list of `first-[last]` or `-suffix`
 * specs. The unit is case-insensitive; optional whitespace around list elements and empty elements are
 * accepted (§5.6.1).
 *
 * Several ranges are `ignored` (answered 200 with the whole file), which §14.2 allows ("a server MAY ignore the
 * Range header field"). 坚果云 serves one range per request (jianguoyun.md §4), so a multipart/byteranges answer
 * (§14.6) would cost one upstream request per range from the account's budget (jianguoyun.md §1), and merging
 * them into one covering range is allowed only for overlapping or nearby ranges (§14.2). A single 200 costs one
 * request and is what 坚果云 itself does with a list.
 *
 * @param value - the header's value; undefined when absent
 * @returns what the header asks for; never throws
 */
export function parseRangeHeader(value: string | undefined): RangeHeader {
  if (value === undefined) return { kind: 'absent' };
  const eq = value.indexOf('=');
  if (eq < 0) return { kind: 'ignored', why: 'invalid' };
  if (value.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'ignored', why: 'unit' };
  const items = value
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return { kind: 'ignored', why: 'invalid' };
  const specs: ByteRangeSpec[] = [];
  for (const item of items) {
    const int = INT_RANGE.exec(item);
    if (int) {
      // §14.1.1: a range-spec whose last-pos is below its first-pos is invalid (compared exactly, before clamping).
      if (int[2] !== '' && BigInt(int[2]!) < BigInt(int[1]!)) return { kind: 'ignored', why: 'invalid' };
      specs.push({ kind: 'int', first: position(int[1]!), last: int[2] === '' ? null : position(int[2]!) });
      continue;
    }
    const suffix = SUFFIX_RANGE.exec(item);
    if (suffix) {
      specs.push({ kind: 'suffix', length: position(suffix[1]!) });
      continue;
    }
    return { kind: 'ignored', why: 'invalid' };
  }
  if (specs.length > 1) return { kind: 'ignored', why: 'multiple' };
  return { kind: 'single', spec: specs[0]! };
}

/** The byte range a spec selects in a representation of a known size. */
export type ResolvedRange =
  /** Bytes `start`..`end` inclusive (0 ≤ start ≤ end < size). */
  | { readonly kind: 'part'; readonly start: number; readonly end: number }
  /** No byte can be selected (§14.1.1: first-pos ≥ size, or a suffix-length of 0). */
  | { readonly kind: 'unsatisfiable' }
  /** A satisfiable suffix range of an empty representation: there is no byte to put in a 206 (see below). */
  | { readonly kind: 'empty' };

/**
 * Resolves one range-spec against the representation's size (RFC 9110 §14.1.1–§14.1.2): a last-pos at or beyond
 * the end is clamped to `size - 1`; a suffix-length at or beyond the size selects the whole representation;
 * first-pos ≥ size and suffix-length 0 are unsatisfiable. A suffix range of an empty representation is
 * satisfiable (§14.1.1) but no Content-Range can describe zero bytes, so it is reported as `empty` (the caller
 * answers 200).
 *
 * @param spec - one byte range-spec
 * @param size - the representation's length in bytes (a non-negative integer)
 */
export function resolveRange(spec: ByteRangeSpec, size: number): ResolvedRange {
  if (spec.kind === 'int') {
    if (spec.first >= size) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: spec.first, end: Math.min(spec.last ?? size - 1, size - 1) };
  }
  if (spec.length === 0) return { kind: 'unsatisfiable' };
  if (size === 0) return { kind: 'empty' };
  return { kind: 'part', start: Math.max(0, size - spec.length), end: size - 1 };
}

/** The `Range` value asking for exactly `spec` (normalised: no spaces, `bytes` in lower case). */
export function rangeValue(spec: ByteRangeSpec): string {
  return spec.kind === 'int' ? `bytes=${spec.first}-${spec.last ?? ''}` : `bytes=-${spec.length}`;
}

/** `Content-Range` of a 416 (RFC 9110 §14.4, §15.5.17): `bytes *\/size`. */
export function unsatisfiedContentRange(size: number): string {
  return `bytes */${size}`;
}

/** A `Content-Range` value as an upstream sent it (RFC 9110 §14.4). */
export type ContentRange =
  /** `bytes first-last/complete`, complete undefined for `*` (unknown length). */
  | { readonly kind: 'part'; readonly first: number; readonly last: number; readonly complete: number | undefined }
  /** `bytes *\/complete`: the 416 form. */
  | { readonly kind: 'unsatisfied'; readonly complete: number };

const PART_RANGE = /^bytes[ \t]+(\d+)-(\d+)\/(\d+|\*)$/i;
const UNSATISFIED_RANGE = /^bytes[ \t]+\*\/(\d+)$/i;

/**
 * Parses a `Content-Range` value (RFC 9110 §14.4: `bytes first-last/complete`, `bytes first-last/*` or
 * `bytes *\/complete`). Pure.
 *
 * @param value - the header's value, if any
 * @returns the parsed value, or undefined when absent or not of that grammar
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const u = UNSATISFIED_RANGE.exec(v);
  if (u) return { kind: 'unsatisfied', complete: position(u[1]!) };
  const m = PART_RANGE.exec(v);
  if (!m) return undefined;
  return { kind: 'part', first: position(m[1]!), last: position(m[2]!), complete: m[3] === '*' ? undefined : position(m[3]!) };
}

/**
 * Whether a 206's `Content-Range` is an answer to the single range-spec asked for (RFC 9110 §15.3.7: the part
 * is the satisfiable range of the request): `first ≤ last`, `last < complete` when known, and for an int-range
 * the same first-pos and a last-pos no further than asked; for a suffix range no more than `length` bytes, ending
 * at the end when the length is known. An upstream answering an unsatisfiable range with `206 bytes 10-9/*`
 * (webdav-server 2) or with another part fails it, and its bytes are never relayed. Pure.
 *
 * @param spec - the client's single range-spec
 * @param contentRange - the 206's parsed `Content-Range`
 */
export function partAnswersSpec(spec: ByteRangeSpec, contentRange: ContentRange | undefined): boolean {
  if (contentRange?.kind !== 'part') return false;
  const { first, last, complete } = contentRange;
  if (last < first || (complete !== undefined && last >= complete)) return false;
  if (spec.kind === 'int') return first === spec.first && (spec.last === null || last <= spec.last);
  return last - first + 1 <= spec.length && (complete === undefined || last === complete - 1);
}

/** `Content-Range` of a single-part 206 (RFC 9110 §14.4): `bytes start-end/size`. */
export function partContentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** The first upstream request for a GET/HEAD to a 坚果云 account, decided before the size is known. */
export type FirstRequest =
  /** No Range: send the client's headers unchanged. */
  | { readonly kind: 'as-is' }
  /** An ignored Range: drop `Range` and `If-Range`; the upstream answers 200 with the whole file. */
  | { readonly kind: 'whole' }
  /**
   * An int-range: ask the upstream for it with this `Range` value (the client's `If-Range` passes through).
   * 坚果云 answers an in-bounds range correctly, so this costs one request; a 416 means "reaches EOF" and the
   * size must be learned ({@link answerWithSize}).
   */
  | { readonly kind: 'range'; readonly range: string; readonly spec: ByteRangeSpec }
  /** A suffix range, which 坚果云 misreads (jianguoyun.md §4): learn the size first, then ask for `a-b`. */
  | { readonly kind: 'size-first'; readonly spec: ByteRangeSpec };

/**
 * Decides the first upstream request for a GET/HEAD to a 坚果云 account (jianguoyun.md §4 "Range" row). Only
 * suffix ranges need the size beforehand; everything else costs exactly one request when it is in bounds.
 *
 * @param header - the parsed Range header ({@link parseRangeHeader})
 */
export function firstRequest(header: RangeHeader): FirstRequest {
  switch (header.kind) {
    case 'absent':
      return { kind: 'as-is' };
    case 'ignored':
      return { kind: 'whole' };
    case 'single':
      return header.spec.kind === 'int'
        ? { kind: 'range', range: rangeValue(header.spec), spec: header.spec }
        : { kind: 'size-first', spec: header.spec };
  }
}

/**
 * Whether an `If-Range` value holds for the current ETag (RFC 9110 §13.1.5). An entity-tag must match by strong
 * comparison, so a weak one (`W/…`) never holds; it is compared as an exact string, as 坚果云 does (jianguoyun.md
 * §4: ETags are opaque and may be unquoted). An HTTP-date is treated as not holding: 坚果云 itself never honours
 * one (it compares If-Range with the ETag), and "does not hold" only turns a 206 into a 200 with the whole
 * representation, which is always a correct answer.
 *
 * @param ifRange - the request's If-Range value
 * @param etag - the representation's current ETag, or undefined when unknown (never holds)
 */
export function ifRangeHolds(ifRange: string, etag: string | undefined): boolean {
  const v = ifRange.trim();
  if (etag === undefined || v.startsWith('W/')) return false;
  return v === etag.trim();
}

/** Input of {@link answerWithSize}. */
export interface SizedInput {
  /** The client's single range-spec. */
  readonly spec: ByteRangeSpec;
  /** The representation's length in bytes, from `DAV:getcontentlength`. */
  readonly size: number;
  /** Its ETag from `DAV:getetag` at the same moment, or undefined when the upstream sent none. */
  readonly etag: string | undefined;
  /** The client's `If-Range`, if any. */
  readonly ifRange: string | undefined;
  /**
   * Whether the request carries `If-Match`, `If-None-Match`, `If-Modified-Since` or `If-Unmodified-Since` that no
   * upstream has evaluated yet. RFC 9110 §13.2.2 evaluates them before Range, so davgate must not answer 416
   * itself in their place.
   */
  readonly unevaluatedPreconditions: boolean;
}

/** What to do once the size is known. */
export type SizedAnswer =
  /** Ask the upstream for the whole representation (no `Range`, no `If-Range`) and relay its answer (200). */
  | { readonly kind: 'whole' }
  /** Answer 416 with this `Content-Range` and an empty body; no further upstream request. */
  | { readonly kind: 'unsatisfiable'; readonly contentRange: string }
  /**
   * Ask the upstream for `range` (in bounds, so 坚果云 serves it) with `If-Range: ifRange` (the ETag learned with
   * the size): if the file changed since, the upstream answers 200 with the whole new file instead of bytes
   * chosen for the old size. A 206 must carry exactly `contentRange`.
   */
  | { readonly kind: 'part'; readonly range: string; readonly ifRange: string; readonly contentRange: string };

/**
 * Decides the answer to a single-range GET/HEAD once the size is known (learned after the vendor's 416, or
 * before a suffix range). Order, after RFC 9110 §13.2.2 step 5:
 * 1. a client `If-Range` that does not hold for the learned ETag → the whole file (§13.1.5: ignore Range);
 * 2. unsatisfiable → 416 `bytes *\/size` (§15.5.17), unless other preconditions are still unevaluated: then the
 *    whole file is asked for, so the upstream evaluates them first (a 200 is allowed by §14.2);
 * 3. `empty` (suffix of a 0-byte file) → the whole (empty) file as 200;
 * 4. a part, but no ETag learned → the whole file: without a validator the second request cannot be tied to the
 *    size just learned, and wrong bytes under a right-looking Content-Range are worse than a 200;
 * 5. otherwise the clamped part as `bytes=start-end` with `If-Range` = the learned ETag.
 *
 * @param input - see {@link SizedInput}
 */
export function answerWithSize(input: SizedInput): SizedAnswer {
  const { spec, size, etag, ifRange } = input;
  if (ifRange !== undefined && !ifRangeHolds(ifRange, etag)) return { kind: 'whole' };
  const r = resolveRange(spec, size);
  if (r.kind === 'unsatisfiable') {
    return input.unevaluatedPreconditions ? { kind: 'whole' } : { kind: 'unsatisfiable', contentRange: unsatisfiedContentRange(size) };
  }
  if (r.kind === 'empty' || etag === undefined) return { kind: 'whole' };
  return {
    kind: 'part',
    range: rangeValue({ kind: 'int', first: r.start, last: r.end }),
    ifRange: etag,
    contentRange: partContentRange(r.start, r.end, size),
  };
}
