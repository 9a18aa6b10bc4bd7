/**
 * Process ownership: logger, listen, graceful shutdown. (Stub: being written by the core developer.)
 */
import type { Config } from './config/schema.js';

/** A running gateway. */
export interface RunningServer {
  /** Base URL the gateway listens on, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
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

/** Builds the app from a validated config and listens on `config.listen`. */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  void config;
  void opts;
  throw new Error('not implemented yet');
}
