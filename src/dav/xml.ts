/**
 * A tiny namespace-aware XML element tree for WebDAV bodies (RFC 4918 §14, §17), built on saxes.
 *
 * Security: a DOCTYPE is refused outright, so no entity beyond the five predefined ones and character
 * references is ever expanded (no billion laughs, no external entities). Comments and processing instructions
 * are dropped; CDATA becomes ordinary text.
 *
 * Serialisation hoists every namespace declaration to the root element, so any subtree serialises to a
 * self-contained document: `DAV:` is always bound to `D`, other namespaces keep the prefix they were parsed with
 * when it is free (RFC 4918 §4.3: servers SHOULD preserve prefixes of dead property values), else get `ns0`,
 * `ns1`… The default namespace is never bound, so elements in no namespace are simply unprefixed and never need
 * `xmlns=""`.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { DavgateError, Errors } from '../errors.js';

/** The WebDAV namespace name (RFC 4918 §21). */
export const DAV_NS = 'DAV:';
/** The namespace bound to the reserved `xml` prefix (Namespaces in XML 1.0 §3). */
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
/** The namespace of `xmlns` declarations; such attributes never appear in an {@link XmlElement}. */
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** Default nesting limit of {@link parseXml}: deep enough for any WebDAV body, shallow enough for recursion. */
export const DEFAULT_MAX_DEPTH = 256;

/** One attribute. `ns` is `''` for an unprefixed attribute (which is in no namespace). */
export interface XmlAttr {
  /** Namespace name, `''` for none. */
  ns: string;
  /** Local name. */
  local: string;
  /** The attribute value, entity references already decoded. */
  value: string;
  /** The prefix it was written with, a hint for serialisation only. */
  prefix?: string;
}

/** One element. `ns` is `''` for an element in no namespace. Text children are decoded strings. */
export interface XmlElement {
  /** Namespace name, e.g. `DAV:`; `''` for none. */
  ns: string;
  /** Local name, e.g. `href`. */
  local: string;
  /** Attributes other than namespace declarations, in document order. */
  attrs: XmlAttr[];
  /** Child elements and text, in document order; adjacent text is merged. */
  children: (XmlElement | string)[];
  /** The prefix it was written with (`''` when unprefixed), a hint for serialisation only. */
  prefix?: string;
}

/** Options of {@link parseXml}. */
export interface ParseXmlOptions {
  /** Refuse a body larger than this many UTF-8 bytes (`DAVGATE_PAYLOAD_TOO_LARGE`). Unset: no limit. */
  maxBytes?: number;
  /** Refuse elements nested deeper than this (`DAVGATE_BAD_XML`). Default {@link DEFAULT_MAX_DEPTH}. */
  maxDepth?: number;
}

/**
 * Creates a saxes parser that refuses a DOCTYPE. Shared with the streaming rewriter and the multistatus reader.
 *
 * @param xmlns - false for a parser that leaves namespaces to the caller (saxes is several times faster
 *   without its own namespace bookkeeping; `dav/multistatus-stream.ts` resolves prefixes itself)
 * @returns a parser without an error handler, so saxes throws on malformed input; namespace-aware unless
 *   `xmlns` is false
 */
export function newSafeParser(): SaxesParser<{ xmlns: true; position: false }>;
export function newSafeParser(xmlns: false): SaxesParser<{ xmlns: false; position: false }>;
export function newSafeParser(xmlns = true): SaxesParser<{ xmlns: boolean; position: false }> {
  const parser = new SaxesParser({ xmlns, position: false });
  // saxes never expands entities declared in a DTD, but refusing the DOCTYPE makes that independent of the
  // library version and also refuses external DTD references.
  parser.on('doctype', () => {
    throw Errors.BAD_XML('DOCTYPE not allowed');
  });
  return parser;
}

