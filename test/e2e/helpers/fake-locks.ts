/**
 * A WebDAV upstream whose locking is fake, like 坚果云 (docs: /work/shared/jianguoyun.md §4): a tiny Node HTTP
 * proxy in front of one Apache that forwards everything, except
 * - LOCK → 200 with a fixed lockdiscovery (write, exclusive, depth infinity, timeout Infinite) and
 *   `Lock-Token: opaquelocktoken:<fixed uuid>` WITHOUT angle brackets; it locks nothing, enforces nothing and
 *   creates nothing for an unmapped URL;
 * - UNLOCK → 204 whatever the Lock-Token;
 * and it strips any `If` header (the real service ignores lock state). It counts every request, and the
 * LOCK/UNLOCK requests and the requests carrying an `If` header or a lock token, so a test can assert that
 * davgate never sends them (issue 3: locks live in davgate).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The one token the fake hands out, to every LOCK. */
export const FAKE_LOCK_TOKEN = 'opaquelocktoken:3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';

const FAKE_LOCK_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<d:prop xmlns:d="DAV:"><d:lockdiscovery><d:activelock>' +
  '<d:locktype><d:write/></d:locktype><d:lockscope><d:exclusive/></d:lockscope>' +
  '<d:depth>infinity</d:depth><d:timeout>Infinite</d:timeout>' +
  `<d:locktoken><d:href>${FAKE_LOCK_TOKEN}</d:href></d:locktoken>` +
  '</d:activelock></d:lockdiscovery></d:prop>';

/** What a fake-lock proxy has received. */
export interface FakeLockCounts {
  /** Every request. */
  requests: number;
  lock: number;
  unlock: number;
  /** Requests with an `If` header. */
  ifHeader: number;
  /** Requests with a `Lock-Token` header or a lock token (`urn:uuid:`, `opaquelocktoken:`) in any header. */
  lockToken: number;
  /** `METHOD url` of the lock-related requests above (first 50), for failure messages. */
  samples: string[];
}

export interface FakeLockProxy {
  /** Upstream id (the Apache's). */
  readonly id: string;
  /** The proxy's WebDAV root, e.g. `http://127.0.0.1:PORT/dav/`: give this to davgate. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly counts: FakeLockCounts;
  /** Zeroes the counters. */
  reset(): void;
  /** Closes the listener and every open connection. Idempotent. */
  stop(): Promise<void>;
}

const TOKEN_RE = /urn:uuid:|opaquelocktoken:/i;

function zero(): FakeLockCounts {
  return { requests: 0, lock: 0, unlock: 0, ifHeader: 0, lockToken: 0, samples: [] };
}

/**
 * Starts one fake-lock proxy in front of `target` (an Apache instance), on 127.0.0.1 port 0.
 *
 * Host and Destination are rewritten to the target's origin (mod_dav refuses a Destination on another port
 * with 502), and Location back to the proxy's.
 */
export async function startFakeLockProxy(target: { id: string; url: string; username: string; password: string }): Promise<FakeLockProxy> {
  const up = new URL(target.url);
  const counts = zero();
  let self = '';
  const note = (req: IncomingMessage): void => {
    if (counts.samples.length < 50) counts.samples.push(`${req.method} ${req.url}`);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    counts.requests++;
    const method = req.method ?? 'GET';
    let lockish = false;
    if (method === 'LOCK') (counts.lock++, (lockish = true));
    if (method === 'UNLOCK') (counts.unlock++, (lockish = true));
    if (req.headers['if'] !== undefined) (counts.ifHeader++, (lockish = true));
    const tokenHeader =
      req.headers['lock-token'] !== undefined ||
      Object.entries(req.headers).some(([k, v]) => k !== 'authorization' && TOKEN_RE.test(String(v)));
    if (tokenHeader) (counts.lockToken++, (lockish = true));
    if (lockish) note(req);

    if (method === 'LOCK' || method === 'UNLOCK') {
      req.resume();
      req.once('end', () => {
        if (method === 'UNLOCK') {
          res.writeHead(204).end();
          return;
        }
        res.writeHead(200, {
          'content-type': 'text/xml; charset=UTF-8',
          'lock-token': FAKE_LOCK_TOKEN,
          'content-length': Buffer.byteLength(FAKE_LOCK_BODY),
        });
        res.end(FAKE_LOCK_BODY);
      });
      return;
    }

    const headers = { ...req.headers };
    delete headers['if'];
    headers.host = up.host;
    const dest = headers['destination'];
    if (typeof dest === 'string' && dest.startsWith(self)) headers['destination'] = up.origin + dest.slice(self.length);
    const out = httpRequest(
      { host: up.hostname, port: up.port, method, path: req.url, headers },
      (upRes) => {
        const back = { ...upRes.headers };
        const loc = back.location;
        if (typeof loc === 'string' && loc.startsWith(up.origin)) back.location = self + loc.slice(up.origin.length);
        res.writeHead(upRes.statusCode ?? 502, back);
        upRes.pipe(res);
      },
    );
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  self = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    id: target.id,
    url: `${self}${up.pathname}`,
    username: target.username,
    password: target.password,
    counts,
    reset() {
      Object.assign(counts, zero());
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
