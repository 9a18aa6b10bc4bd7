/**
 * Streaming rewrite of the DAV:href elements of an XML body (RFC 4918 §14.7 href), for upstream answers
 * that are passed through rather than merged (PROPFIND Depth 0, LOCK, PROPPATCH, multistatus of DELETE…).
 *
 * Each chunk is decoded (a `StringDecoder` keeps a UTF-8 character split across chunks whole), fed to saxes,
 * and the serialised XML for what saxes reported is pushed at once; only the text of the href being read is
 * held back until its end tag. Element and attribute names, including `xmlns` declarations, are written back
 * as the server wrote them, so namespaces are unchanged. Comments and processing instructions are dropped,
 * CDATA becomes escaped text, whitespace outside the root is dropped, and a
 * `<?xml version="…" encoding="utf-8"?>` declaration is written when the input had one.
 *
 * A DOCTYPE makes the stream fail with `DAVGATE_BAD_XML`, so entities are never expanded.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Errors } from '../errors.js';
import { asXmlError, DAV_NS, escapeAttr, escapeText, newSafeParser } from './xml.js';

/** Options of {@link createHrefRewriter}. */
export interface HrefRewriterOptions {
  /** Fail with `DAVGATE_PAYLOAD_TOO_LARGE` once more than this many input bytes arrived. Unset: no limit. */
  maxBytes?: number;
}

/** Encodings the rewriter accepts in an XML declaration: it always decodes UTF-8 (ASCII is a subset). */
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/**
 * Creates a Transform that rewrites every DAV:href text through `map` while streaming.
 *
 * @param map - upstream href text (XML-unescaped, untrimmed) to the new href text; a throw fails the stream
 * @param opts - input size limit
 * @returns a Transform from UTF-8 bytes (Buffers or strings) to UTF-8 XML text chunks. It errors with
 *   `DAVGATE_BAD_XML` for malformed XML, a DOCTYPE or a non-UTF-8 declared encoding, and with
 *   `DAVGATE_PAYLOAD_TOO_LARGE` above `maxBytes`.
 */
export function createHrefRewriter(map: (href: string) => string, opts: HrefRewriterOptions = {}): Transform {
  const decoder = new StringDecoder('utf8');
  const parser = newSafeParser();
  let out: string[] = [];
  let bytes = 0;
  let depth = 0;
  /** Depth of the DAV:href being read (its own depth), or 0 when outside any href. */
  let hrefDepth = 0;
  let hrefText = '';
  let failed = false;

  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined && !UTF8_NAMES.has(decl.encoding.toLowerCase())) {
      throw Errors.BAD_XML(`unsupported encoding ${decl.encoding}`);
    }
    out.push(`<?xml version="${escapeAttr(decl.version ?? '1.0')}" encoding="utf-8"?>`);
  });
  parser.on('opentag', (tag) => {
    depth++;
    if (hrefDepth !== 0) return; // markup nested inside an href is dropped, its text kept
    if (tag.uri === DAV_NS && tag.local === 'href') {
      hrefDepth = depth;
      hrefText = '';
    }
    let s = '<' + tag.name;
    for (const a of Object.values(tag.attributes)) s += ` ${a.name}="${escapeAttr(a.value)}"`;
    // An href is always written with its end tag, because its new text is only known then.
    s += tag.isSelfClosing && hrefDepth === 0 ? '/>' : '>';
    out.push(s);
  });
  parser.on('closetag', (tag) => {
    if (hrefDepth !== 0) {
      if (depth === hrefDepth) {
        out.push(escapeText(map(hrefText)), '</', tag.name, '>');
        hrefDepth = 0;
        hrefText = '';
      }
    } else if (!tag.isSelfClosing) {
      out.push('</', tag.name, '>');
    }
    depth--;
  });
  const onText = (t: string): void => {
    if (depth === 0) return;
    if (hrefDepth !== 0) hrefText += t;
    else out.push(escapeText(t));
  };
  parser.on('text', onText);
  parser.on('cdata', onText);

  const flushOut = (stream: Transform): void => {
    if (out.length === 0) return;
    const s = out.join('');
    out = [];
    if (s !== '') stream.push(s, 'utf8');
  };

  return new Transform({
    transform(this: Transform, chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
      if (failed) return cb();
      try {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        bytes += buf.length;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
          throw Errors.PAYLOAD_TOO_LARGE(`XML body above ${opts.maxBytes} bytes`);
        }
        const s = decoder.write(buf);
        if (s !== '') parser.write(s);
        flushOut(this);
        cb();
      } catch (err) {
        failed = true;
        cb(asXmlError(err));
      }
    },
    flush(this: Transform, cb: TransformCallback): void {
      if (failed) return cb();
      try {
        const rest = decoder.end();
        if (rest !== '') parser.write(rest);
        parser.close();
        flushOut(this);
        cb();
      } catch (err) {
        failed = true;
        cb(asXmlError(err));
      }
    },
  });
}
