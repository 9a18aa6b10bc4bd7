/**
 * The undici Pool of one upstream, built so that a request that dies on a **reused** keep-alive connection can
 * be told apart from one that shows the upstream at fault (issue 8, "Healthy upstreams are marked down when idle
 * connections die").
 *
 * Why: NAT boxes and load balancers silently forget connections that sat idle, and servers close idle
 * keep-alive connections when they like (Apache mpm_event does when busy). The next request written on such a
 * connection is answered with a reset (`ECONNRESET`, `EPIPE`, or undici's `UND_ERR_SOCKET` "other side
 * closed") before any byte of an answer. RFC 9112 §9.3.1 lets a client send such a request again on a new
 * connection; it says nothing about the upstream's health.
 *
 * How reuse is detected (the simplest mechanism undici 7 allows through public API; its source,
 * `lib/dispatcher/client.js` and `client-h1.js`):
 * - the Pool builds its Clients through our `factory`, so each Client is a {@link TrackingClient};
 * - with pipelining 1 (undici's default) a Client owns one connection at a time and writes one request at a
 *   time on it. It emits `connect` once per new connection, before writing the first request on it;
 * - the request handler's `onConnect` is called synchronously right before the request is written on the
 *   Client's current connection, so counting `onConnect` calls since the last `connect` event tells whether the
 *   connection had carried a request before;
 * - `onResponseStarted` is called on the first byte of an answer (llhttp's message begin).
 * When the request fails (`onError`), these facts are remembered for the error object
 * ({@link connectionFactsOf}); the same object is what `pool.request()` rejects with.
 */
import type { Client as UndiciClient, Dispatcher } from 'undici';
import { Client, Pool } from './undici-pool.js';

/** What is known about the connection a failed request was written on. */
export interface ConnectionFacts {
  /** The request was written on a connection that had carried an earlier request (idle keep-alive reuse). */
  readonly reused: boolean;
  /** Some byte of the answer had arrived before the failure. */
  readonly responseStarted: boolean;
}

const factsByError = new WeakMap<object, ConnectionFacts>();

/**
 * The connection facts of an error thrown by a pool made with {@link createUpstreamPool}, or undefined (the
 * request never got a connection: refused, DNS, connect timeout; or the error came from elsewhere).
 */
export function connectionFactsOf(err: unknown): ConnectionFacts | undefined {
  return typeof err === 'object' && err !== null ? factsByError.get(err) : undefined;
}

/**
 * Keep-alive defaults (ms). undici keeps an idle connection for the server's `Keep-Alive: timeout=N` hint minus
 * `KEEP_ALIVE_THRESHOLD_MS`, capped at `KEEP_ALIVE_MAX_MS`; without a hint, `KEEP_ALIVE_DEFAULT_MS`
 * (`lib/dispatcher/client-h1.js`, `parseKeepAliveTimeout`). Apache sends `timeout=5` (so 3 s here); Node and
 * webdav-server send `timeout=5`; nginx sends none by default.
 */
export const KEEP_ALIVE = Object.freeze({
  /** Without a server hint: undici's own default, shorter than any server or NAT timeout seen in practice. */
  KEEP_ALIVE_DEFAULT_MS: 4_000,
  /**
   * Cap on a server's hint: below the common idle timeouts of the boxes in between (AWS ALB 60 s, many home
   * routers and carrier NATs about 60 s), so davgate normally drops an idle connection before they do.
   */
  KEEP_ALIVE_MAX_MS: 30_000,
  /** Margin subtracted from the server's hint: a round trip plus scheduling, so davgate lets go first. */
  KEEP_ALIVE_THRESHOLD_MS: 2_000,
});

/** Options of {@link createUpstreamPool}. */
export interface UpstreamPoolOptions {
  /** Connections in the pool. */
  readonly connections: number;
  /** Connect timeout (ms). */
  readonly connectTimeoutMs: number;
  /** Wait for response headers (ms). */
  readonly headersTimeoutMs: number;
  /** Longest idle gap between body chunks (ms). */
  readonly bodyTimeoutMs: number;
}

/**
 * Creates the Pool of one upstream origin: keep-alive per {@link KEEP_ALIVE}, and every error it rejects with
 * carries {@link ConnectionFacts} when a connection was used.
 *
 * @param origin - scheme, host and port of the upstream
 */
export function createUpstreamPool(origin: string, opts: UpstreamPoolOptions): Pool {
  return new Pool(origin, {
    connections: opts.connections,
    connect: { timeout: opts.connectTimeoutMs },
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE.KEEP_ALIVE_DEFAULT_MS,
    keepAliveMaxTimeout: KEEP_ALIVE.KEEP_ALIVE_MAX_MS,
    keepAliveTimeoutThreshold: KEEP_ALIVE.KEEP_ALIVE_THRESHOLD_MS,
    factory: (o: URL, clientOpts: object) => new TrackingClient(o, clientOpts as UndiciClient.Options),
  });
}

/** A Client that counts the requests written on its current connection (see the module comment). */
class TrackingClient extends Client {
  #written = 0;

  constructor(origin: URL, opts: UndiciClient.Options) {
    super(origin, opts);
    // Emitted for every new connection, before its first request is written (undici client.js `connect`).
    this.on('connect', () => {
      this.#written = 0;
    });
  }

  /**
   * The Pool hands its Clients handlers already converted to undici's older callback style (DispatcherBase
   * `dispatch` unwraps them), so {@link TrackingHandler} speaks that style.
   */
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return super.dispatch(opts, new TrackingHandler(handler, () => this.#written++ > 0));
  }
}

/** Forwards every callback to the Pool's handler, noting reuse and the first answer byte on the way. */
class TrackingHandler implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  readonly #written: () => boolean;
  #reused = false;
  #connected = false;
  #responseStarted = false;

  constructor(inner: Dispatcher.DispatchHandler, written: () => boolean) {
    this.#inner = inner;
    this.#written = written;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#connected = true;
    this.#reused = this.#written();
    this.#inner.onConnect?.(abort);
  }

  onResponseStarted(): void {
    this.#responseStarted = true;
    this.#inner.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.#responseStarted = true;
    return this.#inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.#inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.#inner.onComplete?.(trailers);
  }

  onError(err: Error): void {
    if (this.#connected && typeof err === 'object' && err !== null) {
      factsByError.set(err, { reused: this.#reused, responseStarted: this.#responseStarted });
    }
    this.#inner.onError?.(err);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: import('node:stream').Duplex): void {
    this.#inner.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#inner.onBodySent?.(chunkSize, totalBytesSent);
  }
}