/** Wraps a saxes error (a plain Error) as `DAVGATE_BAD_XML`; our own errors pass through. */
export function asXmlError(err: unknown): DavgateError {
  if (err instanceof DavgateError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return Errors.BAD_XML(msg, { cause: err });
}

/** Converts saxes attributes to {@link XmlAttr}s, dropping namespace declarations. */
export function attrsOf(tag: SaxesTagNS): XmlAttr[] {
  const out: XmlAttr[] = [];
  for (const a of Object.values(tag.attributes)) {
    if (a.uri === XMLNS_NS || a.name === 'xmlns' || a.prefix === 'xmlns') continue;
    const attr: XmlAttr = { ns: a.uri, local: a.local, value: a.value };
    if (a.prefix !== '') attr.prefix = a.prefix;
    out.push(attr);
  }
  return out;
}

/**
 * Parses an XML document into an element tree.
 *
 * @param text - the whole body, already decoded to a string
 * @param opts - size and depth limits
 * @returns the root element
 * @throws DavgateError `DAVGATE_BAD_XML` (400) for malformed XML, an unbound prefix, a DOCTYPE, an undeclared
 *   entity or nesting deeper than `maxDepth`; `DAVGATE_PAYLOAD_TOO_LARGE` (413) above `maxBytes`
 */
export function parseXml(text: string, opts: ParseXmlOptions = {}): XmlElement {
  if (opts.maxBytes !== undefined && Buffer.byteLength(text, 'utf8') > opts.maxBytes) {
    throw Errors.PAYLOAD_TOO_LARGE(`XML body above ${opts.maxBytes} bytes`);
  }
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const parser = newSafeParser();
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const addText = (s: string): void => {
    const top = stack[stack.length - 1];
    if (top === undefined || s === '') return; // whitespace outside the root
    const last = top.children[top.children.length - 1];
    if (typeof last === 'string') top.children[top.children.length - 1] = last + s;
    else top.children.push(s);
  };

  parser.on('opentag', (tag) => {
    if (stack.length >= maxDepth) throw Errors.BAD_XML(`elements nested deeper than ${maxDepth}`);
    const el: XmlElement = { ns: tag.uri, local: tag.local, attrs: attrsOf(tag), children: [], prefix: tag.prefix };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', addText);
  parser.on('cdata', addText);

  try {
    parser.write(text).close();
  } catch (err) {
    throw asXmlError(err);
  }
  if (!root) throw Errors.BAD_XML('no root element');
  return root;
}

/** The first child element of `el` with namespace `ns` and local name `local`, or `undefined`. */
export function findChild(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  for (const c of el.children) if (typeof c !== 'string' && c.ns === ns && c.local === local) return c;
  return undefined;
}

/** Every child element of `el` with namespace `ns` and local name `local`, in document order. */
export function findChildren(el: XmlElement, ns: string, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) if (typeof c !== 'string' && c.ns === ns && c.local === local) out.push(c);
  return out;
}

/** The concatenated text of `el` and all its descendants (like DOM `textContent`), not trimmed. */
export function textOf(el: XmlElement): string {
  let s = '';
  for (const c of el.children) s += typeof c === 'string' ? c : textOf(c);
  return s;
}

const TEXT_SPECIAL = /[&<>\r]/;
const TEXT_SPECIAL_G = /[&<>\r]/g;
const ATTR_SPECIAL = /[&<>"\t\n\r]/;
const ATTR_SPECIAL_G = /[&<>"\t\n\r]/g;

/**
 * Escapes character data (XML 1.0 §2.4). `>` is escaped so `]]>` can never appear; `\r` as a character
 * reference so it survives line-end normalisation.
 */
export function escapeText(s: string): string {
  // Most text (dates, sizes, ETags, names) needs nothing: a test is far cheaper than a replace with a callback.
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(TEXT_SPECIAL_G, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/**
 * Escapes a double-quoted attribute value (XML 1.0 §3.3.3): tab, newline and carriage return become character
 * references so attribute-value normalisation does not turn them into spaces.
 */
export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(ATTR_SPECIAL_G, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case '\t':
        return '&#9;';
      case '\n':
        return '&#10;';
      default:
        return '&#13;';
    }
  });
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;

/** Assigns one prefix per namespace for a whole document. */
class PrefixMap {
  readonly byNs = new Map<string, string>();
  private readonly used = new Set<string>(['D', 'xml', 'xmlns']);
  private next = 0;

  prefixFor(ns: string, hint: string | undefined): string {
    if (ns === '') return '';
    if (ns === DAV_NS) return this.bind(ns, 'D');
    if (ns === XML_NS) return 'xml';
    const known = this.byNs.get(ns);
    if (known !== undefined) return known;
    let p = hint;
    if (p === undefined || p === '' || this.used.has(p) || !NCNAME.test(p) || /^xml/i.test(p)) {
      do p = `ns${this.next++}`;
      while (this.used.has(p));
    }
    return this.bind(ns, p);
  }

  private bind(ns: string, p: string): string {
    if (!this.byNs.has(ns)) {
      this.byNs.set(ns, p);
      this.used.add(p);
    }
    return p;
  }
}

function collectPrefixes(el: XmlElement, map: PrefixMap): void {
  map.prefixFor(el.ns, el.prefix);
  for (const a of el.attrs) if (a.ns !== '' && a.ns !== XMLNS_NS) map.prefixFor(a.ns, a.prefix);
  for (const c of el.children) if (typeof c !== 'string') collectPrefixes(c, map);
}

function qname(prefix: string, local: string): string {
  return prefix === '' ? local : `${prefix}:${local}`;
}

function writeElement(el: XmlElement, map: PrefixMap, out: string[], decls: string): void {
  const name = qname(map.prefixFor(el.ns, el.prefix), el.local);
  out.push('<', name, decls);
  for (const a of el.attrs) {
    if (a.ns === XMLNS_NS) continue;
    out.push(' ', qname(map.prefixFor(a.ns, a.prefix), a.local), '="', escapeAttr(a.value), '"');
  }
  if (el.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const c of el.children) {
    if (typeof c === 'string') out.push(escapeText(c));
    else writeElement(c, map, out, '');
  }
  out.push('</', name, '>');
}

/** Options of {@link serializeXml}. */
export interface SerializeXmlOptions {
  /** Prepend `<?xml version="1.0" encoding="utf-8"?>`. Default false. */
  declaration?: boolean;
}

/**
 * Serialises an element tree to a self-contained XML string: every namespace used anywhere in the tree is
 * declared on the root element (`xmlns:D="DAV:"` first, then the others in order of first use).
 *
 * @param el - root element; not modified
 * @param opts - whether to prepend the XML declaration
 * @returns the XML text (UTF-16 string; encode as UTF-8 to match the declaration)
 */
export function serializeXml(el: XmlElement, opts: SerializeXmlOptions = {}): string {
  const map = new PrefixMap();
  collectPrefixes(el, map);
  const decls = [...map.byNs.entries()]
    .sort(([a], [b]) => (a === DAV_NS ? -1 : b === DAV_NS ? 1 : 0))
    .map(([ns, p]) => ` xmlns:${p}="${escapeAttr(ns)}"`)
    .join('');
  const out: string[] = opts.declaration ? ['<?xml version="1.0" encoding="utf-8"?>'] : [];
  writeElement(el, map, out, decls);
  return out.join('');
}

/**
 * Builds an element (a convenience for callers that assemble bodies).
 *
 * @param ns - namespace name, `''` for none
 * @param local - local name
 * @param children - child elements and text
 * @param attrs - attributes
 */
export function xmlElement(
  ns: string,
  local: string,
  children: (XmlElement | string)[] = [],
  attrs: XmlAttr[] = [],
): XmlElement {
  return { ns, local, attrs, children };
}
