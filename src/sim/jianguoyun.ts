/**
 * A local simulator of ONE 坚果云 (Jianguoyun / Nutstore) WebDAV account, for `davgate sim jianguoyun` and for
 * tests (issue 4, part 1). It reproduces every statement of `jianguoyun.md` "Statements a local simulator of one
 * Jianguoyun account should reproduce" (numbered 1–14 below as "statement N"), on plain `node:http` so that
 * status lines and headers are exactly what we write.
 *
 * Order of checks for every request (G: the vendor's order is not documented; this one matches a rate limiter
 * in front of an application):
 *   1. counted (every request, statement 1) → 2. throttled? 503 BlockedTemporarily → 3. added latency →
 *   4. Basic auth, else 401 → 5. path parsed (bad names 400) → 6. the method's own checks.
 *
 * Decisions on points jianguoyun.md marks G or leaves open are written next to the code that makes them, tagged
 * "[G]"; the report of issue 4 lists them all.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { DAV_NS, parseXml, type XmlElement } from '../dav/xml.js';
import { SlidingWindowBudget } from './budget.js';
import {
  BLOCKED_TEMPORARILY_BODY,
  NGINX_413_BODY,
  XML_CONTENT_TYPE,
  duplicateNameMessage,
  encodeSegment,
  errorBody,
  hrefOf,
  lockBody,
  multistatusBody,
  proppatchBody,
  type PropValue,
  type ResponseEntry,
  type SimException,
} from './jianguoyun-xml.js';
import { DirStore, MemoryStore, type SimStore, type StoreEntry } from './store.js';

/** Requests per window on a free plan (jianguoyun.md §1). */
export const FREE_BUDGET = 600;
/** Requests per window on a paid plan (jianguoyun.md §1). */
export const PAID_BUDGET = 1500;
/** Length of the budget window (jianguoyun.md §1: "per 30 min"). */
export const DEFAULT_WINDOW_MS = 30 * 60 * 1000;
/** Entries per PROPFIND page (jianguoyun.md §5: "at most 750 entries"). */
export const DEFAULT_PAGE_SIZE = 750;
/** Single-file cap (jianguoyun.md §3: "500 MB"; [G] read as MiB, the larger reading). */
export const DEFAULT_MAX_FILE_BYTES = 500 * 1024 * 1024;
/** Largest PROPFIND body (jianguoyun.md §4 "PROPFIND body: ≤ 32 KiB, else 400"). */
export const MAX_PROPFIND_BODY = 32 * 1024;
/** The default sandbox of a new account (jianguoyun.md §5: "the default is 我的坚果云"). */
export const DEFAULT_SANDBOX = '我的坚果云';
/** The fixed `Allow` list of OPTIONS, HEAD and PROPPATCH missing (jianguoyun.md §4 OPTIONS row). */
export const ALLOW = 'DELETE, GET, LOCK, UNLOCK, MKCOL, MOVE, OPTIONS, PROPFIND, PUT, COPY';
/** `WWW-Authenticate` of a 401 (jianguoyun.md §6). */
export const WWW_AUTHENTICATE = 'Basic realm="nutstore"';
/** Characters refused in names (jianguoyun.md §5 "Forbidden characters"). */
export const FORBIDDEN_NAME_CHARS = /[:*?"<>|]/;

/** Added latency: a fixed number of ms, or uniform in `[min, max]` ms. Real delays (statement-independent knob). */
export type LatencySpec = number | { readonly min: number; readonly max: number };

/** Options of {@link startJianguoyunSim}. Every one has a default. */
export interface JianguoyunSimOptions {
  /** Folder holding the account's files (`/dav/<sandbox>/…` is `<dataDir>/<sandbox>/…`); default: memory. */
  dataDir?: string;
  /** Listen address; default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Basic-auth user (the account email, jianguoyun.md §6); default `sim@example.com`. */
  username?: string;
  /** The app password (jianguoyun.md §6); default random. */
  password?: string;
  /** Default budget by plan (jianguoyun.md §1): `free` 600, `paid` 1500 per window; default `free`. */
  plan?: 'free' | 'paid';
  /** Requests per window (jianguoyun.md §1); overrides `plan`. Tests scale it down, e.g. 60 per 10 s. */
  budget?: number;
  /** Window length in ms (jianguoyun.md §1); default 30 min. */
  windowMs?: number;
  /**
   * Whether refused (503) requests count against the budget too; default true. jianguoyun.md statement 1 counts
   * "failed requests" and §1 reports that "a 1-minute retry keeps getting refused": hammering a blocked account
   * keeps it blocked. [G]
   */
  countThrottled?: boolean;
  /**
   * Requests in flight (arrived, answer not finished) above which the account answers the same 503
   * BlockedTemporarily (jianguoyun.md §2: overload "shows up as the same 503"); default unlimited.
   */
  maxInFlight?: number;
  /** Added latency per request (jianguoyun.md §7 has no numbers); default none. */
  latencyMs?: LatencySpec;
  /** Single-file cap; a larger PUT gets 413 (jianguoyun.md §3); default 500 MiB. */
  maxFileBytes?: number;
  /** Entries per PROPFIND page, the folder's own entry included (jianguoyun.md §5); default 750, minimum 2. */
  pageSize?: number;
  /** Clock for the budget window and modification times; default `Date.now`. Tests mock it instead of sleeping. */
  now?: () => number;
  /** Sandboxes created at start if missing (jianguoyun.md §5); default `['我的坚果云']`. */
  sandboxes?: readonly string[];
  /**
   * How ETags are written (jianguoyun.md §4 "ETag format": a capture shows a bare token, DAV_API a quoted one);
   * default `bare`. If-Match / If-None-Match compare against exactly this text.
   */
  etagStyle?: 'bare' | 'quoted';
  /**
   * After this many consecutive wrong credentials the account is locked and answers 401 even to the right
   * password (jianguoyun.md §6, statement 11 "optional"); default 0 = never.
   */
  lockAfterFailures?: number;
}

/** Live counters of one simulated account (issue 4: tests assert "no BlockedTemporarily reached the account"). */
export interface JianguoyunSimCounters {
  /** Every request received, throttled and failed ones included (jianguoyun.md statement 1). */
  readonly requests: number;
  /** Requests by method (upper case). */
  readonly byMethod: Readonly<Record<string, number>>;
  /** 503 BlockedTemporarily answers sent, for any reason (jianguoyun.md §1). */
  readonly throttled: number;
  /** Of those, refused because the budget was spent (jianguoyun.md §1). */
  readonly throttledBudget: number;
  /** Of those, refused because of `maxInFlight` (jianguoyun.md §2). */
  readonly throttledInFlight: number;
  /** 401 answers (jianguoyun.md §6). */
  readonly unauthorized: number;
  /** Requests counted in the budget window ending now (jianguoyun.md §1). */
  readonly windowUsed: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  /** The most requests ever in flight at once. */
  readonly maxInFlightSeen: number;
}

/** A running simulated account. */
export interface JianguoyunSim {
  /** Base URL, `http://127.0.0.1:PORT/dav/` (jianguoyun.md: base path `/dav/`). */
  readonly url: string;
  /** `http://127.0.0.1:PORT`, the origin used in `Link` headers (jianguoyun.md §5). */
  readonly origin: string;
  /** Basic-auth user. */
  readonly username: string;
  /** Basic-auth password. */
  readonly password: string;
  /** The folder backing the account, or undefined for memory. */
  readonly dataDir: string | undefined;
  /** Live counters; read {@link JianguoyunSim.snapshot} for a plain copy. */
  readonly counters: JianguoyunSimCounters;
  /** A plain-object copy of {@link JianguoyunSim.counters} (for `t.same`). */
  snapshot(): JianguoyunSimCounters;
  /** Closes the listener and every connection. Idempotent. */
  stop(): Promise<void>;
}

class Counters implements JianguoyunSimCounters {
  requests = 0;
  byMethod: Record<string, number> = {};
  throttledBudget = 0;
  throttledInFlight = 0;
  unauthorized = 0;
  inFlight = 0;
  maxInFlightSeen = 0;

  constructor(
    private readonly budget: SlidingWindowBudget,
    private readonly now: () => number,
  ) {}

  get throttled(): number {
    return this.throttledBudget + this.throttledInFlight;
  }

  get windowUsed(): number {
    return this.budget.used(this.now());
  }

  snapshot(): JianguoyunSimCounters {
    return {
      requests: this.requests,
      byMethod: { ...this.byMethod },
      throttled: this.throttled,
      throttledBudget: this.throttledBudget,
      throttledInFlight: this.throttledInFlight,
      unauthorized: this.unauthorized,
      windowUsed: this.windowUsed,
      inFlight: this.inFlight,
      maxInFlightSeen: this.maxInFlightSeen,
    };
  }
}

/** An option that fails validation; the message names the option (STYLE: options validated up front). */
export class SimOptionError extends Error {
  override readonly name = 'SimOptionError';
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) throw new SimOptionError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

interface Resolved {
  username: string;
  password: string;
  budget: number;
  windowMs: number;
  countThrottled: boolean;
  maxInFlight: number;
  latency: { min: number; max: number };
  maxFileBytes: number;
  pageSize: number;
  now: () => number;
  sandboxes: readonly string[];
  etagStyle: 'bare' | 'quoted';
  lockAfterFailures: number;
}

function resolveOptions(o: JianguoyunSimOptions): Resolved {
  const plan = o.plan ?? 'free';
  if (plan !== 'free' && plan !== 'paid') throw new SimOptionError(`plan must be free or paid, got ${String(plan)}`);
  let latency = { min: 0, max: 0 };
  if (typeof o.latencyMs === 'number') latency = { min: o.latencyMs, max: o.latencyMs };
  else if (o.latencyMs !== undefined) latency = { min: o.latencyMs.min, max: o.latencyMs.max };
  if (!(latency.min >= 0 && latency.max >= latency.min && Number.isFinite(latency.max))) {
    throw new SimOptionError(`latencyMs must be a number >= 0 or {min, max} with 0 <= min <= max`);
  }
  const maxInFlight = o.maxInFlight === undefined ? Infinity : positiveInt('maxInFlight', o.maxInFlight, 0);
  const etagStyle = o.etagStyle ?? 'bare';
  if (etagStyle !== 'bare' && etagStyle !== 'quoted') throw new SimOptionError(`etagStyle must be bare or quoted`);
  const sandboxes = o.sandboxes ?? [DEFAULT_SANDBOX];
  for (const s of sandboxes) {
    if (s === '' || s.includes('/') || s === '.' || s === '..' || FORBIDDEN_NAME_CHARS.test(s)) {
      throw new SimOptionError(`sandboxes: ${JSON.stringify(s)} is not a valid folder name`);
    }
  }
  const username = o.username ?? 'sim@example.com';
  if (username === '' || username.includes(':')) throw new SimOptionError('username must be non-empty without ":"');
  return {
    username,
    password: o.password ?? randomBytes(12).toString('base64url'),
    budget: positiveInt('budget', o.budget, plan === 'paid' ? PAID_BUDGET : FREE_BUDGET),
    windowMs: positiveInt('windowMs', o.windowMs, DEFAULT_WINDOW_MS),
    countThrottled: o.countThrottled ?? true,
    maxInFlight,
    latency,
    maxFileBytes: positiveInt('maxFileBytes', o.maxFileBytes, DEFAULT_MAX_FILE_BYTES, 0),
    pageSize: positiveInt('pageSize', o.pageSize, DEFAULT_PAGE_SIZE, 2),
    now: o.now ?? Date.now,
    sandboxes,
    etagStyle,
    lockAfterFailures: positiveInt('lockAfterFailures', o.lockAfterFailures, 0, 0),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Replies

/** Headers every answer carries (jianguoyun.md §4 "Transport": `server: nginx`). */
function baseHeaders(extra: Record<string, string | number> = {}): Record<string, string | number> {
  return { server: 'nginx', ...extra };
}

/** Unread request bodies above this are not drained after an early answer: the connection is closed instead. */
const DRAIN_LIMIT = 1024 * 1024;

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
  const h = baseHeaders(headers);
  const declared = Number(req.headers['content-length'] ?? 0);
  // Node drains an unread body after the answer so the connection can be reused; a large one is not worth it.
  if (!req.complete && declared > DRAIN_LIMIT) h['connection'] = 'close';
  const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  h['content-length'] = buf?.length ?? 0;
  res.writeHead(status, h);
  res.end(req.method === 'HEAD' ? undefined : buf);
}

/** An XML error answer with the vendor's error headers (jianguoyun.md §4 "Transport"). */
function sendError(req: IncomingMessage, res: ServerResponse, status: number, exception: SimException, message?: string): void {
  send(req, res, status, { 'content-type': XML_CONTENT_TYPE, pragma: 'no-cache', 'cache-control': 'no-cache' }, errorBody(exception, message));
}

/** A bodiless answer (403 on folders, 412, 411, 416 … where jianguoyun.md records no body). */
function sendEmpty(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  send(req, res, status, headers);
}

/** The throttle reply (jianguoyun.md §1, statement 1): 503, the quoted body, `text/xml; charset=UTF-8`, no Retry-After. */
function sendBlocked(req: IncomingMessage, res: ServerResponse): void {
  send(req, res, 503, { 'content-type': XML_CONTENT_TYPE, pragma: 'no-cache', 'cache-control': 'no-cache' }, BLOCKED_TEMPORARILY_BODY);
}

// ---------------------------------------------------------------------------------------------------------------
// Request targets

/** A parsed request target below `/dav/`. */
interface Target {
  /** Decoded segments below `/dav/`; `[]` is the root. */
  segments: string[];
  /** Whether the path ended in `/` (jianguoyun.md §5: stripped, but HEAD and PROPPATCH on `<folder>/` → 403). */
  trailingSlash: boolean;
  /** The `mk` page marker (jianguoyun.md §5). */
  marker: string | undefined;
}

type TargetResult = { ok: true; target: Target } | { ok: false; status: 400 | 404; exception: SimException };

/**
 * Parses a path (or absolute URL) into segments below `/dav/` (jianguoyun.md §5). `/dav` and `/dav/` are the root.
 * - `/dav//` → 404 and an empty segment elsewhere (`a//b`) → 400 (jianguoyun.md §5 "A double slash is rejected").
 * - A name with `: * ? " < > |` → 400 `IllegalArgument` (statement 13; the code is G in jianguoyun.md, chosen here).
 * - [G] `.`/`..` segments, `%2F`, `\`, NUL, control characters and bad percent-encoding → 400 `IllegalArgument`.
 * - [G] A path outside `/dav/` → 404 `ObjectNotFound`.
 */
function parseTarget(raw: string): TargetResult {
  let url = raw;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(url);
  if (abs) url = url.slice(abs[0].length) || '/';
  const q = url.indexOf('?');
  const pathPart = q < 0 ? url : url.slice(0, q);
  const marker = q < 0 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('mk') ?? undefined);
  if (pathPart === '/dav' || pathPart === '/dav/') return { ok: true, target: { segments: [], trailingSlash: true, marker } };
  if (!pathPart.startsWith('/dav/')) return { ok: false, status: 404, exception: 'ObjectNotFound' };
  let rest = pathPart.slice('/dav/'.length);
  if (rest.startsWith('/')) return rest === '/' ? { ok: false, status: 404, exception: 'ObjectNotFound' } : { ok: false, status: 400, exception: 'IllegalArgument' };
  const trailingSlash = rest.endsWith('/');
  if (trailingSlash) rest = rest.slice(0, -1);
  const segments: string[] = [];
  for (const enc of rest.split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(enc);
    } catch {
      return { ok: false, status: 400, exception: 'IllegalArgument' };
    }
    // eslint-disable-next-line no-control-regex
    if (s === '' || s === '.' || s === '..' || /[/\\\u0000-\u001f\u007f]/.test(s) || FORBIDDEN_NAME_CHARS.test(s)) {
      return { ok: false, status: 400, exception: 'IllegalArgument' };
    }
    segments.push(s);
  }
  return { ok: true, target: { segments, trailingSlash, marker } };
}

