/**
 * Load and measurement helpers: autocannon runs (WebDAV methods allowed), a small node:http client for
 * scripted scenarios, fixture requests, and the statistics the report uses (median, percentiles).
 */
import http from 'node:http';
import { createRequire } from 'node:module';

/** Bounds every scripted request (ms). */
const REQUEST_TIMEOUT_MS = 120_000;

/** `Basic …` header value. */
export function basic(username, password) {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** PROPFIND body asking for the five live properties a file browser shows. */
export const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/>' +
  '<D:getetag/><D:getcontenttype/></D:prop></D:propfind>';

/** Number of `response` elements in a multistatus body, minus the collection's own. */
export function countMembers(xml) {
  return Math.max(0, (xml.match(/<(?:[A-Za-z][\w.-]*:)?response[\s>]/g) ?? []).length - 1);
}

/**
 * autocannon 8 refuses methods outside RFC 7231 + PATCH (`lib/httpMethods.js`, one shared array). Adding the
 * WebDAV methods to it is enough; fails loudly if a later autocannon moves it.
 */
export function allowDavMethods() {
  const require = createRequire(import.meta.url);
  let methods;
  try {
    methods = require('autocannon/lib/httpMethods.js');
  } catch {
    methods = undefined;
  }
  if (!Array.isArray(methods)) throw new Error('autocannon/lib/httpMethods.js is gone or changed: PROPFIND cannot be benchmarked');
  for (const m of ['PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']) if (!methods.includes(m)) methods.push(m);
}

let autocannonP;
/** One autocannon run of `durationS` s at `connections`; `requests` cycled across connections by one counter. */
export async function cannon({ url, requests, durationS, connections }) {
  autocannonP ??= (allowDavMethods(), import('autocannon').then((m) => m.default));
  const autocannon = await autocannonP;
  let i = 0;
  // Each connection would otherwise start at requests[0]: 16 connections would write one file at once.
  const first = { ...requests[0], setupRequest: (req) => ({ ...req, ...requests[i++ % requests.length] }) };
  const r = await autocannon({ url, connections, pipelining: 1, duration: durationS, timeout: 30, requests: [first] });
  const statusCounts = {};
  for (const [code, n] of Object.entries(r.statusCodeStats ?? {})) statusCounts[code] = n.count;
  return {
    rps: round(r.requests.average, 1),
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: round(r.latency.average, 2),
    total: r.requests.total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    statusCounts,
  };
}

/** A keep-alive agent for scripted clients (`maxSockets` connections at most). */
export function agent(maxSockets = 256) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/**
 * One HTTP request with node:http. `body` is a Buffer, or `{ size }` for `size` bytes streamed in 1 MiB chunks
 * (with backpressure). The response body is counted, not kept, unless `keep` is set.
 * @returns `{ status, bytes, ms, text? }`; a socket error or the 120 s timeout resolves `{ status: 0, error }`
 */
export function request(url, { method = 'GET', headers = {}, body, keep = false, agent: a } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (v) => {
      if (!settled) {
        settled = true;
        resolve({ ...v, ms: performance.now() - started });
      }
    };
    const size = body === undefined ? undefined : Buffer.isBuffer(body) ? body.length : body.size;
    const req = http.request(url, {
      method,
      agent: a,
      headers: { ...headers, ...(size !== undefined ? { 'content-length': size } : {}) },
      timeout: REQUEST_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done({ status: 0, error: err.code ?? err.message, bytes: 0 }));
    req.on('response', (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () => done({ status: res.statusCode, bytes, text: keep ? Buffer.concat(chunks).toString() : undefined }));
      res.on('error', (err) => done({ status: 0, error: err.code ?? err.message, bytes }));
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else writeSized(req, body.size);
  });
}

const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
function writeSized(req, size) {
  let left = size;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
}

/** A fixture request that must succeed: throws unless the status is in `ok`. */
export async function dav(url, { method = 'GET', auth, headers = {}, body, ok = [200, 201, 204, 207], agent: a, keep } = {}) {
  const r = await request(url, { method, headers: { authorization: auth, ...headers }, body, agent: a, keep });
  if (!ok.includes(r.status)) throw new Error(`${method} ${url} answered ${r.status}${r.error ? ` (${r.error})` : ''}`);
  return r;
}

/** PROPFIND Depth 1 of `url`; returns the member count. */
export async function listCount(url, auth, a) {
  const r = await dav(url, {
    method: 'PROPFIND',
    auth,
    headers: { depth: '1', 'content-type': 'application/xml; charset=utf-8' },
    body: Buffer.from(PROPFIND_BODY),
    keep: true,
    agent: a,
  });
  return countMembers(r.text);
}

/** Runs `fn` over `items`, at most `limit` at once; returns results in order. */
export async function eachLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** `x` rounded to `digits` decimals; null for a missing or non-finite number. */
export function round(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Median of numbers (null if none). */
export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The `q` quantile (0..1, nearest rank) of numbers. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Arithmetic mean (null if none). */
export function mean(xs) {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** a / b rounded to 2 digits, or null. */
export function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 2) : null;
}

/** Median over rounds of each field of autocannon summaries. */
export function medianOf(runs) {
  const pick = (k) => median(runs.map((r) => r[k]));
  return {
    rps: round(pick('rps'), 1),
    p50: pick('p50'),
    p99: pick('p99'),
    mean: round(pick('mean'), 2),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    rounds: runs.map((r) => ({ rps: r.rps, p50: r.p50, p99: r.p99 })),
  };
}

/** A progress line on stderr (stdout carries the Markdown). */
export function log(msg) {
  console.error(`bench: ${msg}`);
}
