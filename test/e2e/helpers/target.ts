/**
 * The WebDAV endpoint an e2e test talks to: davgate over N Apache upstreams (the default), or, with
 * `DG_E2E_DIRECT=1`, the first Apache instance itself. Direct mode exists to check the suite's own
 * machinery (Apache config, litmus, rclone, the large-file streamer) when the gateway is broken or absent;
 * gateway-only assertions (placement spread, RSS) are skipped in it.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApache, type ApacheCluster, type ApacheInstance } from './apache.js';
import { startGateway, type RunningGateway } from './gateway.js';

export const DIRECT = process.env['DG_E2E_DIRECT'] === '1';

export interface DavTarget {
  readonly kind: 'davgate' | 'direct';
  /** Base URL with trailing `/`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** `Authorization` header value for `url`. */
  readonly authorization: string;
  readonly upstreams: readonly ApacheInstance[];
  /** Present when kind is `davgate`. */
  readonly gateway: RunningGateway | undefined;
}

/** Anything with tap's `teardown`; keeps helpers independent of tap's generic Test type. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Starts Apache upstreams (and davgate unless DIRECT) and registers their shutdown on `t`. */
export async function startTarget(
  t: Teardown,
  opts: { upstreams: number; extraConfig?: object; maxConcurrent?: number },
): Promise<DavTarget> {
  const cluster: ApacheCluster = await startApache({ count: DIRECT ? 1 : opts.upstreams });
  let gateway: RunningGateway | undefined;
  // One teardown, so the order is explicit: the gateway first (it drains), then its upstreams.
  t.teardown(async () => {
    await gateway?.stop();
    await cluster.stop();
  });
  if (DIRECT) {
    const a = cluster.instances[0] as ApacheInstance;
    return {
      kind: 'direct',
      url: a.url,
      username: a.username,
      password: a.password,
      authorization: basic(a.username, a.password),
      upstreams: cluster.instances,
      gateway: undefined,
    };
  }
  gateway = await startGateway({
    upstreams: cluster.instances,
    ...(opts.extraConfig ? { extraConfig: opts.extraConfig } : {}),
    ...(opts.maxConcurrent ? { maxConcurrent: opts.maxConcurrent } : {}),
  });
  return {
    kind: 'davgate',
    url: gateway.url,
    username: gateway.username,
    password: gateway.password,
    authorization: basic(gateway.username, gateway.password),
    upstreams: cluster.instances,
    gateway,
  };
}

/** Where the suite writes machine-readable results: `$DG_E2E_RESULTS` or `<tmpdir>/davgate-e2e-results`. */
export function resultsDir(): string {
  return process.env['DG_E2E_RESULTS'] ?? join(tmpdir(), 'davgate-e2e-results');
}