function isBelowOrSame(a: readonly string[], b: readonly string[]): boolean {
  return a.length >= b.length && b.every((s, i) => a[i] === s);
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** Content-Type by extension (jianguoyun.md §4 GET row: "Content-Type from the extension"). */
const MIME: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'application/javascript',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
};

function mimeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/**
 * Reads a small request body; `undefined` when it exceeds `max` bytes. A declared length above `max` is refused
 * unread (Node drains it after the answer); a chunked one is read to the end, keeping nothing past `max`.
 */
async function readSmallBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return undefined;
  const chunks: Buffer[] = [];
  let n = 0;
  // Never leave this loop early: breaking out of it would destroy the socket before the answer is written.
  for await (const c of req) {
    const b = c as Buffer;
    n += b.length;
    if (n <= max) chunks.push(b);
  }
  return n > max ? undefined : Buffer.concat(chunks);
}

/** Reads and discards the request body, so an answer never races an upload still arriving. */
function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

/** One request header as a string (repeated headers joined with `, `). */
function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---------------------------------------------------------------------------------------------------------------
// PROPFIND

/** Properties the vendor serves (jianguoyun.md §4 "PROPFIND props"), in allprop order. */
const SUPPORTED_PROPS = [
  'displayname',
  'resourcetype',
  'getcontentlength',
  'getlastmodified',
  'owner',
  'current-user-privilege-set',
  'getcontenttype',
  'getetag',
] as const;

