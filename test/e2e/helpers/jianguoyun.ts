/**
 * davgate (the real `davgate serve` CLI) over N simulated 坚果云 accounts, for end-to-end runs of real clients
 * against the `jianguoyun` profile.
 *
 * The accounts are `startJianguoyunSim` instances in THIS test process (src/sim/jianguoyun.ts, imported from
 * the sources through tap's loader): the test can read their counters, and they stop with the test. Each account
 * is used through its default sandbox `我的坚果云` (jianguoyun.md §5: files cannot live directly under `/dav/`).
 * The gateway is a child process started by `startGateway`, so the config goes through the YAML loader exactly
 * as an operator's would.
 */
import { startJianguoyunSim, DEFAULT_SANDBOX, type JianguoyunSim, type JianguoyunSimOptions } from '../../../src/sim/jianguoyun.js';
import { startGateway, type RunningGateway } from './gateway.js';
import type { Teardown } from './target.js';

/** The gateway and its simulated accounts. */
export interface JianguoyunTarget {
  /** Base URL of the gateway with trailing `/`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** `Authorization` header value for `url`. */
  readonly authorization: string;
  readonly gateway: RunningGateway;
  /** The simulated accounts, in upstream order (ids `j0`, `j1`, …). */
  readonly sims: readonly JianguoyunSim[];
}

/**
 * Starts `accounts` simulated 坚果云 accounts and davgate over them, every upstream with `profile: jianguoyun`,
 * and registers one teardown on `t` that stops the gateway (SIGTERM by PID, it drains) and then the accounts.
 *
 * @param opts.accounts - how many accounts (upstream ids `j0…`)
 * @param opts.sim - options for every account (e.g. `{ budget: 100000 }` so a long client run never throttles)
 * @param opts.upstream - extra keys for every upstream entry of the config (e.g. `budget`, `plan`, `coolingMs`)
 * @param opts.extraConfig - deep-merged over the whole generated config (see `startGateway`)
 * @throws whatever `startJianguoyunSim` or `startGateway` throws; accounts already started are stopped
 */
export async function startJianguoyunTarget(
  t: Teardown,
  opts: { accounts: number; sim?: JianguoyunSimOptions; upstream?: Record<string, unknown>; extraConfig?: Record<string, unknown> },
): Promise<JianguoyunTarget> {
  const sims: JianguoyunSim[] = [];
  let gateway: RunningGateway | undefined;
  // One teardown, so the order is explicit: the gateway first (it drains), then its accounts.
  t.teardown(async () => {
    await gateway?.stop();
    for (const s of sims) await s.stop();
  });
  for (let i = 0; i < opts.accounts; i++) sims.push(await startJianguoyunSim(opts.sim ?? {}));
  const upstreams = sims.map((s, i) => ({
    id: `j${i}`,
    url: `${s.url}${encodeURIComponent(DEFAULT_SANDBOX)}/`,
    username: s.username,
    password: s.password,
  }));
  // startGateway writes `{ id, url, username, password, maxConcurrent }` per upstream; the upstream array in
  // extraConfig replaces that array as a whole (arrays are not merged), so it repeats those keys.
  gateway = await startGateway({
    upstreams,
    extraConfig: {
      ...(opts.extraConfig ?? {}),
      upstreams: upstreams.map((u) => ({ ...u, maxConcurrent: 8, profile: 'jianguoyun', ...(opts.upstream ?? {}) })),
    },
  });
  return {
    url: gateway.url,
    username: gateway.username,
    password: gateway.password,
    authorization: `Basic ${Buffer.from(`${gateway.username}:${gateway.password}`).toString('base64')}`,
    gateway,
    sims,
  };
}
