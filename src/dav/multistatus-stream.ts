/**
 * Streaming reader and writer of 207 Multi-Status bodies (RFC 4918 §13, §14.16 multistatus, §14.24 response)
 * for PROPFIND answers, merged Depth 1 listings above all (issue 8, "Streaming listing merge").
 *
 * No element tree is built. The reader feeds the body to saxes chunk by chunk and carries each DAV:response as
 * a string ({@link ResponseSlice}), re-emitted from saxes' events as the upstream wrote it (element and
 * attribute names, namespace declarations, text), with:
 * - every DAV:href but the response's own mapped through the caller's `mapHref` (lock roots, DAV:error
 *   preconditions…); the response's own href is left out, so the writer puts the gateway's href there
 *   ({@link renderResponse});
 * - the namespace prefixes it uses but inherits from the multistatus (Apache declares `xmlns:ns0` there)
 *   declared on the response element itself, so it stays valid inside davgate's own multistatus;
 * - the DAV: properties named in `omitDavProps` left out (davgate's lock properties replace the upstream's,
 *   issue #3), and a propstat that held nothing else dropped;
 * - where davgate's own properties go: the end of the first 200 propstat's DAV:prop, or a new propstat.
 * Comments and processing instructions are dropped, CDATA becomes escaped text, white space between the
 * children of a response, propstat or prop (element-only content) is dropped.
 *
 * Security: a DOCTYPE is refused (`newSafeParser`), so no entity beyond the five predefined ones and
 * character references is ever expanded. saxes runs without its own namespace bookkeeping (several times
 * faster); this module resolves prefixes itself and refuses an unbound prefix, as a namespace-aware parser
 * would (Namespaces in XML 1.0 §5).
 */
import { StringDecoder } from 'node:string_decoder';
import { Errors } from '../errors.js';
import { statusCodeOf } from './multistatus.js';
import { asXmlError, DAV_NS, DEFAULT_MAX_DEPTH, escapeAttr, escapeText, newSafeParser, XML_NS, XMLNS_NS } from './xml.js';

/** One DAV:response of a multistatus, carried as XML text. Offsets are UTF-16 code unit indexes into `xml`. */
export interface ResponseSlice {
  /** Text of the response's first DAV:href, XML-unescaped, untrimmed, not decoded. */
  readonly href: string;
  /** Whether a propstat with status 200 has a DAV:resourcetype containing DAV:collection. */
  readonly isCollection: boolean;
  /** Text of DAV:getcontentlength in a propstat with status 200, if any (untrimmed). */
  readonly contentLength: string | undefined;
  /**
   * The DAV:response element, self-contained inside a multistatus that binds `D` to `DAV:`
   * ({@link MULTISTATUS_OPEN}); the text of its first DAV:href is left out (it goes at `hrefAt`).
   */
  readonly xml: string;
  /** Where the response's own href text goes (just after the first DAV:href start tag). */
  readonly hrefAt: number;
  /**
   * Where extra properties written with the `D:` prefix go: before the end tag of the DAV:prop of the first
   * propstat with status 200, where `D` means `DAV:`; -1 when there is no such place.
   */
  readonly propAt: number;
  /** Where a new DAV:propstat goes: just before the response's end tag. */
  readonly propstatAt: number;
}

/** Options of {@link MultistatusReader}. */
export interface MultistatusReaderOptions {
  /** Maps the text of every DAV:href except each response's first (XML-unescaped, untrimmed). */
  readonly mapHref: (href: string) => string;
  /** Called with each DAV:response in document order, once it is complete. A throw fails the reader. */
  readonly onResponse: (response: ResponseSlice) => void;
  /** Local names of DAV: properties left out of every DAV:prop (e.g. `lockdiscovery`). */
  readonly omitDavProps?: ReadonlySet<string>;
  /** Refuse a body larger than this many bytes (`DAVGATE_PAYLOAD_TOO_LARGE`). Unset: no limit. */
  readonly maxBytes?: number;
  /** Refuse elements nested deeper than this (`DAVGATE_BAD_XML`). Default {@link DEFAULT_MAX_DEPTH}. */
  readonly maxDepth?: number;
}