/** What a PROPFIND body asks for (RFC 4918 §9.1). */
type PropRequest = { mode: 'allprop' } | { mode: 'propname' } | { mode: 'prop'; props: { ns: string; local: string }[] };

function parsePropfindBody(body: Buffer): PropRequest | undefined {
  const text = body.toString('utf8');
  if (text.trim() === '') return { mode: 'allprop' };
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch {
    return undefined;
  }
  if (root.ns !== DAV_NS || root.local !== 'propfind') return undefined;
  for (const c of root.children) {
    if (typeof c === 'string' || c.ns !== DAV_NS) continue;
    if (c.local === 'allprop') return { mode: 'allprop' };
    if (c.local === 'propname') return { mode: 'propname' };
    if (c.local === 'prop') {
      const props = c.children.filter((x): x is XmlElement => typeof x !== 'string').map((x) => ({ ns: x.ns, local: x.local }));
      return { mode: 'prop', props };
    }
  }
  return undefined;
}

/** Options of {@link startJianguoyunSim} resolved, plus the store and the origin. */
interface SimContext extends Resolved {
  store: SimStore;
  origin: string;
}

function etagText(ctx: SimContext, e: StoreEntry): string {
  return ctx.etagStyle === 'quoted' ? `"${e.etag}"` : e.etag;
}

