/**
 * Process ownership: logger, listen, graceful shutdown (after fastify/demo's `server.ts`). Tests call
 * {@link startServer} with port 0; the CLI adds signal handling.
 */
import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';
import { buildApp } from './app.js';
import { Gateway } from './gateway.js';
import { startProber } from './upstream/prober.js';
import { checkSandboxes } from './upstream/sandbox.js';
import { checkSpoolDir } from './proxy/spool-check.js';

/** A running gateway. */
export interface RunningServer {
  /** Base URL the gateway listens on, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** The gateway runtime (upstream state), for tests and the demo. */
  readonly gateway: Gateway;
  /** Stops accepting, lets in-flight requests finish within `shutdownGraceMs`, then closes upstream pools. */
  close(): Promise<void>;
}

/** Options for {@link startServer}. */
export interface StartOptions {
  /** Install SIGTERM/SIGINT handlers that call close() and exit (the CLI sets this; tests do not). */
  readonly handleSignals?: boolean;
  /** pino destination stream; defaults to stdout. */
  readonly logStream?: NodeJS.WritableStream;
}

/**
 * The process logger: JSON lines; `authorization` headers, passwords, password hashes and tokens are
 * redacted up to four levels deep (e.g. `config.upstreams[0].password`, `err.options.headers.authorization`).
 */
export function createLogger(config: Config, stream?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.log.level,
      base: { service: 'davgate' },
      redact: {
        // pino matches exact paths (one `*` per level), so secrets are listed at every depth davgate logs
        // objects at, in both spellings Node and undici use for header names.
        paths: [
          'authorization',
          'Authorization',
          'password',
          'token',
          'passwordHash',
          '*.authorization',
          '*.Authorization',
          '*.password',
          '*.token',
          '*.passwordHash',
          '*.*.authorization',
          '*.*.Authorization',
          '*.*.password',
          '*.*.token',
          '*.*.passwordHash',
          '*.*.*.authorization',
          '*.*.*.Authorization',
          '*.*.*.password',
          '*.*.*.*.password',
        ],
        censor: '[redacted]',
      },
    },
    (stream as pino.DestinationStream | undefined) ?? pino.destination(1),
  );
}

/**
 * Checks the PUT spool directory when an upstream needs it (see `proxy/spool-check.ts`) and each upstream's
 * base folder (see `upstream/sandbox.ts`), builds the app from a validated config and listens on
 * `config.listen` (port 0 picks a free port).
 * @throws ConfigError naming `limits.spoolDir` when an enabled upstream needs the spool and its directory is
 *   unusable; ConfigError when an upstream's base folder is missing (and not to be created), is a file, or the
 *   account refuses the credentials; an Error when the address cannot be bound
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = createLogger(config, opts.logStream);
  const gateway = new Gateway(config, log);
  // Nothing listens yet and the retry back-off timer is unref'd, so during the checks nothing else would keep
  // Node running: an unreachable account made `davgate serve` exit silently (status 13) mid-check.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    // The spool directory first: a local check that costs no request of any account's budget.
    await checkSpoolDir(config);
    await checkSandboxes(gateway, log);
  } catch (err) {
    log.error({ event: 'start_refused', err: (err as Error).message }, 'davgate cannot start');
    await gateway.close().catch(() => undefined);
    throw err;
  } finally {
    clearInterval(keepAlive);
  }
  const app = await buildApp(gateway, log);
  const prober = startProber(gateway);
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}/`;
  log.info(
    { event: 'listening', url, upstreams: gateway.enabled.map((u) => ({ id: u.id, url: u.base.href })) },
    `davgate listening on ${url}`,
  );
  log.info(
    { event: 'locks', store: 'memory', ...config.locks },
    'WebDAV locks are held in memory: locks taken before this start are gone, and clients must lock again',
  );

  let closing: Promise<void> | undefined;
  // server.close() closes idle keep-alive sockets only once, when called; a request that finishes during the
  // drain would leave its socket idle (and the drain waiting) for the whole keep-alive timeout.
  app.server.on('request', (_req, res) =>
    res.once('finish', () => {
      if (closing) setImmediate(() => app.server.closeIdleConnections());
    }),
  );
  const close = () =>
    (closing ??= (async () => {
      prober.stop();
      log.info({ event: 'shutdown', graceMs: config.shutdownGraceMs }, 'shutting down: draining in-flight requests');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), config.shutdownGraceMs)));
      const result = await Promise.race([app.close().then(() => 'closed' as const), grace]);
      clearTimeout(timer);
      if (result === 'timeout') {
        log.warn({ event: 'shutdown_forced' }, 'grace period over: closing remaining connections');
        app.server.closeAllConnections();
      }
      if (gateway.locks.size > 0) {
        log.warn({ event: 'locks_released', count: gateway.locks.size }, 'shutdown releases the held WebDAV locks');
      }
      await gateway.close().catch(() => undefined);
      log.info({ event: 'stopped' }, 'davgate stopped');
      log.flush?.();
    })());

  if (opts.handleSignals) {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ event: 'signal', signal: sig }, `received ${sig}`);
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { url, gateway, close };
}
