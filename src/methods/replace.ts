/**
 * Replacing an existing file with a same-upstream COPY or MOVE on an account that never overwrites.
 *
 * RFC 4918 §9.8.4/§9.9.3: with `Overwrite: T` (or no header, §10.6) an existing destination is replaced.
 * A 坚果云 account ignores `Overwrite` and answers 409 `DuplicateName` whenever the destination exists
 * (jianguoyun.md, COPY/MOVE rows and statement 9). Deleting the destination first would satisfy the RFC but
 * lose the destination's bytes if the COPY/MOVE then fails, so davgate renames it aside (a same-folder MOVE,
 * which the vendor does as an atomic rename), runs the operation, and only then deletes the old file. On
 * failure the old file is renamed back.
 */
import { randomBytes } from 'node:crypto';
import { DavgateError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { baseName, parentKey } from '../path/canonical.js';
import type { Upstream, UpstreamResponse } from '../upstream/upstream.js';
import { traitsOf } from '../upstream/profile.js';

/** Prefix of the temporary names used while a destination is set aside. Listed in README "Limitations". */
export const ASIDE_PREFIX = '.davgate-replaced-';

/**
 * Whether a same-upstream COPY/MOVE onto an existing file must be emulated on this upstream. Pure.
 * @param profile - the upstream's profile
 * @returns true for `jianguoyun` (its COPY/MOVE ignore `Overwrite: T`, jianguoyun.md statement 9)
 */
export function needsSetAside(profile: string): boolean {
  return !traitsOf(profile).overwritesOnCopyMove;
}

/**
 * The key a destination is renamed to while it is set aside: a hidden sibling, so the rename stays in one
 * folder (atomic on the vendor). Pure apart from the random suffix.
 * @param key - canonical key of the existing destination, e.g. `/a/b.txt`
 * @returns e.g. `/a/.davgate-replaced-1f2e3d4c-b.txt`
 */
export function asideKey(key: string, random: () => string = () => randomBytes(4).toString('hex')): string {
  const parent = parentKey(key);
  return `${parent === '/' ? '' : parent}/${ASIDE_PREFIX}${random()}-${baseName(key)}`;
}

/**
 * Runs `operation` (a COPY or MOVE whose destination is `destKey` on `u`) with the existing file at
 * `destKey` renamed aside first, then deletes the old file if the operation succeeded (2xx) or renames it
 * back if not. The operation's response is returned unread, for the caller to relay.
 *
 * @param gw - the gateway (requests count against `u`'s budget like any other)
 * @param u - the upstream holding both the destination and the source
 * @param destKey - canonical key of the existing destination file
 * @param operation - sends the COPY/MOVE; called once
 * @param signal - the client request's abort signal
 * @param log - where a failed clean-up is reported (the old bytes then stay under the aside name)
 * @throws DavgateError 502 when the destination cannot be set aside (nothing has changed then); errors thrown
 *   by `operation` propagate after the old file has been put back
 */
export async function withDestinationAside(
  gw: Gateway,
  u: Upstream,
  destKey: string,
  operation: () => Promise<UpstreamResponse>,
  signal: AbortSignal,
  log: { warn(obj: object, msg: string): void },
): Promise<UpstreamResponse> {
  const aside = asideKey(destKey);
  const move = async (from: string, to: string, sig: AbortSignal | undefined): Promise<number> => {
    const r = await gw.send(u, { method: 'MOVE', key: from, headers: { destination: u.urlFor(to), overwrite: 'F' }, signal: sig });
    await r.body.dump();
    return r.status;
  };
  const setAside = await move(destKey, aside, signal);
  if (setAside !== 201 && setAside !== 204) {
    throw new DavgateError('DAVGATE_UPSTREAM_STATUS', 502, `could not replace the destination on ${u.id} (${setAside})`);
  }
  let res: UpstreamResponse;
  try {
    res = await operation();
  } catch (err) {
    await restore();
    throw err;
  }
  if (res.status >= 200 && res.status < 300) {
    // The operation is done; the clean-up must happen even if the client has gone meanwhile.
    const del = await gw.send(u, { method: 'DELETE', key: aside }).catch(() => undefined);
    await del?.body.dump();
    if (!del || (del.status >= 300 && del.status !== 404)) {
      log.warn({ upstream: u.id, status: del?.status }, 'the replaced destination could not be deleted; it stays under a .davgate-replaced- name');
    }
  } else {
    await restore();
  }
  return res;

  async function restore(): Promise<void> {
    // The client may have gone; the old file still has to come back, so this does not use its signal.
    const status = await move(aside, destKey, undefined).catch(() => 0);
    if (status !== 201 && status !== 204) {
      log.warn({ upstream: u.id, status }, 'the destination could not be put back after a failed COPY/MOVE; it stays under a .davgate-replaced- name');
    }
  }
}