/** Values of the supported props for one resource (jianguoyun.md §4 "PROPFIND props", statement 14). */
function propValues(ctx: SimContext, segments: readonly string[], e: StoreEntry): Map<string, string> {
  const isDir = e.kind === 'dir';
  const name = segments[segments.length - 1] ?? '';
  const priv = (p: string): string => `<d:privilege><d:${p}/></d:privilege>`;
  const esc = (s: string): string => s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
  return new Map<string, string>([
    ['displayname', esc(name)],
    ['resourcetype', isDir ? '<d:collection/>' : ''],
    // Folders report 0 (statement 14).
    ['getcontentlength', String(isDir ? 0 : e.size)],
    // RFC 1123 GMT (jianguoyun.md §4).
    ['getlastmodified', new Date(e.mtimeMs).toUTCString()],
    ['owner', esc(ctx.username)],
    // `/dav/` is read-only; sandboxes and below read/write/all (jianguoyun.md §5).
    ['current-user-privilege-set', segments.length === 0 ? priv('read') : priv('read') + priv('write') + priv('all')],
    ['getcontenttype', isDir ? 'httpd/unix-directory' : esc(mimeOf(name))],
    // Folders get an empty <d:getetag/> (statement 14).
    ['getetag', isDir ? '' : esc(etagText(ctx, e))],
  ]);
}

function responseEntry(ctx: SimContext, segments: readonly string[], e: StoreEntry, want: PropRequest): ResponseEntry {
  const href = hrefOf(segments);
  const values = propValues(ctx, segments, e);
  if (want.mode === 'propname') {
    return { href, found: SUPPORTED_PROPS.map((local) => ({ ns: DAV_NS, local, inner: '' })), missing: [] };
  }
  if (want.mode === 'allprop') {
    return { href, found: SUPPORTED_PROPS.map((local) => ({ ns: DAV_NS, local, inner: values.get(local)! })), missing: [] };
  }
  const asked = new Set(want.props.filter((p) => p.ns === DAV_NS).map((p) => p.local));
  // jianguoyun.md §4: getetag is "only emitted together with resourcetype/getcontenttype".
  const etagAllowed = asked.has('resourcetype') || asked.has('getcontenttype');
  const found: PropValue[] = [];
  const missing: PropValue[] = [];
  for (const p of want.props) {
    const v = p.ns === DAV_NS ? values.get(p.local) : undefined;
    // Quota props (RFC 4331) are not in the set, so they land here: statement 14.
    if (v === undefined || (p.local === 'getetag' && !etagAllowed)) missing.push({ ns: p.ns, local: p.local, inner: '' });
    else found.push({ ns: DAV_NS, local: p.local, inner: v });
  }
  return { href, found, missing };
}

// ---------------------------------------------------------------------------------------------------------------
// Range

type RangeResult = { kind: 'full' } | { kind: 'unsatisfiable' } | { kind: 'part'; start: number; end: number };

/**
 * The vendor's Range handling (jianguoyun.md §4 Range row, statement 8):
 * - one `bytes=a-b` or `bytes=a-` → 206;
 * - any range whose start or end lies AT or beyond EOF → 416 (no clamping), `bytes=a-` ending at EOF-1 is fine;
 * - `bytes=-N` is misread "as from the start": parsed as start 0, end N, i.e. `bytes=0-N` (the natural parser bug;
 *   jianguoyun.md does not say which bytes come back). [G]
 * - [G] several ranges, another unit or bad syntax → the Range header is ignored (200 full). `a > b` → 416.
 */
