/**
 * The start-up check of the PUT spool directory (`limits.spoolDir`, else the OS temp directory).
 *
 * Why: a PUT without `Content-Length` to an account that refuses chunked bodies (坚果云, jianguoyun.md §4 PUT
 * row, statement 6) is spooled to a temporary file first (`spool.ts`). A directory that is missing, not a
 * directory, read-only or not writable by davgate's user would only show up later, as 507 on every such PUT
 * (macOS Finder uploads this way). So davgate tries the directory once before it serves, the way a spooled PUT
 * uses it, and refuses to start with the key to fix.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorCode } from '../errors.js';
import { traitsOf } from '../upstream/profile.js';
import { SPOOL_DIR_PREFIX } from './spool.js';

/**
 * The config keys (`upstreams[i]`) of the enabled upstreams whose profile refuses chunked PUTs, so that a
 * length-less PUT to them is spooled (`traitsOf(profile).acceptsChunkedPut === false`). Pure.
 * @param config - the validated configuration
 * @returns keys in config order; empty when no upstream needs the spool
 */
export function upstreamsNeedingSpool(config: Config): string[] {
  return config.upstreams.flatMap((u, i) => (u.enabled && !traitsOf(u.profile).acceptsChunkedPut ? [`upstreams[${i}]`] : []));
}

/**
 * Checks that the spool directory is usable when some enabled upstream needs it: creates a spool folder there
 * (`mkdtemp`, as `spoolBody` does), a file in it (mode 0600, `wx`), and removes both. Does nothing when no
 * enabled upstream needs spooling (then a bad `limits.spoolDir` harms nothing).
 *
 * @param config - the validated configuration (`limits.spoolDir`, `upstreams`)
 * @throws ConfigError naming `limits.spoolDir` when the folder or file cannot be created (the message gives the
 *   directory and the error code, e.g. ENOENT, ENOTDIR, EACCES, EROFS, ENOSPC)
 */
export async function checkSpoolDir(config: Config): Promise<void> {
  const needing = upstreamsNeedingSpool(config);
  if (needing.length === 0) return;
  const parent = config.limits.spoolDir ?? tmpdir();
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(parent, SPOOL_DIR_PREFIX));
    const fh = await open(join(dir, 'check'), 'wx', 0o600);
    await fh.close();
  } catch (err) {
    const where = config.limits.spoolDir !== undefined ? parent : `${parent} (the OS temp directory; limits.spoolDir is unset)`;
    throw new ConfigError([
      {
        key: 'limits.spoolDir',
        message:
          `cannot create a spool file in ${where} (${errorCode(err) ?? 'I/O error'}); PUTs without Content-Length to ` +
          `${needing.join(', ')} are stored there before they are sent and would all fail with 507: set limits.spoolDir ` +
          'to an existing directory davgate can write to',
      },
    ]);
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
