/**
 * `davgate demo`: three in-process WebDAV upstreams plus the gateway. (Stub: being written by a helper.)
 */

/** Options for {@link runDemo}. */
export interface DemoOptions {
  /** Folder for upstream data; a temporary folder when unset. */
  readonly dataDir?: string | undefined;
  /** Gateway host (default 127.0.0.1) and port (default 8080). */
  readonly host?: string;
  readonly port?: number;
}

/** Starts the demo and resolves once it is listening; runs until SIGINT/SIGTERM. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  void opts;
  throw new Error('not implemented yet');
}