export function parseVendorRange(header: string, size: number): RangeResult {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  const start = m[1] === '' ? 0 : Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (start >= size || end >= size || start > end) return { kind: 'unsatisfiable' };
  return { kind: 'part', start, end };
}

// ---------------------------------------------------------------------------------------------------------------
// The handler

/** Answers 404 `ObjectNotFound` or, when the parent is missing too, 409 `AncestorsNotFound` (statement 7). */
async function sendMissing(ctx: SimContext, req: IncomingMessage, res: ServerResponse, segments: readonly string[]): Promise<void> {
  const parent = await ctx.store.stat(segments.slice(0, -1));
  if (parent?.kind === 'dir') sendError(req, res, 404, 'ObjectNotFound');
  else sendError(req, res, 409, 'AncestorsNotFound');
}

async function handlePropfind(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  // Statement 3: 0, 1 and infinity accepted; a missing Depth means infinity; infinity lists direct children only.
  const depthHeader = header(req, 'depth');
  const depth = depthHeader === undefined ? 'infinity' : depthHeader.trim().toLowerCase();
  if (depth !== '0' && depth !== '1' && depth !== 'infinity') return sendError(req, res, 400, 'IllegalArgument', 'Invalid depth');
  const body = await readSmallBody(req, MAX_PROPFIND_BODY);
  if (body === undefined) return sendError(req, res, 400, 'IllegalArgument', 'Request body too large');
  const want = parsePropfindBody(body);
  if (!want) return sendError(req, res, 400, 'IllegalArgument', 'Malformed PROPFIND body');
  const self = await ctx.store.stat(t.segments);
  if (!self) return sendMissing(ctx, req, res, t.segments);
  const entries: ResponseEntry[] = [responseEntry(ctx, t.segments, self, want)];
  const headers: Record<string, string> = { 'content-type': XML_CONTENT_TYPE };
  if (self.kind === 'dir' && depth !== '0') {
    // Statement 2: pages of at most pageSize entries. The folder's own entry opens EVERY page and counts towards
    // it (the vendor's client drops item 0 of every page; remotely-save stops at >= 749 children). Children are
    // in code-unit order; the marker is the base64url of the last name served, so a page boundary survives
    // concurrent changes.
    let names = await ctx.store.list(t.segments);
    if (t.marker !== undefined) {
      const after = Buffer.from(t.marker, 'base64url').toString('utf8');
      names = names.filter((n) => n > after);
    }
    const room = ctx.pageSize - 1;
    const page = names.slice(0, room);
    for (const n of page) {
      const child = [...t.segments, n];
      const e = await ctx.store.stat(child);
      if (e) entries.push(responseEntry(ctx, child, e, want));
    }
    if (names.length > room) {
      const mk = Buffer.from(page[page.length - 1]!, 'utf8').toString('base64url');
      headers['link'] = `<${ctx.origin}${hrefOf(t.segments)}?mk=${mk}>; rel="next"`;
    }
  }
  send(req, res, 207, headers, multistatusBody(entries));
}

async function handleGetHead(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  const e = await ctx.store.stat(t.segments);
  if (!e) return sendMissing(ctx, req, res, t.segments);
  // Statement 7: GET or HEAD on any folder (the root and sandboxes included), with or without `/` → 403. [G] no body.
  if (e.kind === 'dir') return sendEmpty(req, res, 403);
  const etag = etagText(ctx, e);
  const headers: Record<string, string | number> = {
    etag,
    'last-modified': new Date(e.mtimeMs).toUTCString(),
  };
  // Statement 10: If-None-Match equal to the ETag, as an exact string, → 304. No weak, `*` or list handling.
  if (header(req, 'if-none-match') === etag) return sendEmpty(req, res, 304, headers);
  Object.assign(headers, {
    'content-type': mimeOf(t.segments[t.segments.length - 1]!),
    'cache-control': 'max-age=5',
    pragma: 'public',
    'content-disposition': 'attachment',
  });
  let range: RangeResult = { kind: 'full' };
  const rh = header(req, 'range');
  const ifRange = header(req, 'if-range');
  // jianguoyun.md §4 Range row: an If-Range mismatch → full 200. [G] compared with the ETag as an exact string.
  if (rh !== undefined && (ifRange === undefined || ifRange === etag)) range = parseVendorRange(rh, e.size);
  // Statement 8: 416 with an empty body. [G] no Content-Range either (none is recorded).
  if (range.kind === 'unsatisfiable') return sendEmpty(req, res, 416);
  const [status, start, end] = range.kind === 'part' ? [206, range.start, range.end] : [200, 0, e.size - 1];
  if (range.kind === 'part') headers['content-range'] = `bytes ${start}-${end}/${e.size}`;
  headers['content-length'] = end - start + 1;
  res.writeHead(status, baseHeaders(headers));
  if (req.method === 'HEAD' || e.size === 0) {
    res.end();
    return;
  }
  await pipeline(ctx.store.read(t.segments, start, end), res).catch(() => res.destroy());
}