/** The start of every multistatus davgate writes; {@link ResponseSlice.xml} relies on its `D` binding. */
export const MULTISTATUS_OPEN = '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">';
/** The end of every multistatus davgate writes. */
export const MULTISTATUS_CLOSE = '</D:multistatus>';

/** A namespace binding and the depth of the element that declared it (1 = the root). */
interface Binding {
  readonly uri: string;
  readonly depth: number;
}

/** Depths inside a multistatus: the root is 1. */
const RESPONSE_DEPTH = 2;
const CHILD_DEPTH = 3; // children of a response: its href, propstats…
const PROP_DEPTH = 4;
const PROPERTY_DEPTH = 5;

/** One propstat being read. */
interface PropstatState {
  /** Offset in the response's text where the propstat starts, and the number of parts before it (to drop it). */
  readonly start: number;
  readonly startPart: number;
  hasProp: boolean;
  /** Property elements kept in its DAV:prop. */
  kept: number;
  status: string;
  /** Offset of its DAV:prop's end tag, -1 before. */
  propEnd: number;
  /** The binding of `D` declared inside the response and in scope at the DAV:prop, or null. */
  dAtProp: string | null;
  collection: boolean;
  contentLength: string | undefined;
}

/** One response being read. */
interface ResponseState {
  /**
   * The response's text so far, in pieces joined once at its end: one flat string per kept response (a
   * string grown by `+=` stays a tree of pieces, and thousands of those held until the merge cost more in
   * garbage collection than the parse).
   */
  readonly parts: string[];
  /** Length of the text in `parts` (UTF-16 code units). */
  len: number;
  /** Offset just before the `>` of the response start tag, where inherited declarations go. */
  readonly declAt: number;
  href: string | undefined;
  hrefAt: number;
  /** Prefixes used inside the response but declared outside it, with their namespace. */
  readonly inherited: Map<string, string>;
  isCollection: boolean;
  contentLength: string | undefined;
  propAt: number;
  dAtProp: string | null;
  propstat: PropstatState | null;
}

/**
 * Incremental multistatus reader: {@link write} the body's chunks, then {@link end}. Each complete
 * DAV:response is handed to `onResponse` as soon as its end tag is read. Non-response children of the root
 * (DAV:responsedescription, DAV:sync-token…) are skipped.
 *
 * Errors (thrown by `write` and `end`): `DAVGATE_BAD_XML` for malformed XML, a DOCTYPE, an unbound prefix,
 * nesting deeper than `maxDepth`, a root other than DAV:multistatus, or a DAV:response without DAV:href;
 * `DAVGATE_PAYLOAD_TOO_LARGE` past `maxBytes`. After an error the reader is unusable.
 */
export class MultistatusReader {
  readonly #opts: MultistatusReaderOptions;
  readonly #omit: ReadonlySet<string>;
  readonly #maxDepth: number;
  readonly #parser = newSafeParser(false);
  readonly #decoder = new StringDecoder('utf8');
  readonly #bindings = new Map<string, Binding[]>();
  /** Prefixes declared by each open element (index = depth), or null. */
  readonly #declared: (string[] | null)[] = [];
  #bytes = 0;
  #depth = 0;
  #first = true;
  #resp: ResponseState | null = null;
  /** Depth of the element whose subtree is left out, 0 when none. */
  #skipDepth = 0;
  /** Depth of the DAV:href being read, 0 when none; #firstHref when it is the response's own. */
  #hrefDepth = 0;
  #firstHref = false;
  #hrefText = '';
  /** What the current text belongs to besides the output: 'status', 'length' or none. */
  #capture: 'status' | 'length' | null = null;
  #captured = '';
  /** Depth of the DAV:resourcetype being read, 0 when none. */
  #resourcetypeDepth = 0;
  /** The local name of the last name {@link #resolve}d. */
  #local = '';