async function handlePut(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  // Statement 5: files cannot sit directly under /dav/ → 404 ObjectNotFound. [G] PUT /dav/ itself the same.
  if (t.segments.length <= 1) return sendError(req, res, 404, 'ObjectNotFound');
  // Statement 6: no Content-Length (chunked) → refused. [G] 411 Length Required, no body (exact code unknown).
  const cl = req.headers['content-length'];
  if (cl === undefined) return sendEmpty(req, res, 411);
  // Statement 6 / jianguoyun.md §3: above the cap → 413 from the front nginx (the 800 MB report), nginx's page.
  if (Number(cl) > ctx.maxFileBytes) return send(req, res, 413, { 'content-type': 'text/html' }, NGINX_413_BODY);
  const parent = await ctx.store.stat(t.segments.slice(0, -1));
  // Statement 6: parent missing → 409 AncestorsNotFound. [G] a parent that is a file gets the same.
  if (parent?.kind !== 'dir') return sendError(req, res, 409, 'AncestorsNotFound');
  const old = await ctx.store.stat(t.segments);
  // [G] PUT onto a folder → 405 ResourceExisted.
  if (old?.kind === 'dir') return sendError(req, res, 405, 'ResourceExisted');
  // Statement 10: If-Match compared as an exact string with the ETag; a mismatch → 412. [G] `*` is not special
  // (exact-string compare), and a missing file never matches.
  const ifMatch = header(req, 'if-match');
  if (ifMatch !== undefined && (!old || ifMatch !== etagText(ctx, old))) return sendEmpty(req, res, 412);
  let version: number;
  try {
    version = await ctx.store.write(t.segments, req);
  } catch {
    if (!res.headersSent) sendEmpty(req, res, 400);
    return;
  }
  // Statement 6: new → 201 + X-File-Version: 1; overwrite → 204 + the incremented version.
  sendEmpty(req, res, old ? 204 : 201, { 'x-file-version': version });
}

async function handleMkcol(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  await drain(req);
  if (t.segments.length === 0) return sendError(req, res, 405, 'ResourceExisted');
  const existing = await ctx.store.stat(t.segments);
  if (t.segments.length === 1) {
    // Statement 5: MKCOL /dav/<name> creates a sandbox → 201. jianguoyun.md §5: "It may also return 201 if the
    // sandbox already exists" — [G] chosen: 201 again for an existing sandbox.
    if (!existing) await ctx.store.mkdir(t.segments);
    return sendEmpty(req, res, 201);
  }
  // Statement 4: existing → 405 ResourceExisted; parent missing → 409 AncestorsNotFound; else 201.
  if (existing) return sendError(req, res, 405, 'ResourceExisted');
  const parent = await ctx.store.stat(t.segments.slice(0, -1));
  if (parent?.kind !== 'dir') return sendError(req, res, 409, 'AncestorsNotFound');
  await ctx.store.mkdir(t.segments);
  sendEmpty(req, res, 201);
}

async function handleDelete(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  await drain(req);
  // jianguoyun.md §4 DELETE row: "a sandbox root cannot be deleted". [G] 403 without body, the root too.
  if (t.segments.length <= 1) return sendEmpty(req, res, 403);
  const e = await ctx.store.stat(t.segments);
  if (!e) return sendMissing(ctx, req, res, t.segments);
  await ctx.store.remove(t.segments);
  sendEmpty(req, res, 204);
}

async function handleCopyMove(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target, isMove: boolean): Promise<void> {
  await drain(req);
  // jianguoyun.md §4 COPY row: Destination required. [G] 400 IllegalArgument.
  const destHeader = header(req, 'destination');
  if (destHeader === undefined || destHeader === '') return sendError(req, res, 400, 'IllegalArgument', 'Destination required');
  const dest = parseTarget(destHeader);
  if (!dest.ok) return sendError(req, res, 400, 'IllegalArgument');
  const to = dest.target.segments;
  const from = t.segments;
  // [G] The root can be neither copied nor moved; a sandbox root cannot be moved (it cannot be deleted either).
  if (from.length === 0 || (isMove && from.length === 1)) return sendEmpty(req, res, 403);
  const src = await ctx.store.stat(from);
  if (!src) return sendMissing(ctx, req, res, from);
  // Statement 9: an existing destination → 409 DuplicateName, whatever Overwrite says (it is never read).
  if (await ctx.store.stat(to)) return sendError(req, res, 409, 'DuplicateName', duplicateNameMessage(to));
  // [G] Into itself → 403.
  if (isBelowOrSame(to, from)) return sendEmpty(req, res, 403);
  const parent = await ctx.store.stat(to.slice(0, -1));
  if (parent?.kind !== 'dir') return sendError(req, res, 409, 'AncestorsNotFound');
  // [G] A file cannot land directly under /dav/ (statement 5's PUT rule) → 404; a folder there becomes a sandbox.
  if (to.length === 1 && src.kind === 'file') return sendError(req, res, 404, 'ObjectNotFound');
  if (isMove) {
    await ctx.store.move(from, to);
  } else {
    // jianguoyun.md §4 COPY row: Depth defaults to infinity. [G] Depth 0 copies a folder without its members;
    // any other value → 400.
    const depth = (header(req, 'depth') ?? 'infinity').trim().toLowerCase();
    if (depth !== '0' && depth !== 'infinity') return sendError(req, res, 400, 'IllegalArgument', 'Invalid depth');
    if (depth === '0' && src.kind === 'dir') await ctx.store.mkdir(to);
    else await ctx.store.copy(from, to);
  }
  // Statement 9: success → 201.
  sendEmpty(req, res, 201);
}

async function handleProppatch(ctx: SimContext, req: IncomingMessage, res: ServerResponse, t: Target): Promise<void> {
  await drain(req);
  const e = await ctx.store.stat(t.segments);
  if (!e) return sendMissing(ctx, req, res, t.segments);
  // jianguoyun.md §4 PROPPATCH row: a collection URI with a trailing `/` → 403. [G] the read-only root too.
  if (t.segments.length === 0 || (e.kind === 'dir' && t.trailingSlash)) return sendEmpty(req, res, 403);
  // Statement 12: 207 fake success with the Win32* props at 200; nothing is stored.
  send(req, res, 207, { 'content-type': XML_CONTENT_TYPE }, proppatchBody(hrefOf(t.segments)));
}

async function route(ctx: SimContext, req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
  const parsed = parseTarget(req.url ?? '/');
  if (!parsed.ok) {
    await drain(req);
    return sendError(req, res, parsed.status, parsed.exception);
  }
  const t = parsed.target;
  switch (method) {
    case 'OPTIONS':
      // Statement 12: 200, DAV: 2, the fixed Allow list (no HEAD, no PROPPATCH), MS-Author-Via: DAV.
      await drain(req);
      return sendEmpty(req, res, 200, { dav: '2', allow: ALLOW, 'ms-author-via': 'DAV' });
    case 'PROPFIND':
      return handlePropfind(ctx, req, res, t);
    case 'GET':
    case 'HEAD':
      return handleGetHead(ctx, req, res, t);
    case 'PUT':
      return handlePut(ctx, req, res, t);
    case 'MKCOL':
      return handleMkcol(ctx, req, res, t);
    case 'DELETE':
      return handleDelete(ctx, req, res, t);
    case 'COPY':
    case 'MOVE':
      return handleCopyMove(ctx, req, res, t, method === 'MOVE');
    case 'PROPPATCH':
      return handleProppatch(ctx, req, res, t);
    case 'LOCK': {
      // Statement 12 / jianguoyun.md §4 LOCK row: 200 with a fixed lockdiscovery, `Lock-Token:
      // opaquelocktoken:<uuid>` WITHOUT angle brackets; a missing file gets the same and nothing is created.
      await drain(req);
      const token = `opaquelocktoken:${randomUUID()}`;
      return send(req, res, 200, { 'content-type': XML_CONTENT_TYPE, 'lock-token': token }, lockBody(token));
    }
    case 'UNLOCK':
      // Statement 12: 204, the Lock-Token is ignored.
      await drain(req);
      return sendEmpty(req, res, 204);
    default:
      // [G] Methods outside the Allow list (and HEAD/PROPPATCH, handled above) → 405 with the Allow list.
      await drain(req);
      return sendEmpty(req, res, 405, { allow: ALLOW });
  }
}

/**
 * Starts one simulated 坚果云 account on loopback (issue 4 part 1; jianguoyun.md "Statements a local simulator
 * of one Jianguoyun account should reproduce", 1–14). The account serves `/dav/`, holds the sandboxes of
 * `opts.sandboxes`, and answers as jianguoyun.md §1–§6 describe; see this module's header for the order of checks.
 *
 * @param opts - knobs; all optional (memory store, free-plan budget, 750-entry pages, 500 MiB cap, random password)
 * @returns the running account: its URL (`http://127.0.0.1:P/dav/`), credentials, live counters and `stop()`
 * @throws SimOptionError for an invalid option, naming it
 */