  /** @param opts - see {@link MultistatusReaderOptions} */
  constructor(opts: MultistatusReaderOptions) {
    this.#opts = opts;
    this.#omit = opts.omitDavProps ?? new Set();
    this.#maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    const p = this.#parser;
    p.on('opentag', (tag) => this.#open(tag.name, tag.attributes, tag.isSelfClosing));
    p.on('closetag', (tag) => this.#close(tag.name, tag.isSelfClosing));
    p.on('text', (t) => this.#text(t));
    p.on('cdata', (t) => this.#text(t));
  }

  /**
   * Feeds a chunk of the body. A UTF-8 sequence split across chunks is kept whole.
   * @throws DavgateError as described on the class
   */
  write(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.#bytes += buf.length;
    if (this.#opts.maxBytes !== undefined && this.#bytes > this.#opts.maxBytes) {
      throw Errors.PAYLOAD_TOO_LARGE(`XML body above ${this.#opts.maxBytes} bytes`);
    }
    let s = this.#decoder.write(buf);
    if (this.#first && s !== '') {
      this.#first = false;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1); // a byte order mark is not content
    }
    this.#feed(s);
  }

  /**
   * Ends the body: checks it was a complete document (saxes refuses one without a root element).
   * @throws DavgateError as described on the class
   */
  end(): void {
    try {
      const rest = this.#decoder.end();
      if (rest !== '') this.#parser.write(rest);
      this.#parser.close();
    } catch (err) {
      throw asXmlError(err);
    }
  }

  #feed(s: string): void {
    if (s === '') return;
    try {
      this.#parser.write(s);
    } catch (err) {
      throw asXmlError(err);
    }
  }

  /** The namespace of `prefix` in scope, or undefined when unbound (`''` for the default: none). */
  #lookup(prefix: string): Binding | undefined {
    const stack = this.#bindings.get(prefix);
    return stack === undefined ? undefined : stack[stack.length - 1];
  }

  /**
   * Resolves a qualified name's prefix and returns its namespace; its local name is left in {@link #local}
   * (no object per element). Notes a prefix inherited from outside the current response.
   */
  #resolve(name: string, isAttr: boolean): string {
    const colon = name.indexOf(':');
    if (colon === -1) {
      this.#local = name;
      if (isAttr) return ''; // an unprefixed attribute is in no namespace
      const b = this.#lookup('');
      if (b !== undefined && b.uri !== '') this.#inherit('', b);
      return b?.uri ?? '';
    }
    const prefix = name.slice(0, colon);
    const local = name.slice(colon + 1);
    if (prefix === '' || local === '' || local.includes(':')) throw Errors.BAD_XML(`malformed name ${name}`);
    this.#local = local;
    if (prefix === 'xml') return XML_NS;
    const b = this.#lookup(prefix);
    if (b === undefined || prefix === 'xmlns') throw Errors.BAD_XML(`unbound namespace prefix ${prefix}`);
    this.#inherit(prefix, b);
    return b.uri;
  }

  #inherit(prefix: string, b: Binding): void {
    const r = this.#resp;
    // Declared on the response or inside it: written there already. `D` = DAV: is what MULTISTATUS_OPEN binds.
    if (r === null || b.depth >= RESPONSE_DEPTH || this.#skipDepth !== 0) return;
    if (prefix === 'D' && b.uri === DAV_NS) return;
    r.inherited.set(prefix, b.uri);
  }

  #declare(attrs: Record<string, string>): void {
    let declared: string[] | null = null;
    for (const name in attrs) {
      if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
      const prefix = name === 'xmlns' ? '' : name.slice(6);
      const uri = attrs[name]!;
      // Namespaces in XML 1.0 §3: no empty prefixed binding, `xml` and `xmlns` are reserved.
      if (prefix !== '' && uri === '') throw Errors.BAD_XML(`prefix ${prefix} bound to the empty namespace`);
      if (prefix === 'xmlns' || uri === XMLNS_NS || (prefix === 'xml') !== (uri === XML_NS)) {
        throw Errors.BAD_XML(`reserved namespace binding ${name}="${uri}"`);
      }
      let stack = this.#bindings.get(prefix);
      if (stack === undefined) this.#bindings.set(prefix, (stack = []));
      stack.push({ uri, depth: this.#depth });
      (declared ??= []).push(prefix);
    }
    this.#declared[this.#depth] = declared;
  }

  #startTag(name: string, attrs: Record<string, string>, selfClosing: boolean): string {
    let s = '<' + name;
    for (const a in attrs) {
      if (a.includes(':') && !a.startsWith('xmlns:')) this.#resolve(a, true);
      s += ` ${a}="${escapeAttr(attrs[a]!)}"`;
    }
    return s + (selfClosing ? '/>' : '>');
  }

  #open(name: string, attrs: Record<string, string>, selfClosing: boolean): void {
    const depth = ++this.#depth;
    if (depth > this.#maxDepth) throw Errors.BAD_XML(`elements nested deeper than ${this.#maxDepth}`);
    this.#declare(attrs);
    if (this.#skipDepth !== 0) {
      this.#resolve(name, false); // still well-formed, though left out
      return;
    }
    const r = this.#resp;
    if (r === null) {
      const ns = this.#resolve(name, false);
      const local = this.#local;
      if (depth === 1) {
        if (ns !== DAV_NS || local !== 'multistatus') throw Errors.BAD_XML(`root is {${ns}}${local}, expected {DAV:}multistatus`);
      } else if (depth === RESPONSE_DEPTH && ns === DAV_NS && local === 'response') {
        const resp: ResponseState = {
          parts: [],
          len: 0,
          declAt: 0,
          href: undefined,
          hrefAt: -1,
          inherited: new Map(),
          isCollection: false,
          contentLength: undefined,
          propAt: -1,
          dAtProp: null,
          propstat: null,
        };
        this.#resp = resp;
        this.#resolve(name, false); // now inside: note the prefix the response itself inherits
        const tag = this.#startTag(name, attrs, false);
        emit(resp, tag);
        (resp as { declAt: number }).declAt = tag.length - 1;
      } else {
        this.#skipDepth = depth; // another child of the root, or content outside any response
      }
      return;
    }
    const dav = this.#resolve(name, false) === DAV_NS;
    const local = this.#local;
    if (this.#hrefDepth !== 0) return; // markup nested inside an href is dropped, its text kept
    const ps = r.propstat;
    if (dav && local === 'href') {
      this.#hrefDepth = depth;
      this.#hrefText = '';
      this.#firstHref = depth === CHILD_DEPTH && r.href === undefined;
      emit(r, this.#startTag(name, attrs, false));
      if (this.#firstHref) r.hrefAt = r.len;
      return;
    }
    if (depth === CHILD_DEPTH && dav && local === 'propstat') {
      r.propstat = {
        start: r.len,
        startPart: r.parts.length,
        hasProp: false,
        kept: 0,
        status: '',
        propEnd: -1,
        dAtProp: null,
        collection: false,
        contentLength: undefined,
      };
    } else if (ps !== null && depth === PROP_DEPTH && dav && local === 'prop') {
      ps.hasProp = true;
      // Always with an end tag: properties may be added before it.
      emit(r, this.#startTag(name, attrs, false));
      return;
    } else if (ps !== null && depth === PROP_DEPTH && dav && local === 'status') {
      this.#capture = 'status';
      this.#captured = '';
    } else if (ps !== null && ps.hasProp && ps.propEnd === -1 && depth === PROPERTY_DEPTH) {
      if (dav && this.#omit.has(local)) {
        this.#skipDepth = depth;
        return;
      }
      ps.kept++;
      if (dav && local === 'resourcetype') this.#resourcetypeDepth = depth;
      else if (dav && local === 'getcontentlength') {
        this.#capture = 'length';
        this.#captured = '';
      }
    } else if (ps !== null && this.#resourcetypeDepth !== 0 && depth === this.#resourcetypeDepth + 1 && dav && local === 'collection') {
      ps.collection = true;
    }
    emit(r, this.#startTag(name, attrs, selfClosing));
  }

  #close(name: string, selfClosing: boolean): void {
    const depth = this.#depth;
    try {
      if (this.#skipDepth !== 0) {
        if (depth === this.#skipDepth) this.#skipDepth = 0;
        return;
      }
      const r = this.#resp;
      if (r === null) return;
      if (this.#hrefDepth !== 0) {
        if (depth !== this.#hrefDepth) return;
        this.#hrefDepth = 0;
        if (this.#firstHref) r.href = this.#hrefText;
        else emit(r, escapeText(this.#opts.mapHref(this.#hrefText)));
        emit(r, `</${name}>`);
        return;
      }
      const ps = r.propstat;
      if (depth === RESPONSE_DEPTH) {
        this.#endResponse(r, name);
        return;
      }
      if (ps !== null && depth === PROP_DEPTH && ps.hasProp && ps.propEnd === -1 && this.#capture === null) {
        // The DAV:prop ends (a DAV:status ends with a capture going).
        ps.propEnd = r.len;
        const d = this.#lookup('D');
        ps.dAtProp = d !== undefined && d.depth >= RESPONSE_DEPTH ? d.uri : null;
        emit(r, `</${name}>`);
        return;
      }
      if (!selfClosing) emit(r, `</${name}>`);
      if (this.#capture !== null && (depth === PROP_DEPTH || depth === PROPERTY_DEPTH)) {
        if (this.#capture === 'status') ps!.status = this.#captured;
        else ps!.contentLength = this.#captured;
        this.#capture = null;
      } else if (depth === this.#resourcetypeDepth) {
        this.#resourcetypeDepth = 0;
      } else if (ps !== null && depth === CHILD_DEPTH) {
        this.#endPropstat(r, ps);
      }
    } finally {
      const declared = this.#declared[depth];
      if (declared) for (const p of declared) this.#bindings.get(p)!.pop();
      this.#declared[depth] = null;
      this.#depth--;
    }
  }

  #endPropstat(r: ResponseState, ps: PropstatState): void {
    r.propstat = null;
    // Nothing left once the omitted properties are gone (or nothing was there): the propstat says nothing.
    if (ps.hasProp && ps.kept === 0) {
      r.parts.length = ps.startPart;
      r.len = ps.start;
      return;
    }
    if (statusCodeOf(ps.status) !== 200) return;
    r.isCollection ||= ps.collection;
    r.contentLength ??= ps.contentLength;
    if (r.propAt === -1 && ps.propEnd !== -1) {
      r.propAt = ps.propEnd;
      r.dAtProp = ps.dAtProp;
    }
  }

  #endResponse(r: ResponseState, name: string): void {
    this.#resp = null;
    if (r.href === undefined) throw Errors.BAD_XML('DAV:response without DAV:href');
    const propstatAt = r.len;
    emit(r, `</${name}>`);
    let decls = '';
    for (const [prefix, uri] of r.inherited) decls += prefix === '' ? ` xmlns="${escapeAttr(uri)}"` : ` xmlns:${prefix}="${escapeAttr(uri)}"`;
    const shift = decls.length;
    // parts[0] is the response's start tag; declAt is inside it.
    if (shift !== 0) r.parts[0] = r.parts[0]!.slice(0, r.declAt) + decls + r.parts[0]!.slice(r.declAt);
    const xml = r.parts.join('');
    // At the prop, `D` means what the response declares there, else what it inherits, else DAV: (our root).
    const d = r.dAtProp ?? r.inherited.get('D') ?? DAV_NS;
    this.#opts.onResponse({
      href: r.href,
      isCollection: r.isCollection,
      contentLength: r.contentLength,
      xml,
      hrefAt: r.hrefAt + shift,
      propAt: r.propAt === -1 || d !== DAV_NS ? -1 : r.propAt + shift,
      propstatAt: propstatAt + shift,
    });
  }

  #text(t: string): void {
    const r = this.#resp;
    if (this.#skipDepth !== 0 || r === null) return;
    if (this.#hrefDepth !== 0) {
      this.#hrefText += t;
      return;
    }
    if (this.#capture !== null) this.#captured += t;
    else if (this.#inElementOnly(r) && isWhitespace(t)) return;
    emit(r, escapeText(t));
  }

  /**
   * Whether the innermost open element has element-only content (RFC 4918 §14: DAV:response, DAV:propstat,
   * DAV:prop), where whitespace between children is not content (XML 1.0 §2.10) and is left out.
   */
  #inElementOnly(r: ResponseState): boolean {
    const depth = this.#depth;
    const ps = r.propstat;
    return depth === RESPONSE_DEPTH || (ps !== null && (depth === CHILD_DEPTH || (depth === PROP_DEPTH && ps.hasProp && ps.propEnd === -1)));
  }
}

/** Appends `s` to a response's text. */
function emit(r: ResponseState, s: string): void {
  r.parts.push(s);
  r.len += s.length;
}

/** Whether `t` holds only XML white space (XML 1.0 §2.3 S: space, tab, CR, LF). */
function isWhitespace(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Reads a whole multistatus held in memory (Depth 0 answers, tests).
 *
 * @param text - the body
 * @param opts - as for {@link MultistatusReader}, without `onResponse`
 * @returns the responses in document order
 * @throws DavgateError as {@link MultistatusReader} does
 */
export function readMultistatusText(text: string, opts: Omit<MultistatusReaderOptions, 'onResponse'>): ResponseSlice[] {
  const out: ResponseSlice[] = [];
  const reader = new MultistatusReader({ ...opts, onResponse: (r) => out.push(r) });
  reader.write(text);
  reader.end();
  return out;
}

/**
 * One response of davgate's own multistatus: `slice` with `href` as its own href and `props` (property
 * elements written with the `D:` prefix for DAV:, e.g. `<D:lockdiscovery/>`) added to its 200 propstat, or in a
 * new propstat with status 200 when it has none.
 *
 * @param slice - from a {@link MultistatusReader}
 * @param href - the response's href in the gateway's namespace, unescaped (it is XML-escaped here)
 * @param props - `''` for none
 * @returns XML text for inside {@link MULTISTATUS_OPEN} … {@link MULTISTATUS_CLOSE}
 */
export function renderResponse(slice: ResponseSlice, href: string, props: string): string {
  const out: string[] = [];
  renderResponseInto(out, slice, href, props);
  return out.join('');
}

/**
 * {@link renderResponse}, its pieces pushed onto `out` (slices of the response's text, no copy), so a whole
 * listing is joined once ({@link multistatusBody}).
 */
export function renderResponseInto(out: string[], slice: ResponseSlice, href: string, props: string): void {
  const { xml, hrefAt } = slice;
  const h = escapeText(href);
  if (props === '') {
    out.push(xml.slice(0, hrefAt), h, xml.slice(hrefAt));
    return;
  }
  const [at, add] =
    slice.propAt !== -1
      ? [slice.propAt, props]
      : [slice.propstatAt, `<D:propstat xmlns:D="DAV:"><D:prop>${props}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`];
  // The href comes first in a response (RFC 4918 §14.24), but nothing breaks when a server wrote it later.
  if (hrefAt <= at) out.push(xml.slice(0, hrefAt), h, xml.slice(hrefAt, at), add, xml.slice(at));
  else out.push(xml.slice(0, at), add, xml.slice(at, hrefAt), h, xml.slice(hrefAt));
}

/**
 * A whole 207 body as UTF-8 bytes from the pieces `render` pushes for each item, in order: one join, one
 * encoding (a string body would be measured and encoded separately by the HTTP layer).
 *
 * @param items - what to render, in document order
 * @param render - pushes one response's pieces ({@link renderResponseInto})
 */
export function multistatusBody<T>(items: readonly T[], render: (out: string[], item: T) => void): Buffer {
  const out: string[] = [MULTISTATUS_OPEN];
  for (const item of items) render(out, item);
  out.push(MULTISTATUS_CLOSE);
  return Buffer.from(out.join(''), 'utf8');
}

/**
 * A whole 207 body (RFC 4918 §14.16) from rendered responses ({@link renderResponse}), in order.
 *
 * @returns `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">…</D:multistatus>`
 */
export function writeMultistatus(responses: readonly string[]): string {
  return MULTISTATUS_OPEN + responses.join('') + MULTISTATUS_CLOSE;
}