export async function startJianguoyunSim(opts: JianguoyunSimOptions = {}): Promise<JianguoyunSim> {
  const r = resolveOptions(opts);
  const store: SimStore = opts.dataDir === undefined ? new MemoryStore(r.now) : new DirStore(opts.dataDir);
  if (store instanceof DirStore) await store.init();
  for (const sb of r.sandboxes) if (!(await store.stat([sb]))) await store.mkdir([sb]);

  const budget = new SlidingWindowBudget(r.budget, r.windowMs);
  const counters = new Counters(budget, r.now);
  let consecutiveAuthFailures = 0;
  const ctx: SimContext = { ...r, store, origin: '' };

  const authorized = (req: IncomingMessage): boolean => {
    if (r.lockAfterFailures > 0 && consecutiveAuthFailures >= r.lockAfterFailures) return false;
    // Statement 11: Basic only (Digest and others fail).
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers['authorization'] ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const ok = colon > 0 && sameSecret(decoded.slice(0, colon), r.username) && sameSecret(decoded.slice(colon + 1), r.password);
    consecutiveAuthFailures = ok ? 0 : consecutiveAuthFailures + 1;
    return ok;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    counters.requests++;
    counters.byMethod[method] = (counters.byMethod[method] ?? 0) + 1;
    counters.inFlight++;
    counters.maxInFlightSeen = Math.max(counters.maxInFlightSeen, counters.inFlight);
    res.once('close', () => counters.inFlight--);

    // Statement 1: every request counts, whatever its method and outcome, in a sliding window.
    const now = r.now();
    const overBudget = budget.exhausted(now);
    const overInFlight = counters.inFlight > r.maxInFlight;
    if ((!overBudget && !overInFlight) || r.countThrottled) budget.record(now);

    if (r.latency.max > 0) await sleep(r.latency.min + Math.random() * (r.latency.max - r.latency.min));

    if (overBudget || overInFlight) {
      if (overBudget) counters.throttledBudget++;
      else counters.throttledInFlight++;
      return sendBlocked(req, res);
    }
    // Statement 11: wrong or absent credentials → 401, `WWW-Authenticate: Basic realm="nutstore"`, no body.
    if (!authorized(req)) {
      counters.unauthorized++;
      return sendEmpty(req, res, 401, { 'www-authenticate': WWW_AUTHENTICATE });
    }
    await route(ctx, req, res, method);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendEmpty(req, res, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  ctx.origin = `http://${host}:${addr.port}`;

  let stopped: Promise<void> | undefined;
  return {
    url: `${ctx.origin}/dav/`,
    origin: ctx.origin,
    username: r.username,
    password: r.password,
    dataDir: opts.dataDir,
    counters,
    snapshot: () => counters.snapshot(),
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The command

/** Options of {@link runSimCommand}, as `davgate sim jianguoyun` passes them. */
export interface SimCommandOptions {
  /** `--data <dir>`: backing folder; default memory. */
  dataDir?: string;
  /** `--host <host>`; default 127.0.0.1. */
  host?: string;
  /** `--port <port>`; default 0. */
  port?: number;
  /** `--plan free|paid`. */
  plan?: 'free' | 'paid';
  /** `--budget <n>` requests per window. */
  budget?: number;
  /** `--window <seconds>` (as ms here). */
  windowMs?: number;
  /** `--max-in-flight <n>`. */
  maxInFlight?: number;
  /** `--latency <ms>` or `<min>-<max>`. */
  latencyMs?: LatencySpec;
  /** `--max-file-bytes <n>`. */
  maxFileBytes?: number;
  /** `--page-size <n>`. */
  pageSize?: number;
  /** `--username <email>`. */
  username?: string;
  /** `--password <pw>`; default random. */
  password?: string;
  /** Stop on SIGINT/SIGTERM (the CLI); default true. */
  handleSignals?: boolean;
}

/** Where {@link runSimCommand} prints. */
export interface SimCommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * Parses the raw string flags of `davgate sim jianguoyun` into {@link SimCommandOptions}; a bad value throws
 * {@link SimOptionError} naming the flag (STYLE: a bad value fails at boot, naming the key).
 */
export function simCommandOptionsFromFlags(flags: Readonly<Record<string, string | undefined>>): SimCommandOptions {
  const int = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new SimOptionError(`--${flag} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let latencyMs: LatencySpec | undefined;
  if (flags['latency'] !== undefined) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(flags['latency']);
    if (!m) throw new SimOptionError(`--latency must be <ms> or <min>-<max>, got ${JSON.stringify(flags['latency'])}`);
    latencyMs = m[2] === undefined ? Number(m[1]) : { min: Number(m[1]), max: Number(m[2]) };
  }
  const plan = flags['plan'];
  if (plan !== undefined && plan !== 'free' && plan !== 'paid') throw new SimOptionError(`--plan must be free or paid`);
  const windowS = int('window', flags['window']);
  const out: SimCommandOptions = {
    dataDir: flags['data'],
    host: flags['host'],
    port: int('port', flags['port']),
    plan,
    budget: int('budget', flags['budget']),
    windowMs: windowS === undefined ? undefined : windowS * 1000,
    maxInFlight: int('max-in-flight', flags['maxInFlight']),
    latencyMs,
    maxFileBytes: int('max-file-bytes', flags['maxFileBytes']),
    pageSize: int('page-size', flags['pageSize']),
    username: flags['username'],
    password: flags['password'],
  };
  return out;
}

/**
 * `davgate sim jianguoyun`: starts one simulated 坚果云 account (jianguoyun.md "Statements a local simulator …")
 * and prints its URL and credentials. The password is printed on purpose: it is a local test account.
 *
 * @returns the running simulator, or undefined after printing `error: …` to stderr for an invalid option
 */
export async function runSimCommand(opts: SimCommandOptions, io: SimCommandIO = process): Promise<JianguoyunSim | undefined> {
  const { handleSignals = true, ...simOpts } = opts;
  let sim: JianguoyunSim;
  try {
    sim = await startJianguoyunSim(simOpts);
  } catch (err) {
    if (err instanceof SimOptionError) {
      io.stderr.write(`error: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
  const r = resolveOptions(simOpts);
  const lat = r.latency.max === 0 ? 'none' : r.latency.min === r.latency.max ? `${r.latency.min} ms` : `${r.latency.min}-${r.latency.max} ms`;
  io.stdout.write(
    [
      `jianguoyun simulator: ${sim.url}`,
      `  username: ${sim.username}`,
      `  password: ${sim.password}`,
      `  sandboxes: ${r.sandboxes.map((s) => `${sim.url}${encodeSegment(s)}/`).join(' ')}`,
      `  budget: ${r.budget} requests per ${r.windowMs / 1000} s (sliding window)` +
        `, max in flight ${Number.isFinite(r.maxInFlight) ? r.maxInFlight : 'unlimited'}, latency ${lat}`,
      `  page size ${r.pageSize}, max file ${r.maxFileBytes} bytes, data ${sim.dataDir ?? 'in memory'}`,
      '',
    ].join('\n'),
  );
  if (handleSignals) {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      void sim.stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return sim;
}

/**
 * The action of `davgate sim <vendor>` (issue 4 part 1): checks the vendor, parses the flags with
 * {@link simCommandOptionsFromFlags} and runs {@link runSimCommand}.
 *
 * @param vendor - the vendor to simulate; only `jianguoyun` exists
 * @param flags - commander's option values (camelCase keys, string values)
 * @returns undefined while the simulator runs (the process must stay alive), or 2 (usage error) after printing
 *   `error: …` for an unknown vendor or a bad flag — the exit codes of `src/cli.ts`
 */
export async function simCliAction(
  vendor: string,
  flags: Readonly<Record<string, string | undefined>>,
  io: SimCommandIO = process,
): Promise<number | undefined> {
  if (vendor !== 'jianguoyun') {
    io.stderr.write(`error: unknown vendor ${JSON.stringify(vendor)}; the only simulator is "jianguoyun"\n`);
    return 2;
  }
  let opts: SimCommandOptions;
  try {
    opts = simCommandOptionsFromFlags(flags);
  } catch (err) {
    if (err instanceof SimOptionError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return (await runSimCommand(opts, io)) ? undefined : 2;
}
